// Test helpers, imported as `@gtr/relay/testing` (never from the `@gtr/relay` entry point).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, createQueues, createRedis, type Logger, type RelayQueues } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl } from '@gtr/core/testing';
import type { Redis } from 'ioredis';
import { createRelayApp, type Relay, type RelaySettings } from './app.js';
import { listen } from './server.js';

export { UploadQuota } from './ingest/quota.js';

export interface TestRelay {
  relay: Relay;
  url: string;
  token: string;
  dataDir: string;
  prefix: string;
  redis: Redis;
  queues: RelayQueues;
  /** Stops the HTTP server and maintenance; keeps data, Redis keys and the data dir. */
  stop(): Promise<void>;
  /** stop() and then removes everything the relay made. */
  close(): Promise<void>;
}

export interface TestRelayOptions extends Partial<RelaySettings> {
  redisUrl?: string;
  prefix?: string;
  logger?: Logger;
  reconcileIntervalMs?: number;
  retentionIntervalMs?: number;
  now?: () => number;
  /** Attempts per forward of the jobs this relay queues. Default 8. */
  forwardAttempts?: number;
}

/** A relay on 127.0.0.1 port 0 with its own data dir and Redis key prefix. */
export async function startTestRelay(options: TestRelayOptions = {}): Promise<TestRelay> {
  const first = options.tokens?.[0];
  const token = first === undefined ? 'test-token' : typeof first === 'string' ? first : first.token;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'relay-test-')));
  const prefix = options.prefix ?? testPrefix();
  const redis = createRedis(options.redisUrl ?? testRedisUrl(), { role: 'client' });
  const queues = createQueues(redis, { forwardAttempts: options.forwardAttempts ?? 8, prefix });
  const relay = createRelayApp({
    settings: {
      dataDir,
      tokens: options.tokens ?? [token],
      maxUploadSize: options.maxUploadSize ?? 0,
      uploadExpiryMs: options.uploadExpiryMs ?? 24 * 3_600_000,
      ...(options.finishedUploadRetentionMs
        ? { finishedUploadRetentionMs: options.finishedUploadRetentionMs }
        : {}),
      ...(options.upstream ? { upstream: options.upstream } : {}),
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      // Off unless a test asks: most tests make many refused requests from 127.0.0.1 on purpose.
      authFailuresPerMinute: options.authFailuresPerMinute ?? 0,
      ...(options.imports ? { imports: options.imports } : {}),
      ...(options.gcoreWebhooks ? { gcoreWebhooks: options.gcoreWebhooks } : {}),
      // The test stack's worker sends 1 MiB chunks; FORWARD_MODE=store runs the suites store-and-forward.
      forward: options.forward ?? {
        mode: process.env.FORWARD_MODE === 'store' ? 'store' : 'stream',
        chunkSize: 1024 * 1024,
      },
      ...(options.jobRetentionMs ? { jobRetentionMs: options.jobRetentionMs } : {}),
      ...(options.quota ? { quota: options.quota } : {}),
    },
    redis,
    queues,
    logger: options.logger ?? createLogger({ level: 'silent' }),
    prefix,
    ...(options.reconcileIntervalMs ? { reconcileIntervalMs: options.reconcileIntervalMs } : {}),
    ...(options.retentionIntervalMs ? { retentionIntervalMs: options.retentionIntervalMs } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const http = await listen(relay.app, 0, '127.0.0.1');
  await relay.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    relay.stop();
    await http.close(0);
  };
  return {
    relay,
    url: http.url,
    token,
    dataDir,
    prefix,
    redis,
    queues,
    stop,
    async close() {
      await stop();
      await Promise.all([
        queues.forward.obliterate({ force: true }),
        queues.import.obliterate({ force: true }),
        queues.track.obliterate({ force: true }),
        queues.notify.obliterate({ force: true }),
      ]).catch(() => {});
      await deleteKeys(redis, prefix).catch(() => {});
      await queues.close();
      await redis.quit().catch(() => {});
      if (!options.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TusUploadOptions {
  endpoint: string;
  token: string;
  file: string;
  metadata: Record<string, string>;
  chunkSize?: number;
  /** tus-js-client's `overridePatchMethod`: PATCH sent as POST with `X-HTTP-Method-Override`. */
  overridePatchMethod?: boolean;
  uploadUrl?: string;
  retryDelays?: number[];
  onProgress?: (sent: number, total: number) => void;
  onChunkComplete?: (chunk: number, accepted: number, total: number) => void;
  /** Called with the running upload so a test can abort it. */
  onStart?: (upload: import('tus-js-client').Upload) => void;
}

/** An ordinary tus-js-client upload of a file from disk; resolves with the upload URL. */
export async function tusUpload(options: TusUploadOptions): Promise<string> {
  const tus = await import('tus-js-client');
  const { createReadStream } = await import('node:fs');
  const { stat } = await import('node:fs/promises');
  const size = (await stat(options.file)).size;
  return new Promise<string>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(options.file), {
      endpoint: options.endpoint,
      ...(options.uploadUrl ? { uploadUrl: options.uploadUrl } : {}),
      uploadSize: size,
      chunkSize: options.chunkSize ?? 5 * 1024 * 1024,
      metadata: options.metadata,
      headers: { Authorization: `Bearer ${options.token}` },
      retryDelays: options.retryDelays ?? [0, 200, 500],
      storeFingerprintForResuming: false,
      ...(options.overridePatchMethod ? { overridePatchMethod: true } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onChunkComplete ? { onChunkComplete: options.onChunkComplete } : {}),
      onError: reject,
      onSuccess: () => resolve(upload.url!),
    });
    options.onStart?.(upload);
    upload.start();
  });
}
