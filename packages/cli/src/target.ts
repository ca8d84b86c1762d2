import fs from 'node:fs/promises';
import path from 'node:path';
import { type CliIo, UsageError } from './io.js';

export const DEFAULT_RELAY_URL = 'http://127.0.0.1:8080';

/** Which relay to talk to, and with what token. */
export interface RelayTarget {
  /** Base URL without a trailing slash. */
  url: string;
  token: string | null;
  /** Where the token came from, for error messages (never the token itself). */
  tokenSource: string | null;
}

/**
 * `--url` / `RELAY_URL` (default http://127.0.0.1:8080) and `--token` / `RELAY_TOKEN`; without a
 * token, the one `pnpm start` generated: `$DATA_DIR/relay-token`, then `./data/relay-token`.
 */
export async function resolveTarget(
  flags: { url?: string | undefined; token?: string | undefined },
  io: Pick<CliIo, 'env' | 'cwd' | 'root'>,
): Promise<RelayTarget> {
  const raw = flags.url ?? io.env.RELAY_URL ?? DEFAULT_RELAY_URL;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(
      `the relay URL "${raw}" is not a URL (set RELAY_URL or --url, e.g. ${DEFAULT_RELAY_URL})`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`the relay URL must be http(s), not "${parsed.protocol}"`);
  }
  const url = parsed.toString().replace(/\/+$/, '');

  if (flags.token) return { url, token: flags.token, tokenSource: '--token' };
  if (io.env.RELAY_TOKEN) return { url, token: io.env.RELAY_TOKEN, tokenSource: 'RELAY_TOKEN' };
  const root = io.root ?? io.cwd;
  const candidates = [
    ...(io.env.DATA_DIR ? [path.resolve(root, io.env.DATA_DIR, 'relay-token')] : []),
    path.resolve(root, 'data', 'relay-token'),
  ];
  for (const file of candidates) {
    const token = await fs.readFile(file, 'utf8').then(
      (text) => text.trim(),
      () => '',
    );
    if (token) return { url, token, tokenSource: path.relative(root, file) || file };
  }
  return { url, token: null, tokenSource: null };
}
