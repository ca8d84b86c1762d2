import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface RelayTokens {
  tokens: string[];
  /** Where the generated token lives, when RELAY_API_TOKENS was not set. */
  file: string | null;
  /** True when this call made a new token. */
  generated: boolean;
}

/**
 * RELAY_API_TOKENS when set; otherwise one token generated on first start and kept in
 * `DATA_DIR/relay-token` (mode 0600), so every later start accepts the same one.
 */
export async function resolveRelayTokens(
  configured: readonly string[],
  dataDir: string,
): Promise<RelayTokens> {
  if (configured.length > 0) return { tokens: [...configured], file: null, generated: false };
  const file = path.resolve(dataDir, 'relay-token');
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    if (existing) return { tokens: [existing], file, generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = `rt_${randomBytes(24).toString('base64url')}`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  return { tokens: [token], file, generated: true };
}
