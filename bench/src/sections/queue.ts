import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorStats } from '@gtr/gcore-emulator';
import { now } from '../lib/clock.js';
import { scratchDir, sourceFile } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import { startEmulatorProcess, startRelayProcess, startWorkerProcess, TOKEN } from '../lib/stack.js';
import { round } from '../lib/stats.js';
import { type BenchContext, mb, seconds } from './context.js';

export interface QueueResult {
  items: number;
  enqueue: {
    status: number;
    seconds: number;
    jobs: number;
    rejected: number;
    relayIdleRssBytes: number;
    relayPeakRssBytes: number;
    relayRssAfterBytes: number;
    relayCpuSeconds: number;
  };
  processing: {
    rps: number;
    emulatorLimit: number;
    windowSeconds: number;
    videosCreated: number;
    allCreatedSeconds: number | null;
    createdPerSecond: number;
    ready: number;
    readyPerSecond: number;
    apiRequests: number;
    apiRequestsPerSecond: number;
    peakApiRps: number;
    api429s: number;
    jobsByState: Record<string, number>;
  };
}

/** Reads `relay_jobs{state="…"} n` lines from the relay's /metrics. */
async function jobsByState(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^relay_jobs\{state="([a-z]+)"\} (\d+)/gm)) {
    out[match[1] as string] = Number(match[2]);
  }
  return out;
}

/**
 * 6. A batch import of N URLs (pre-flight off): how long the relay takes to answer and how much
 * memory it needs, then how fast one worker hands them to Gcore at GCORE_API_RPS against an
 * emulator that allows as many API requests per second, and how many 429s that draws.
 */
export async function queue(ctx: BenchContext): Promise<QueueResult> {
  const { plan } = ctx;
  const { items, windowSeconds, rps } = plan.queue;
  const redis = new BenchRedis();
  const dataDir = await scratchDir('queue-relay');
  const emulatorDir = await scratchDir('queue-emulator');
  const procs: NodeProcess[] = [];
  // The origin Gcore pulls from: any /v/<n>.mp4 answers a small video-like file.
  const body = await readFile(await sourceFile(64 * 1024));
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  try {
    const emulator = await startEmulatorProcess(emulatorDir, { apiRateLimit: rps });
    procs.push(emulator.proc);
    const relay = await startRelayProcess({
      dataDir,
      prefix: redis.prefix,
      env: { IMPORT_PREFLIGHT: 'false', IMPORT_ALLOW_PRIVATE: 'true' },
    });
    procs.push(relay.proc);

    const idle = relay.proc.sample();
    const payload = JSON.stringify({
      items: Array.from({ length: items }, (_, i) => ({ origin_url: `${originUrl}/v/${i}.mp4` })),
    });
    const started = now();
    const res = await fetch(`${relay.url}/api/imports/batch`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: payload,
    });
    const answer = (await res.json()) as { jobs?: unknown[]; rejected?: unknown[] };
    const enqueueSeconds = round((now() - started) / 1000);
    const after = relay.proc.sample();
    const enqueue = {
      status: res.status,
      seconds: enqueueSeconds,
      jobs: answer.jobs?.length ?? 0,
      rejected: answer.rejected?.length ?? 0,
      relayIdleRssBytes: idle.rssBytes,
      relayPeakRssBytes: after.peakRssBytes,
      relayRssAfterBytes: after.rssBytes,
      relayCpuSeconds: round(after.cpuSeconds - idle.cpuSeconds),
    };
    ctx.log(
      `queue: ${items} imports answered ${res.status} in ${seconds(enqueueSeconds)} (${enqueue.jobs} jobs, ${enqueue.rejected} rejected), relay peak ${mb(enqueue.relayPeakRssBytes)}`,
    );

    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { GCORE_API_RPS: String(rps) },
    });
    procs.push(worker);
    const before = await emulator.proc.call<EmulatorStats>('stats');
    const from = now();
    let stats = before;
    let states: Record<string, number> = {};
    let allCreatedAt: number | null = null;
    // Until every job is ready, or the window ends.
    for (;;) {
      await sleep(500);
      stats = await emulator.proc.call<EmulatorStats>('stats');
      states = await jobsByState(relay.url);
      if (allCreatedAt === null && stats.videosCreated - before.videosCreated >= items) allCreatedAt = now();
      if ((states.ready ?? 0) >= items || now() - from >= windowSeconds * 1000) break;
    }
    const elapsed = (now() - from) / 1000;
    const created = stats.videosCreated - before.videosCreated;
    const createdSeconds = allCreatedAt === null ? elapsed : (allCreatedAt - from) / 1000;
    const apiRequests = stats.apiRequests - before.apiRequests;
    const ready = states.ready ?? 0;
    const processing = {
      rps,
      emulatorLimit: rps,
      windowSeconds: round(elapsed, 1),
      videosCreated: created,
      allCreatedSeconds: allCreatedAt === null ? null : round(createdSeconds, 1),
      createdPerSecond: round(created / createdSeconds, 1),
      ready,
      readyPerSecond: round(ready / elapsed, 1),
      apiRequests,
      apiRequestsPerSecond: round(apiRequests / elapsed, 1),
      peakApiRps: stats.peakApiRps,
      api429s: stats.api429s - before.api429s,
      jobsByState: states,
    };
    ctx.log(`queue: ${JSON.stringify(processing)}`);

    ctx.figure({
      section: '6. Queue scale',
      what: `POST /api/imports/batch with ${items} URLs (pre-flight off): answer time; relay peak RSS`,
      relay: `${seconds(enqueueSeconds)} · peak ${mb(enqueue.relayPeakRssBytes)} (idle ${mb(enqueue.relayIdleRssBytes)})`,
      anchor: null,
      ratio: null,
      target: enqueue.status === 202 && enqueue.jobs === items ? 'report (202, all queued)' : 'report',
      met: null,
    });
    ctx.figure({
      section: '6. Queue scale',
      what: `processing at GCORE_API_RPS=${rps} against an emulator limit of ${rps} API req/s (one worker, ${Math.round(elapsed)} s): videos created/s, jobs ready/s, API req/s, 429s`,
      relay: `${processing.createdPerSecond} created/s (all ${items} in ${processing.allCreatedSeconds ?? '> window'} s) · ${processing.readyPerSecond} ready/s · ${processing.apiRequestsPerSecond} req/s (peak ${processing.peakApiRps}) · ${processing.api429s} × 429`,
      anchor: `limit ${rps} req/s`,
      ratio: round(processing.apiRequestsPerSecond / rps),
      target: 'report; no 429s',
      met: processing.api429s === 0,
    });
    return { items, enqueue, processing };
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
