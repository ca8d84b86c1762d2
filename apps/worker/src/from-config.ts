import type { Config, Logger, RedisClient, RelayQueues } from '@gtr/core';
import type { WorkerDeps } from './worker.js';

/** The worker as the environment configures it (shared by `pnpm start:worker` and `pnpm start`). */
export function workerDepsFromConfig(
  config: Config,
  deps: {
    redis: RedisClient;
    queues: RelayQueues;
    logger: Logger;
    /** `emulator`: the built-in Gcore emulator (`pnpm start` without a key), whose upload server is plain http. */
    gcore: { apiUrl: string; apiKey: string; emulator?: boolean };
  },
): WorkerDeps {
  return {
    settings: {
      dataDir: config.DATA_DIR,
      chunkSize: config.FORWARD_CHUNK_SIZE,
      concurrency: config.FORWARD_CONCURRENCY,
      completeOn: config.COMPLETE_ON,
      keepFiles: config.KEEP_FILES,
      callbackSecret: config.CALLBACK_SECRET,
      callbackLegacySignature: config.CALLBACK_LEGACY_SIGNATURE,
      callbackAllowPrivate: config.CALLBACK_ALLOW_PRIVATE,
      callbackAllowedHosts: config.CALLBACK_ALLOWED_HOSTS,
      importAllowPrivate: config.IMPORT_ALLOW_PRIVATE,
      maxUploadSize: config.MAX_UPLOAD_SIZE,
      allowInsecureUpload: config.GCORE_ALLOW_INSECURE_UPLOAD || deps.gcore.emulator === true,
      videoDefaults: config.GCORE_VIDEO_DEFAULTS,
      trackStallMs: config.PROCESSING_STALL_TIMEOUT,
    },
    gcore: { apiUrl: deps.gcore.apiUrl, apiKey: deps.gcore.apiKey, requestsPerSecond: config.GCORE_API_RPS },
    redis: deps.redis,
    queues: deps.queues,
    logger: deps.logger,
    prefix: config.REDIS_PREFIX,
    lock: {
      durationMs: config.WORKER_LOCK_DURATION,
      stalledIntervalMs: Math.max(1_000, Math.round(config.WORKER_LOCK_DURATION / 2)),
    },
  };
}
