import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchRepository,
  createRedis,
  emptyProgress,
  JOB_STATES,
  JobRepository,
  type JobState,
  type NewJob,
  type PublicBatch,
} from '@gtr/core';
import { startRedisServer } from '@gtr/core/testing';
import { now } from '../lib/clock.js';
import { scratchDir, sourceFile } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import { startEmulatorProcess, startRelayProcess, startWorkerProcess, TOKEN } from '../lib/stack.js';
import { percentile, round } from '../lib/stats.js';
import { type BenchContext, seconds } from './context.js';

export const MIGRATION_SECTION = '11. Migrations';

export interface MigrationResult {
  endToEnd: {
    items: number;
    processingSeconds: number;
    rps: number;
    acceptedSeconds: number;
    lastReadySeconds: number | null;
    ready: number;
    failed: number;
    calls: Record<string, number>;
    idsListed: number;
    api429s: number;
    exportRows: number;
    exportMismatches: number;
  };
  queries: {
    jobs: number;
    seedSeconds: number;
    cases: Array<{
      what: string;
      path: string;
      requests: number;
      p50Ms: number;
      p95Ms: number;
      items: number;
    }>;
  };
  memory: {
    jobs: number;
    bytesPerJob: number;
    projection1MBytes: number;
    /** MEMORY USAGE of one finished job's hash. */
    hashBytes: number;
  };
}

const api = (url: string, path: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...init.headers },
  });

/**
 * 9. A migration as an operator runs one: N imports in one batch request against an emulator
 * whose processing takes 10 s, at GCORE_API_RPS=4 (its limit too), timed from the request to the
 * last job `ready`, with Gcore API calls counted by kind; then searches and a batch's counts at
 * 100 000 jobs (p50/p95 over sequential requests to a relay process); then the Redis memory of a
 * finished job, measured on a Redis of its own.
 */
export async function migration(ctx: BenchContext): Promise<MigrationResult> {
  const endToEnd = await migrate(ctx);
  const queries = await queryAtScale(ctx);
  const memory = await memoryPerJob(ctx);
  return { endToEnd, queries, memory };
}

async function migrate(ctx: BenchContext): Promise<MigrationResult['endToEnd']> {
  const { processingSeconds, rps } = ctx.plan.migration;
  // BENCH_MIGRATION_ITEMS: a smaller migration, to look at the tracking quickly.
  const items = Number(process.env.BENCH_MIGRATION_ITEMS) || ctx.plan.migration.items;
  const redis = new BenchRedis();
  const dataDir = await scratchDir('migration-relay');
  const emulatorDir = await scratchDir('migration-emulator');
  const procs: NodeProcess[] = [];
  // The emulator inspects what it pulls: a small file that is a video.
  const body = await readFile(await sourceFile(16 * 1024));
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  try {
    // Two processing steps (pending → viewable → ready) of half the time each.
    const emulator = await startEmulatorProcess(emulatorDir, {
      apiRateLimit: rps,
      processingStepMs: (processingSeconds * 1000) / 2,
    });
    procs.push(emulator.proc);
    const relay = await startRelayProcess({
      dataDir,
      prefix: redis.prefix,
      env: { IMPORT_PREFLIGHT: 'false', IMPORT_ALLOW_PRIVATE: 'true' },
    });
    procs.push(relay.proc);
    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { GCORE_API_RPS: String(rps) },
    });
    procs.push(worker);

    const urls = Array.from({ length: items }, (_, i) => `${originUrl}/library/${i}.mp4`);
    const started = now();
    const res = await api(relay.url, '/api/imports/batch', {
      method: 'POST',
      body: JSON.stringify({
        name: `bench migration of ${items}`,
        items: urls.map((origin_url, i) => ({ origin_url, name: `Migrated video ${i}` })),
      }),
    });
    const answer = (await res.json()) as { batch?: PublicBatch };
    const acceptedSeconds = round((now() - started) / 1000, 2);
    if (!answer.batch) throw new Error(`the batch request answered ${res.status} without a batch`);
    const id = answer.batch.id;
    ctx.log(`migration: ${items} imports accepted in ${seconds(acceptedSeconds)} as batch ${id}`);

    let batch = answer.batch;
    let lastReady: number | null = null;
    const deadline = started + 30 * 60_000;
    let logged = 0;
    while (batch.finished_at === null && now() < deadline) {
      await sleep(500);
      batch = (await (await api(relay.url, `/api/batches/${id}`)).json()) as PublicBatch;
      if (now() - logged > 15_000) {
        logged = now();
        ctx.log(
          `migration: ${Math.round((now() - started) / 1000)} s: ${batch.counts.ready} ready, ${batch.counts.processing} processing, ${batch.counts.queued + batch.counts.creating} to create, ${batch.counts.failed} failed; ETA ${batch.eta_seconds ?? '?'} s`,
        );
      }
    }
    if (batch.counts.ready === items) lastReady = now();
    const lastReadySeconds = lastReady === null ? null : round((lastReady - started) / 1000, 1);
    const { calls, idsListed } = await emulator.proc.call<{
      calls: Record<string, number>;
      idsListed: number;
    }>('calls');
    const stats = await emulator.proc.call<{ api429s: number }>('stats');

    // The export maps every origin URL to the video the emulator holds for it.
    const byOrigin = await emulator.proc.call<Record<string, number>>('videosByOrigin');
    const csv = await (await api(relay.url, `/api/batches/${id}/export?format=csv`)).text();
    const rows = csv.split('\r\n').slice(1).filter(Boolean);
    let mismatches = 0;
    for (const row of rows) {
      const cells = row.split(',');
      if (byOrigin[cells[1]!] !== Number(cells[6])) mismatches++;
    }
    const creates = (calls['create (batch)'] ?? 0) + (calls['create (single)'] ?? 0);
    const lookups = (calls['status (list id=…)'] ?? 0) + (calls['status (single)'] ?? 0);
    const summary = Object.entries(calls)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
    ctx.log(`migration: done in ${lastReadySeconds ?? '—'} s; calls: ${summary}; ids listed ${idsListed}`);
    ctx.figure({
      section: MIGRATION_SECTION,
      what: `${items} imports in one batch, emulator processing ${processingSeconds} s, GCORE_API_RPS=${rps} (its limit too): batch request → last job ready`,
      relay: `${lastReadySeconds === null ? `not all ready (${batch.counts.ready}/${items})` : seconds(lastReadySeconds)} · accepted in ${seconds(acceptedSeconds)}`,
      anchor: `one status call per video at ${rps}/s: ${Math.round(items / rps / 60)} min of polling alone`,
      ratio: lastReadySeconds === null ? null : round(lastReadySeconds / (items / rps)),
      target: '≤ 180 s',
      met: lastReadySeconds !== null && lastReadySeconds <= 180,
    });
    ctx.figure({
      section: MIGRATION_SECTION,
      what: `Gcore API calls of that migration, by kind (${items} videos)`,
      relay: `${creates} creates, ${lookups} status lookups (${idsListed} ids in id=… lists), ${stats.api429s} × 429; ${summary}`,
      anchor: `${items} creates + ≥ ${items} status calls, one per video`,
      ratio: round((creates + lookups) / (2 * items)),
      target: 'report',
      met: null,
    });
    ctx.figure({
      section: MIGRATION_SECTION,
      what: 'its CSV export: rows, and rows whose video id is not the one the emulator holds for the origin URL',
      relay: `${rows.length} rows, ${mismatches} mismatches`,
      anchor: null,
      ratio: null,
      target: `${items} rows, 0 mismatches`,
      met: rows.length === items && mismatches === 0,
    });
    return {
      items,
      processingSeconds,
      rps,
      acceptedSeconds,
      lastReadySeconds,
      ready: batch.counts.ready,
      failed: batch.counts.failed,
      calls,
      idsListed,
      api429s: stats.api429s,
      exportRows: rows.length,
      exportMismatches: mismatches,
    };
  } finally {
    for (const proc of procs.reverse()) {
      if (proc.name === 'emulator') await proc.call('close').catch(() => {});
      await proc.stop();
    }
    const closed = new Promise<void>((resolve) => origin.close(() => resolve()));
    origin.closeAllConnections();
    await closed;
    await redis.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(emulatorDir, { recursive: true, force: true });
  }
}

/** A state for job i of a seeded library: mostly ready, some failed, the newest still on their way. */
function stateOf(i: number, total: number): JobState {
  if (i > total - 2_000) return i % 2 === 0 ? 'processing' : 'queued';
  if (i % 20 === 7) return 'failed';
  return 'ready';
}

function seededJob(i: number, total: number, batch: string | null, finished: boolean, tag = 'seed'): NewJob {
  const id = `${tag}${String(i).padStart(7, '0')}`;
  return {
    id,
    kind: 'import',
    state: finished ? 'ready' : stateOf(i, total),
    name: `Migrated video ${i}`,
    filename: `${i}.mp4`,
    size: 10_000_000 + i,
    origin_url: `https://cdn.example.com/library/${Math.floor(i / 1000)}/${i}.mp4`,
    request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
    progress: { ...emptyProgress(), video_id: 1_000_000 + i },
    owner: i % 3 === 0 ? 'cms' : 'archive',
    batch,
    batch_index: batch ? i : null,
    ...(finished ? { claim: `gtr:imports:url:${id.padStart(64, '0')}` } : {}),
  };
}

/** `finished`: every job `ready`, with its video, video index entry and import claim, as a migration leaves them. */
async function seed(
  jobs: JobRepository,
  count: number,
  batchOf: (i: number) => string | null,
  finished = false,
  redis?: ReturnType<typeof createRedis>,
  tag = 'seed',
): Promise<void> {
  const inFlight = 1_000;
  for (let start = 0; start < count; start += inFlight) {
    await Promise.all(
      Array.from({ length: Math.min(inFlight, count - start) }, async (_, k) => {
        const i = start + k;
        const job = seededJob(i, count, batchOf(i), finished, tag);
        if (job.claim) await redis?.set(job.claim, job.id);
        // Born as an import is (BIRTH_STATES), then moved where the seed wants it.
        await jobs.create({ ...job, state: 'queued' });
        if (job.state !== 'queued') await jobs.transition(job.id, job.state, JOB_STATES);
        if (finished) {
          await jobs.indexVideo(job.progress.video_id!, job.id);
          await jobs.update(job.id, {
            video: {
              id: job.progress.video_id!,
              status: 'ready',
              error: null,
              hls_url: `https://demo-public.gvideo.io/videos/1_${job.progress.video_id}/master.m3u8`,
              slug: `slug${job.progress.video_id}`,
            },
          });
        }
      }),
    );
  }
}

async function queryAtScale(ctx: BenchContext): Promise<MigrationResult['queries']> {
  const { searchJobs, requests } = ctx.plan.migration;
  const redis = new BenchRedis();
  const dataDir = await scratchDir('migration-queries');
  let relayProc: NodeProcess | null = null;
  try {
    const jobs = new JobRepository(redis.redis, redis.prefix);
    const batches = new BatchRepository(redis.redis, redis.prefix);
    const batch = await batches.create({ name: 'the big one', owner: 'cms' });
    const t0 = now();
    // The newest 10 000 are one batch.
    await seed(jobs, searchJobs, (i) => (i >= searchJobs - 10_000 ? batch.id : null));
    const seedSeconds = round((now() - t0) / 1000, 1);
    ctx.log(`migration: ${searchJobs} jobs seeded in ${seconds(seedSeconds)}`);
    const relay = await startRelayProcess({ dataDir, prefix: redis.prefix, env: {} });
    relayProc = relay.proc;
    const unique = Math.floor(searchJobs * 0.4321);
    const cases = [
      {
        what: 'search by a unique name',
        path: `/api/jobs?q=${encodeURIComponent(`Migrated video ${unique}`)}`,
      },
      { what: 'search by a word every job has (first page)', path: '/api/jobs?q=migrated' },
      { what: 'search by a prefix of 43 words (first page)', path: '/api/jobs?q=video%2043' },
      { what: 'search by a Gcore video id', path: `/api/jobs?q=${1_000_000 + unique}` },
      { what: 'search + state=failed + owner', path: '/api/jobs?q=library&state=failed&owner=cms' },
      { what: 'list state=ready (first page)', path: '/api/jobs?state=ready' },
      { what: 'list one batch, state=processing', path: `/api/jobs?batch=${batch.id}&state=processing` },
      { what: 'GET /api/batches/{id} (10 000 jobs)', path: `/api/batches/${batch.id}` },
    ];
    const out: MigrationResult['queries']['cases'] = [];
    for (const c of cases) {
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < requests + 10; i++) {
        const t = now();
        const res = await api(relay.url, c.path);
        const body = (await res.json()) as { items?: unknown[]; total?: number };
        if (i >= 10) times.push(now() - t); // the first ten warm the connection and the scripts
        count = body.items?.length ?? body.total ?? 0;
      }
      const p50 = round(percentile(times, 50), 1);
      const p95 = round(percentile(times, 95), 1);
      out.push({ what: c.what, path: c.path, requests, p50Ms: p50, p95Ms: p95, items: count });
      ctx.log(`migration: ${c.what}: p50 ${p50} ms, p95 ${p95} ms (${count} items/total)`);
      ctx.figure({
        section: MIGRATION_SECTION,
        what: `${c.what} at ${searchJobs.toLocaleString('en')} jobs: p95 of ${requests} sequential requests (${c.path.split('?')[0]!.replace(batch.id, '{id}')})`,
        relay: `p95 ${p95} ms · p50 ${p50} ms · ${count} ${c.path.startsWith('/api/batches') ? 'jobs counted' : 'items'}`,
        anchor: null,
        ratio: null,
        target: 'p95 ≤ 50 ms',
        met: p95 <= 50,
      });
    }
    return { jobs: searchJobs, seedSeconds, cases: out };
  } finally {
    await relayProc?.stop();
    await redis.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function memoryPerJob(ctx: BenchContext): Promise<MigrationResult['memory']> {
  const count = ctx.plan.migration.memoryJobs;
  const server = await startRedisServer();
  const redis = createRedis(server.url, { role: 'worker', connectionName: 'bench-memory' });
  try {
    const prefix = 'gtr';
    const jobs = new JobRepository(redis, prefix);
    const batches = new BatchRepository(redis, prefix);
    // A warm start: the shared keys (indexes, batch) exist before the baseline.
    const batch = await batches.create({ name: 'memory', owner: 'cms' });
    await seed(jobs, 10, () => batch.id, true, redis, 'warm');
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    const before = await usedMemory();
    // Finished jobs as a migration leaves them: half in a batch, with their import claim key, the
    // video index entry and the video (HLS URL, slug).
    await seed(jobs, count, (i) => (i % 2 === 0 ? batch.id : null), true, redis);
    const ids = await redis.keys(`${prefix}:job:seed*`);
    const after = await usedMemory();
    const finished = ids.length;
    if (finished !== count) throw new Error(`expected ${count} new jobs, found ${finished}`);
    const bytesPerJob = Math.round((after - before) / Math.max(finished, 1));
    const hashBytes = Number(await redis.memory('USAGE', ids[0]!));
    ctx.log(`migration: ${finished} finished jobs: ${bytesPerJob} bytes each (hash ${hashBytes})`);
    ctx.figure({
      section: MIGRATION_SECTION,
      what: `Redis memory per finished job (${finished.toLocaleString('en')} jobs: hash, indexes, search words, video index, import claim), and for 1 000 000 jobs`,
      relay: `${bytesPerJob} B/job (its hash ${hashBytes} B) · ${((bytesPerJob * 1e6) / 1e9).toFixed(2)} GB per 1 000 000`,
      anchor: null,
      ratio: null,
      target: 'report; bounded by JOB_RETENTION',
      met: null,
    });
    return { jobs: finished, bytesPerJob, projection1MBytes: bytesPerJob * 1_000_000, hashBytes };
  } finally {
    await redis.quit().catch(() => {});
    await server.stop();
    await rm(server.dir, { recursive: true, force: true });
  }
}
