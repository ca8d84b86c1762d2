import net from 'node:net';
import path from 'node:path';
import {
  createQueues,
  createRedis,
  type JobRecord,
  JobRepository,
  keyPrefixFor,
  type RedisClient,
  type RedisTarget,
} from '@gtr/core';
import { deleteKeys, testPrefix } from '@gtr/core/testing';
import type { Emulator } from '@gtr/gcore-emulator';
import { type AppProcess, runApp } from './processes.js';

/** A free TCP port on loopback (the relay must come back on the same one after a restart). */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  emulator: Emulator;
  dataDir: string;
  /** One Redis server (REDIS_URL); or `topology` for Sentinel or Cluster. */
  redisUrl?: string;
  /** Another Redis topology: the variables that name it, and the same for the test's own connection. */
  topology?: { env: Record<string, string>; target: RedisTarget };
  /** Default: a fresh test prefix (REDIS_PREFIX; `prefix` on the handle is the key prefix in use). */
  prefix?: string;
  token?: string;
  /** Extra environment for the relay process. */
  relayEnv?: Record<string, string>;
  /** Extra environment for each worker process. */
  workerEnv?: Record<string, string>;
}

/**
 * The relay and a worker as separate processes (`pnpm start:relay`, `pnpm start:worker` from
 * `dist/`), sharing a data dir and a Redis prefix, forwarding to an in-process emulator. The relay
 * keeps its port across restarts so that clients can resume.
 */
export interface Cluster {
  url: string;
  token: string;
  /** The key prefix the processes use (REDIS_PREFIX, wrapped in a hash tag on a cluster). */
  prefix: string;
  /** The test's own view of the job records (a `worker`-role connection: waits through outages). */
  jobs: JobRepository;
  redis: RedisClient;
  relay: AppProcess;
  worker: AppProcess | null;
  restartRelay(signal: NodeJS.Signals): Promise<void>;
  startWorker(): Promise<AppProcess>;
  /** Stops the running worker with `signal` and starts a new one. */
  restartWorker(signal: NodeJS.Signals): Promise<void>;
  /** Every line both processes printed so far (all generations). */
  output(): string;
  close(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const configuredPrefix = options.prefix ?? testPrefix();
  const prefix = keyPrefixFor(configuredPrefix, options.topology?.target.kind === 'cluster');
  const token = options.token ?? `cluster-${configuredPrefix}`;
  const port = await freePort();
  const target: RedisTarget = options.topology?.target ?? { kind: 'single', url: options.redisUrl! };
  const common = {
    DATA_DIR: options.dataDir,
    ...(options.topology ? options.topology.env : { REDIS_URL: options.redisUrl! }),
    REDIS_PREFIX: configuredPrefix,
    LOG_LEVEL: 'info',
  };
  const relayEnv = {
    ...common,
    PORT: String(port),
    HOST: '127.0.0.1',
    RELAY_API_TOKENS: token,
    GCORE_API_URL: options.emulator.url,
    ...options.relayEnv,
  };
  const workerEnv = {
    ...common,
    GCORE_API_URL: options.emulator.url,
    GCORE_API_KEY: options.emulator.apiKey,
    // The emulator's upload server is plain http on loopback.
    GCORE_ALLOW_INSECURE_UPLOAD: 'true',
    WORKER_LOCK_DURATION: '3s',
    WORKER_METRICS_PORT: '0',
    ...options.workerEnv,
  };
  const finished: string[] = [];
  const startRelay = async () => {
    const relay = runApp('apps/relay/dist/main.js', relayEnv);
    await relay.waitForLine(/"msg":"relay listening"/, 30_000);
    return relay;
  };
  const redis = createRedis(target, { role: 'worker' });
  const cluster: Cluster = {
    url: `http://127.0.0.1:${port}`,
    token,
    prefix,
    jobs: new JobRepository(redis, prefix),
    redis,
    relay: await startRelay(),
    worker: null,
    async restartRelay(signal) {
      await cluster.relay.stop(signal);
      finished.push(cluster.relay.output());
      cluster.relay = await startRelay();
    },
    async startWorker() {
      const worker = runApp('apps/worker/dist/main.js', workerEnv);
      cluster.worker = worker;
      await worker.waitForLine(/"msg":"worker started"/, 30_000);
      return worker;
    },
    async restartWorker(signal) {
      if (cluster.worker) {
        await cluster.worker.stop(signal);
        finished.push(cluster.worker.output());
      }
      await cluster.startWorker();
    },
    output: () => [...finished, cluster.relay.output(), cluster.worker?.output() ?? ''].join('\n'),
    async close() {
      await Promise.all([stopSoon(cluster.relay), cluster.worker && stopSoon(cluster.worker)]);
      await deleteKeys(redis, prefix).catch(() => {});
      await redis.quit().catch(() => {});
    },
  };
  return cluster;
}

/** SIGTERM, and SIGKILL if the process is still there after 15 s: a test must not hang on it. */
async function stopSoon(app: AppProcess): Promise<void> {
  const timer = setTimeout(() => void app.stop('SIGKILL'), 15_000);
  await app.stop('SIGTERM');
  clearTimeout(timer);
}

/** Every job of a list of ids, as the test's Redis connection sees them. */
/** Where each job's forward stands in BullMQ (for a failing run's report): state and failure. */
export async function forwardsOf(cluster: Cluster, ids: readonly string[]): Promise<Record<string, string>> {
  const queues = createQueues(cluster.redis, { prefix: cluster.prefix, forwardAttempts: 1 });
  try {
    const out: Record<string, string> = {};
    for (const id of ids) {
      const job = await queues.forward.getJob(id);
      out[id] = job ? `${await job.getState()}${job.failedReason ? `: ${job.failedReason}` : ''}` : 'none';
    }
    return out;
  } finally {
    await queues.close();
  }
}

export async function jobsOf(cluster: Cluster, ids: readonly string[]): Promise<JobRecord[]> {
  const jobs = await Promise.all(ids.map((id) => cluster.jobs.get(id)));
  return jobs.map((job, i) => {
    if (!job) throw new Error(`no job ${ids[i]}`);
    return job;
  });
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const uploadDirOf = (dataDir: string): string => path.join(dataDir, 'uploads');
