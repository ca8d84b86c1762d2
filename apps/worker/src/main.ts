import http from 'node:http';
import { ConfigError, createLogger, createQueues, createRedis, loadConfig } from '@gtr/core';
import { createWorker } from './worker.js';

/** `pnpm start:worker`: the forwarding half alone (relays run elsewhere, sharing DATA_DIR and Redis). */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  if (!config.GCORE_API_KEY) {
    console.error('GCORE_API_KEY: required for a worker (pnpm start runs the built-in emulator without one)');
    process.exit(1);
  }
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
  const redis = createRedis(config.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    role: 'worker',
    connectionName: 'worker',
  });
  const queues = createQueues(redis, {
    forwardAttempts: config.FORWARD_ATTEMPTS,
    prefix: config.REDIS_PREFIX,
    onError: (error) => logger.warn({ err: error }, 'queue connection error'),
  });
  const worker = await createWorker({
    settings: {
      dataDir: config.DATA_DIR,
      chunkSize: config.FORWARD_CHUNK_SIZE,
      concurrency: config.FORWARD_CONCURRENCY,
      completeOn: config.COMPLETE_ON,
      keepFiles: config.KEEP_FILES,
      callbackSecret: config.CALLBACK_SECRET,
      importAllowPrivate: config.IMPORT_ALLOW_PRIVATE,
      maxUploadSize: config.MAX_UPLOAD_SIZE,
    },
    gcore: {
      apiUrl: config.GCORE_API_URL,
      apiKey: config.GCORE_API_KEY,
      requestsPerSecond: config.GCORE_API_RPS,
    },
    redis,
    queues,
    logger,
    prefix: config.REDIS_PREFIX,
    lock: {
      durationMs: config.WORKER_LOCK_DURATION,
      stalledIntervalMs: Math.max(1_000, Math.round(config.WORKER_LOCK_DURATION / 2)),
    },
  });

  let metricsServer: http.Server | null = null;
  if (config.WORKER_METRICS_PORT > 0) {
    metricsServer = http.createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('Content-Type', worker.metrics.registry.contentType);
        res.end(await worker.metrics.registry.metrics());
      } else if (req.url === '/healthz') {
        res.setHeader('Content-Type', 'application/json');
        res.end('{"ok":true}');
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    metricsServer.listen(config.WORKER_METRICS_PORT, config.HOST);
  }
  logger.info(
    { upstream: config.GCORE_API_URL, concurrency: config.FORWARD_CONCURRENCY, rps: config.GCORE_API_RPS },
    'worker started',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker stopping: transfers in flight go back to the queue');
    metricsServer?.close();
    await worker.close();
    await queues.close();
    await redis.quit().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
