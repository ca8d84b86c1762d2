import http from 'node:http';
import { startProcess } from '@gtr/core';
import { workerDepsFromConfig } from './from-config.js';
import { createWorker, type RelayWorker } from './worker.js';

/** `pnpm start:worker`: the forwarding half alone (relays run elsewhere, sharing DATA_DIR and Redis). */
startProcess(
  'worker',
  async ({ config, logger, connect }) => {
    const { redis, queues } = connect({ role: 'worker', connectionName: 'worker' });
    const worker = await createWorker(
      workerDepsFromConfig(config, {
        redis,
        queues,
        logger,
        gcore: { apiUrl: config.GCORE_API_URL, apiKey: config.GCORE_API_KEY ?? '' }, // set: `refuse` below
      }),
    );
    const metricsServer = config.WORKER_METRICS_PORT > 0 ? serveMetrics(worker) : null;
    metricsServer?.listen(config.WORKER_METRICS_PORT, config.HOST);
    logger.info(
      { upstream: config.GCORE_API_URL, concurrency: config.FORWARD_CONCURRENCY, rps: config.GCORE_API_RPS },
      'worker started',
    );

    return async (signal: string) => {
      logger.info({ signal }, 'worker stopping: transfers in flight go back to the queue');
      metricsServer?.close();
      await worker.close();
    };
  },
  {
    refuse: (config) =>
      config.GCORE_API_KEY
        ? null
        : 'GCORE_API_KEY: required for a worker (pnpm start runs the built-in emulator without one)',
  },
);

/** WORKER_METRICS_PORT: the worker's /metrics and /healthz, as the relay serves its own. */
function serveMetrics(worker: RelayWorker): http.Server {
  return http.createServer(async (req, res) => {
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
}
