// The relay and its workers on the Redis topologies other than one server: a Redis Cluster (every
// key under one hash tag) and Sentinel (a primary that fails over in the middle of the run).

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  ApiPacer,
  BatchRepository,
  createLogger,
  createQueues,
  createRedis,
  duplicateRedis,
  type JobRecord,
  JobRepository,
  type PublicJob,
  primariesOf,
  RepeatedErrorLog,
  StatsCounters,
} from '@gtr/core';
import {
  type RedisClusterHandle,
  type RedisSentinelHandle,
  startRedisCluster,
  startRedisSentinel,
  testPrefix,
  waitFor,
  writeVideoFile,
} from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { tusUpload, UploadQuota } from '@gtr/relay/testing';
import { createWorker } from '@gtr/worker';
import { type Cluster as RelayProcesses, startCluster } from './support/cluster.js';
import { type Origin, sendFile, startOrigin } from './support/origin.js';

const MB = 1_000_000;

async function api<T>(
  relay: { url: string; token: string },
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${relay.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${relay.token}`, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as { ready: boolean; checks: Record<string, string> },
  };
};

/** Waits until every job is final; returns them. */
async function finalJobs(
  relay: RelayProcesses,
  ids: readonly string[],
  timeoutMs = 45_000,
): Promise<JobRecord[]> {
  return waitFor(
    async () => {
      const jobs = await Promise.all(ids.map((id) => relay.jobs.get(id)));
      return jobs.every((job) => job && ['ready', 'failed', 'canceled'].includes(job.state))
        ? (jobs as JobRecord[])
        : undefined;
    },
    { timeoutMs, intervalMs: 200, what: 'every job to finish' },
  );
}

/** Every job ready, each with exactly one video at the emulator holding its file's bytes. */
function expectOneVideoEach(emulator: Emulator, jobs: JobRecord[], sha256ById: Map<string, string>): void {
  expect(jobs.map((job) => [job.id, job.state, job.error])).toEqual(
    jobs.map((job) => [job.id, 'ready', null]),
  );
  const videos = emulator.videos();
  for (const job of jobs) {
    const mine = videos.filter((video) => video.name === job.name);
    expect(mine.map((video) => [video.id, video.status, video.sha256])).toEqual([
      [job.progress.video_id, 'ready', sha256ById.get(job.id)],
    ]);
  }
}

describe('on a Redis Cluster of 3 masters', () => {
  let tmp: string;
  let redisCluster: RedisClusterHandle;
  let emulator: Emulator;
  let origin: Origin;
  let relay: RelayProcesses;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'topology-cluster-'));
    redisCluster = await startRedisCluster(3);
    emulator = await startEmulator({ faults: { processingStepMs: 50 } });
    origin = await startOrigin(async (req, res, p) => {
      await sendFile(req, res, path.join(tmp, 'origin', p));
    });
    await fs.mkdir(path.join(tmp, 'origin'));
    relay = await startCluster({
      emulator,
      dataDir: path.join(tmp, 'data'),
      topology: {
        env: { REDIS_CLUSTER_NODES: redisCluster.env },
        target: { kind: 'cluster', nodes: redisCluster.nodes },
      },
      relayEnv: { IMPORT_ALLOW_PRIVATE: 'true' },
      workerEnv: { IMPORT_ALLOW_PRIVATE: 'true' },
    });
    await relay.startWorker();
  });
  afterAll(async () => {
    await relay?.close();
    await origin?.close();
    await emulator?.close();
    await redisCluster?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('takes uploads and imports to ready, lists them, sums them up, and says it is ready', async () => {
    expect(relay.prefix).toMatch(/^\{test-[0-9a-f-]+\}$/);
    expect(await readyz(relay.url)).toEqual({
      status: 200,
      body: { ready: true, checks: { redis: 'ok', upload_dir: 'ok' } },
    });

    const sha256ById = new Map<string, string>();
    const uploads = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const file = path.join(tmp, `clip-${n}.mp4`);
        const { sha256 } = await writeVideoFile(file, 2 * MB, n);
        const url = await tusUpload({
          endpoint: `${relay.url}/files/`,
          token: relay.token,
          file,
          metadata: { filename: `clip-${n}.mp4`, name: `cluster upload ${n}` },
        });
        const id = url.split('/').pop()!;
        sha256ById.set(id, sha256);
        return id;
      }),
    );
    const imports: string[] = [];
    for (const n of [1, 2]) {
      const { sha256 } = await writeVideoFile(path.join(tmp, 'origin', `pulled-${n}.mp4`), MB, 10 + n);
      const res = await api<PublicJob>(relay, 'POST', '/api/imports', {
        origin_url: `${origin.url}/pulled-${n}.mp4`,
        name: `cluster import ${n}`,
      });
      expect(res.status).toBe(202);
      sha256ById.set(res.body.id, sha256);
      imports.push(res.body.id);
    }
    // The same import again is the same job (the claim scripts ran on the cluster).
    const again = await api<PublicJob>(relay, 'POST', '/api/imports', {
      origin_url: `${origin.url}/pulled-1.mp4`,
    });
    expect([again.status, again.body.id]).toEqual([200, imports[0]]);

    const jobs = await finalJobs(relay, [...uploads, ...imports]);
    expectOneVideoEach(emulator, jobs, sha256ById);

    const listed = await api<{ items: PublicJob[]; next: string | null }>(relay, 'GET', '/api/jobs?limit=50');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((job) => job.id).sort()).toEqual([...uploads, ...imports].sort());
    const readyUploads = await api<{ items: PublicJob[] }>(relay, 'GET', '/api/jobs?state=ready&kind=upload');
    expect(readyUploads.body.items.map((job) => job.id).sort()).toEqual([...uploads].sort());
    const summary = await api<{ counts: Record<string, number>; total: number; queue: { depth: number } }>(
      relay,
      'GET',
      '/api/dashboard/summary',
    );
    expect(summary.status).toBe(200);
    expect([summary.body.counts.ready, summary.body.total]).toEqual([5, 5]);

    // Every key of the relay and of BullMQ is on one master: one hash tag, one slot.
    const counts = await Promise.all(
      primariesOf(relay.redis).map(async (node) => {
        const [, keys] = await node.scan('0', 'MATCH', `${relay.prefix}:*`, 'COUNT', 10_000);
        return keys.length;
      }),
    );
    expect(counts.filter((n) => n > 0)).toHaveLength(1);
  });

  it('runs every job script on the cluster (create, update, transition, remove, pace, counters, quotas)', async () => {
    const jobs = new JobRepository(relay.redis, relay.prefix);
    const id = `scripts-${Date.now()}`;
    // Pub/sub on a cluster: what the scripts PUBLISH reaches a subscriber on any node.
    const subscriber = duplicateRedis(relay.redis);
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(jobs.eventsChannel);
    await jobs.create({
      id,
      kind: 'upload',
      state: 'receiving',
      name: 'scripts',
      filename: 'scripts.mp4',
      size: 1,
      origin_url: null,
      request: {},
      progress: {},
    } as Parameters<JobRepository['create']>[0]);
    expect((await jobs.update(id, { bytes_received: 1 }))?.bytes_received).toBe(1);
    expect((await jobs.transition(id, 'queued', ['receiving']))?.record.state).toBe('queued');
    expect(await jobs.idsInState('queued')).toContain(id);
    expect(await jobs.remove(id)).toBe(true);
    expect([await jobs.get(id), await jobs.idsInState('queued')]).toEqual([null, []]);
    await waitFor(() => (heard.length >= 4 ? true : undefined), { what: 'four job events' });
    expect(heard).toEqual([id, id, id, id]);
    await subscriber.quit();
    // A batch's job: its counts, search words and video index move in the same scripts.
    const batches = new BatchRepository(relay.redis, relay.prefix);
    const batch = await batches.create({ name: 'cluster batch', owner: null });
    await jobs.create({
      id: `${id}-b`,
      kind: 'import',
      state: 'queued',
      name: 'Clustered migration',
      filename: null,
      size: 5,
      origin_url: 'https://media.example.com/clustered.mp4',
      request: {},
      progress: {},
      batch: batch.id,
    } as unknown as Parameters<JobRepository['create']>[0]);
    await jobs.indexVideo(424242, `${id}-b`);
    expect((await jobs.transition(`${id}-b`, 'failed', ['queued']))?.record.state).toBe('failed');
    expect((await batches.get(batch.id))?.counts).toMatchObject({ queued: 0, failed: 1 });
    expect((await jobs.list({ q: 'clust 4242', batch: batch.id })).items.map((j) => j.id)).toEqual([
      `${id}-b`,
    ]);
    expect(await jobs.remove(`${id}-b`)).toBe(true);
    expect((await batches.get(batch.id))?.total).toBe(0);
    await batches.forget(batch.id);
    const pacer = new ApiPacer(relay.redis, 1_000, `${relay.prefix}:gcore-pace-test`);
    await pacer.take();
    await pacer.pushBack(10);
    const stats = new StatsCounters(relay.redis, relay.prefix);
    await stats.recordRateLimited();
    expect((await stats.snapshot()).rateLimitedLastMinute).toBeGreaterThanOrEqual(1);
    // The upload quotas' scripts, on keys of their own under the same hash tag.
    const quota = new UploadQuota({
      redis: relay.redis,
      prefix: `${relay.prefix}:quota-test`,
      uploadDir: tmp,
      limits: { maxOpenUploads: 1, maxOpenBytes: 100, diskReserveBytes: 0 },
    });
    await quota.reserve({ id: `${id}-q`, owner: 'cluster-tool', size: undefined });
    await expect(quota.reserve({ id: `${id}-r`, owner: 'cluster-tool', size: 1 })).rejects.toMatchObject({
      code: 'UPLOAD_QUOTA_EXCEEDED',
    });
    await quota.declare(`${id}-q`, 'cluster-tool', 60);
    expect(await quota.open()).toEqual([{ owner: 'cluster-tool', uploads: 1, bytes: 60 }]);
    const onDisk = new Map([[`${id}-q`, { owner: 'cluster-tool', bytes: 60 }]]);
    expect(await quota.reconcile(onDisk)).toEqual({ adopted: 0, released: 0 });
    await quota.release(`${id}-q`);
    expect(await quota.open()).toEqual([]);
  });

  it('logs a Redis error that comes again and again (a prefix without a hash tag) a bounded number of times', async () => {
    let lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger({ level: 'info' }, sink);
    // What REDIS_PREFIX can no longer produce on a cluster: keys of one queue spread over slots.
    const prefix = testPrefix();
    const redis = createRedis({ kind: 'cluster', nodes: redisCluster.nodes }, { role: 'worker' });
    const errors = new RepeatedErrorLog(logger);
    const queues = createQueues(redis, {
      forwardAttempts: 2,
      prefix,
      onError: errors.handler('queue connection error'),
    });
    const worker = await createWorker({
      settings: {
        dataDir: path.join(tmp, 'misconfigured'),
        chunkSize: MB,
        concurrency: 1,
        completeOn: 'ready',
        keepFiles: false,
      },
      gcore: { apiUrl: emulator.url, apiKey: emulator.apiKey, requestsPerSecond: 10 },
      redis,
      queues,
      logger,
      prefix,
    });
    // BullMQ meets CROSSSLOT on every turn of its loop; wait for many of them.
    const seen = await waitFor(
      () => (lines.some((line) => line.includes('CROSSSLOT')) ? lines.length : undefined),
      {
        what: 'a CROSSSLOT error',
      },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const during = lines.length;
    await worker.close();
    await queues.close();
    errors.close();
    await redis.quit();
    const all = lines;
    lines = [];
    const repeated = all
      .map((line) => JSON.parse(line) as { msg: string; repeated?: number })
      .filter((entry) => entry.msg.startsWith('worker error') && entry.repeated !== undefined);
    // The first line of each kind at once, then one per interval: a handful, not thousands.
    expect(seen).toBeGreaterThan(0);
    expect(during).toBeLessThanOrEqual(20);
    // …and the repeats were counted, not lost.
    expect(repeated.reduce((sum, entry) => sum + entry.repeated!, 0)).toBeGreaterThan(10);
  });
});

describe('on Redis Sentinel (1 primary, 1 replica, 3 sentinels) when the primary fails over mid-run', () => {
  let tmp: string;
  let sentinel: RedisSentinelHandle;
  let emulator: Emulator;
  let relay: RelayProcesses;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'topology-sentinel-'));
    sentinel = await startRedisSentinel();
    // A capped link, so that forwards are in flight when the primary goes.
    emulator = await startEmulator({ faults: { bandwidthBytesPerSec: 4 * MB, processingStepMs: 50 } });
    relay = await startCluster({
      emulator,
      dataDir: path.join(tmp, 'data'),
      topology: {
        env: { REDIS_SENTINELS: sentinel.env, REDIS_SENTINEL_NAME: sentinel.name },
        target: { kind: 'sentinel', sentinels: sentinel.sentinels, name: sentinel.name },
      },
      workerEnv: { FORWARD_CHUNK_SIZE: String(MB) },
    });
    await relay.startWorker();
  });
  afterAll(async () => {
    await relay?.close();
    await emulator?.close();
    await sentinel?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('keeps taking uploads and forwarding them; every job is ready with one video', async () => {
    expect((await readyz(relay.url)).body.checks.redis).toBe('ok');
    const sha256ById = new Map<string, string>();
    const upload = async (n: number) => {
      const file = path.join(tmp, `clip-${n}.mp4`);
      const { sha256 } = await writeVideoFile(file, 3 * MB, n);
      const url = await tusUpload({
        endpoint: `${relay.url}/files/`,
        token: relay.token,
        file,
        chunkSize: MB,
        // Enough patience for the seconds without a primary.
        retryDelays: [200, 500, 1_000, 2_000, 3_000, 5_000],
        metadata: { filename: `clip-${n}.mp4`, name: `sentinel upload ${n}` },
      });
      const id = url.split('/').pop()!;
      sha256ById.set(id, sha256);
      return id;
    };
    const first = await Promise.all([1, 2, 3].map(upload));
    // Forwards are running (the link is slow): now the primary dies.
    await waitFor(async () => ((await relay.jobs.get(first[0]!))?.state === 'uploading' ? true : undefined), {
      what: 'a forward in flight',
      timeoutMs: 20_000,
    });
    const oldPrimary = await sentinel.primaryPort();
    const during = [4, 5].map(upload);
    const newPrimary = await sentinel.killPrimary();
    expect(newPrimary).not.toBe(oldPrimary);
    const later = await Promise.all([6, 7].map(upload));
    const ids = [...first, ...(await Promise.all(during)), ...later];

    const jobs = await finalJobs(relay, ids);
    expectOneVideoEach(emulator, jobs, sha256ById);
    expect(emulator.videos()).toHaveLength(ids.length);
    await waitFor(async () => ((await readyz(relay.url)).status === 200 ? true : undefined), {
      what: 'the relay to be ready on the new primary',
    });
  });
});
