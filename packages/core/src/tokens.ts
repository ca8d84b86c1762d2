import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type AccessConfig, accessList, type TokenEntry } from './access.js';
import { createPrivateFile, ensurePrivateDir, PRIVATE_FILE_MODE } from './uploads/files.js';

export interface RelayTokens {
  /** Every accepted token with its name and role. */
  entries: TokenEntry[];
  /** Where the generated token lives, when no token was configured. */
  file: string | null;
  /** True when this call made a new token. */
  generated: boolean;
}

/** The name the generated token goes by in jobs, logs and the dashboard. */
export const GENERATED_TOKEN_NAME = 'generated';

/**
 * The configured tokens by role (see accessList); with none configured at all, one token
 * generated on first start and kept in `DATA_DIR/relay-token` (mode 0600), so every later start
 * accepts the same one. It is an operator token: it uploads and sees the dashboard.
 */
export async function resolveRelayTokens(configured: AccessConfig, dataDir: string): Promise<RelayTokens> {
  const entries = accessList(configured);
  if (entries.length > 0) return { entries, file: null, generated: false };
  const file = path.resolve(dataDir, 'relay-token');
  const generatedEntry = (token: string): TokenEntry[] => [
    { name: GENERATED_TOKEN_NAME, token, role: 'operator' },
  ];
  try {
    const existing = (await fs.readFile(file, 'utf8')).trim();
    // A file an older version left readable by others is made private (if it is ours to change).
    await fs.chmod(file, PRIVATE_FILE_MODE).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPERM') throw error;
    });
    if (existing) return { entries: generatedEntry(existing), file, generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = `rt_${randomBytes(24).toString('base64url')}`;
  ensurePrivateDir(path.dirname(file));
  await createPrivateFile(file);
  await fs.writeFile(file, `${token}\n`);
  return { entries: generatedEntry(token), file, generated: true };
}

/** The access config as the environment gives it. */
export const accessFromConfig = (config: {
  RELAY_API_TOKENS: TokenEntry[];
  RELAY_OPERATOR_TOKENS: TokenEntry[];
  RELAY_ADMIN_TOKENS: TokenEntry[];
}): AccessConfig => ({
  tools: config.RELAY_API_TOKENS,
  operators: config.RELAY_OPERATOR_TOKENS,
  admins: config.RELAY_ADMIN_TOKENS,
});
