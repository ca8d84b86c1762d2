import type { Config, TokenEntry } from '@gtr/core';
import type { RelaySettings } from './app.js';

/** The relay's settings as the environment configures them (`pnpm start:relay` and `pnpm start`). */
export function relaySettingsFromConfig(
  config: Config,
  tokens: readonly TokenEntry[],
  upstream: { url: string; emulator: boolean },
): RelaySettings {
  return {
    dataDir: config.DATA_DIR,
    tokens,
    maxUploadSize: config.MAX_UPLOAD_SIZE,
    quota: {
      maxOpenUploads: config.TOOL_MAX_OPEN_UPLOADS,
      ...(config.TOOL_MAX_OPEN_BYTES !== undefined ? { maxOpenBytes: config.TOOL_MAX_OPEN_BYTES } : {}),
      ...(config.DISK_RESERVE_BYTES !== undefined ? { diskReserveBytes: config.DISK_RESERVE_BYTES } : {}),
    },
    uploadExpiryMs: config.UPLOAD_EXPIRY,
    finishedUploadRetentionMs: config.FINISHED_UPLOAD_RETENTION,
    jobRetentionMs: config.JOB_RETENTION,
    trustProxy: config.TRUST_PROXY,
    corsOrigins: config.CORS_ORIGINS,
    publicUrl: config.PUBLIC_URL,
    authFailuresPerMinute: config.AUTH_FAILURE_LIMIT,
    imports: { preflight: config.IMPORT_PREFLIGHT, allowPrivate: config.IMPORT_ALLOW_PRIVATE },
    upstream,
    uploadLocker: config.UPLOAD_LOCKER,
    forward: { mode: config.FORWARD_MODE, chunkSize: config.FORWARD_CHUNK_SIZE },
    // Not configuration: the bench's switch for its no-hashing baseline (bench/src/sections/ingest.ts).
    ...(process.env.GTR_BENCH_RECEIVE_HASH === 'off' ? { receiveHash: false } : {}),
    ...(config.GCORE_WEBHOOK_PATH_SECRET
      ? {
          gcoreWebhooks: {
            pathSecret: config.GCORE_WEBHOOK_PATH_SECRET,
            sources: config.GCORE_WEBHOOK_SOURCES,
            maxBody: config.WEBHOOK_MAX_BODY,
          },
        }
      : {}),
  };
}
