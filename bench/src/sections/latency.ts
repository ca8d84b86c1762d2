import { rm } from 'node:fs/promises';
import type { UploadResult } from '../children/client.js';
import type { UploadTiming } from '../children/emulator.js';
import { scratchDir, sourceFile } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import {
  startClientProcess,
  startEmulatorProcess,
  startRelayProcess,
  startWorkerProcess,
  TOKEN,
} from '../lib/stack.js';
import { median, percentile, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import type { BenchContext } from './context.js';

export interface LatencySample {
  /** Client's last byte → emulator's first PATCH of the forward, ms. */
  latencyMs: number;
  /** Last byte → the relay answered the last PATCH (record complete, job queued). */
  answeredMs: number;
  /** Answer → the worker's create-video request reached the emulator. */
  toCreateMs: number | null;
  /** Create-video request → upload-parameters request (includes the API pacer's wait). */
  createToParamsMs: number | null;
  /** Upload-parameters request → first PATCH (TUS creation in between). */
  paramsToPatchMs: number | null;
}

export interface LatencyRun {
  rps: number;
  uploads: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  breakdownMedianMs: Omit<LatencySample, 'latencyMs'>;
  samples: LatencySample[];
}

export interface LatencyResult {
  bytes: number;
  runs: LatencyRun[];
}

/**
 * 5. From an upload's last byte (the client's final PATCH written out) to the first PATCH of its
 * forward arriving at the emulator, one upload at a time (so nothing queues behind another).
 * Timestamps from both processes share the system clock (performance.timeOrigin + now()).
 */
export async function latency(ctx: BenchContext): Promise<LatencyResult> {
  const { plan } = ctx;
  const bytes = plan.latency.bytes;
  const source = await sourceFile(bytes);
  const runs: LatencyRun[] = [];
  const client = await startClientProcess();
  try {
    runs.push(await run(ctx, client, source, plan.queue.rps, plan.latency.uploads));
    runs.push(await run(ctx, client, source, 4, plan.latency.defaultRpsUploads));
  } finally {
    await client.stop();
  }
  const [fast, slow] = runs as [LatencyRun, LatencyRun];
  ctx.figure({
    section: '5. Latency',
    what: `last byte in → first byte at the emulator, ${fast.uploads} uploads of ${formatSize(bytes)} one at a time, GCORE_API_RPS=${fast.rps}: p50 / p99`,
    relay: `${fast.p50Ms.toFixed(1)} ms / ${fast.p99Ms.toFixed(1)} ms`,
    anchor: null,
    ratio: null,
    target: 'p50 ≤ 50 ms',
    met: fast.p50Ms <= 50,
  });
  ctx.figure({
    section: '5. Latency',
    what: `the same at the default GCORE_API_RPS=4 (${slow.uploads} uploads): p50 / p99`,
    relay: `${slow.p50Ms.toFixed(1)} ms / ${slow.p99Ms.toFixed(1)} ms`,
    anchor: null,
    ratio: null,
    target: 'report (the API pacer spaces create-video and upload-params ≥ ¼ s apart)',
    met: null,
  });
  return { bytes, runs };
}

async function run(
  ctx: BenchContext,
  client: NodeProcess,
  source: string,
  rps: number,
  uploads: number,
): Promise<LatencyRun> {
  const redis = new BenchRedis();
  const dataDir = await scratchDir('latency-relay');
  const emulatorDir = await scratchDir('latency-emulator');
  const procs: NodeProcess[] = [];
  try {
    const emulator = await startEmulatorProcess(emulatorDir);
    procs.push(emulator.proc);
    const relay = await startRelayProcess({ dataDir, prefix: redis.prefix });
    procs.push(relay.proc);
    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { GCORE_API_RPS: String(rps) },
    });
    procs.push(worker);
    const samples: LatencySample[] = [];
    // Two warm-up uploads (first connections, JIT) are not counted.
    for (let i = -2; i < uploads; i++) {
      const name = `latency-${rps}-${i}`;
      const [upload] = await client.call<UploadResult[]>('upload', {
        endpoint: `${relay.url}/files/`,
        token: TOKEN,
        files: [{ path: source, filename: `${name}.mp4` }],
        chunkSize: ctx.plan.chunkBytes,
      });
      const [timing] = await emulator.proc.call<UploadTiming[]>('waitFor', {
        names: [name],
        field: 'firstPatchAt',
        timeoutMs: 60_000,
      });
      if (i < 0) continue;
      const u = upload!;
      const t = timing!;
      samples.push({
        latencyMs: round(t.firstPatchAt! - u.lastByteAt),
        answeredMs: round(u.doneAt - u.lastByteAt),
        toCreateMs: t.createRequestedAt === null ? null : round(t.createRequestedAt - u.doneAt),
        createToParamsMs:
          t.createRequestedAt === null || t.paramsRequestedAt === null
            ? null
            : round(t.paramsRequestedAt - t.createRequestedAt),
        paramsToPatchMs: t.paramsRequestedAt === null ? null : round(t.firstPatchAt! - t.paramsRequestedAt),
      });
    }
    const values = samples.map((s) => s.latencyMs);
    const part = (f: (s: LatencySample) => number | null) =>
      round(median(samples.map(f).filter((v): v is number => v !== null)), 1);
    const result: LatencyRun = {
      rps,
      uploads,
      p50Ms: round(percentile(values, 50), 1),
      p90Ms: round(percentile(values, 90), 1),
      p99Ms: round(percentile(values, 99), 1),
      maxMs: round(Math.max(...values), 1),
      breakdownMedianMs: {
        answeredMs: part((s) => s.answeredMs),
        toCreateMs: part((s) => s.toCreateMs),
        createToParamsMs: part((s) => s.createToParamsMs),
        paramsToPatchMs: part((s) => s.paramsToPatchMs),
      },
      samples,
    };
    ctx.log(
      `latency at ${rps} rps: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms; median parts ${JSON.stringify(result.breakdownMedianMs)}`,
    );
    return result;
  } finally {
    for (const proc of procs.reverse()) {
      if (proc.name === 'emulator') await proc.call('close').catch(() => {});
      await proc.stop();
    }
    await redis.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(emulatorDir, { recursive: true, force: true });
  }
}
