import http from 'node:http';
import {
  configSecrets,
  createLogger,
  createQueues,
  createRedis,
  type ProcessContext,
  RepeatedErrorLog,
  readConfigOrExit,
  redisTargetOf,
  runProcess,
  type StopProcess,
} from '@gtr/core';
import { workerDepsFromConfig } from './from-config.js';
import { createWorker } from './worker.js';

/** `pnpm start:worker`: the forwarding half alone (relays run elsewhere, sharing DATA_DIR and Redis). */
async function main({ useLogger }: ProcessContext): Promise<StopProcess> {
  const config = readConfigOrExit();
  if (!config.GCORE_API_KEY) {
    console.error('GCORE_API_KEY: required for a worker (pnpm start runs the built-in emulator without one)');
    process.exit(1);
  }
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker', secrets: configSecrets(config) });
  useLogger(logger);
  const redis = createRedis(redisTargetOf(config), {
    role: 'worker',
    connectionName: 'worker',
  });
  const errors = new RepeatedErrorLog(logger);
  const queues = createQueues(redis, {
    forwardAttempts: config.FORWARD_ATTEMPTS,
    prefix: config.REDIS_PREFIX,
    onError: errors.handler('queue connection error'),
  });
  const worker = await createWorker(
    workerDepsFromConfig(config, {
      redis,
      queues,
      logger,
      gcore: { apiUrl: config.GCORE_API_URL, apiKey: config.GCORE_API_KEY },
    }),
  );

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

  return async (signal: string) => {
    logger.info({ signal }, 'worker stopping: transfers in flight go back to the queue');
    metricsServer?.close();
    await worker.close();
    await queues.close();
    errors.close();
    await redis.quit().catch(() => {});
  };
}

runProcess('worker', main);
