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

type ForwardMode = 'stream' | 'store';
const MODES = ['stream', 'store'] as const;

export interface LatencySample {
  /** FORWARD_MODE of the relay the upload went to. */
  mode: ForwardMode;
  /** Client's last byte → emulator's first PATCH of the forward, ms. */
  latencyMs: number;
  /** Client's last byte → the emulator has read the forward's last byte, ms. */
  lastByteMs: number;
  /** Last byte → the relay answered the last PATCH (record complete, job queued). */
  answeredMs: number;
  /**
   * Answer → the worker's create-video request reached the emulator (negative when the video was
   * created while the upload arrived: a stream relay queues a small upload's forward at once).
   */
  toCreateMs: number | null;
  /** Create-video request → upload-parameters request (includes the API pacer's wait). */
  createToParamsMs: number | null;
  /** Upload-parameters request → first PATCH (TUS creation in between). */
  paramsToPatchMs: number | null;
}

export interface LatencyStats {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LatencyModeRun {
  mode: ForwardMode;
  uploads: number;
  /** Last byte in → first byte at the emulator. */
  firstByte: LatencyStats;
  /** Last byte in → last byte at the emulator. */
  lastByte: LatencyStats;
  breakdownMedianMs: Omit<LatencySample, 'mode' | 'latencyMs' | 'lastByteMs'>;
}

export interface LatencyRun {
  rps: number;
  /** Per mode. */
  uploads: number;
  modes: Record<ForwardMode, LatencyModeRun>;
  samples: LatencySample[];
}

export interface LatencyResult {
  bytes: number;
  runs: LatencyRun[];
}

const pair = (s: LatencyStats) => `${s.p50Ms.toFixed(1)} ms / ${s.p99Ms.toFixed(1)} ms`;

/**
 * 5. From an upload's last byte (the client's final PATCH written out) to the first PATCH of its
 * forward arriving at the emulator, and to the emulator holding its last byte; one upload at a
 * time (so nothing queues behind another), alternately to a FORWARD_MODE=stream relay and a
 * FORWARD_MODE=store one (same Redis prefix, upload dir and worker). Timestamps from all processes
 * share the system clock (performance.timeOrigin + now()).
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
  const of = `${fast.uploads} uploads of ${formatSize(bytes)} per mode, one at a time`;
  ctx.figure({
    section: '5. Latency',
    what: `last byte in → first byte at the emulator, ${of}, GCORE_API_RPS=${fast.rps}, FORWARD_MODE=stream: p50 / p99`,
    relay: pair(fast.modes.stream.firstByte),
    anchor: null,
    ratio: null,
    target: 'p50 ≤ 50 ms',
    met: fast.modes.stream.firstByte.p50Ms <= 50,
  });
  ctx.figure({
    section: '5. Latency',
    what: `last byte in → last byte at the emulator, the same uploads: FORWARD_MODE=stream vs FORWARD_MODE=store (p50 / p99; ratio of the p50s)`,
    relay: pair(fast.modes.stream.lastByte),
    anchor: pair(fast.modes.store.lastByte),
    ratio: round(fast.modes.stream.lastByte.p50Ms / fast.modes.store.lastByte.p50Ms),
    target: 'stream p50 ≤ 50 ms',
    met: fast.modes.stream.lastByte.p50Ms <= 50,
  });
  ctx.figure({
    section: '5. Latency',
    what: `last byte in → first byte at the emulator, FORWARD_MODE=store (the forward is queued when the upload completes): p50 / p99`,
    relay: pair(fast.modes.store.firstByte),
    anchor: null,
    ratio: null,
    target: 'report',
    met: null,
  });
  ctx.figure({
    section: '5. Latency',
    what: `the same at the default GCORE_API_RPS=4 (${slow.uploads} uploads per mode): last byte in → last byte at the emulator, stream vs store (p50 / p99)`,
    relay: pair(slow.modes.stream.lastByte),
    anchor: pair(slow.modes.store.lastByte),
    ratio: round(slow.modes.stream.lastByte.p50Ms / slow.modes.store.lastByte.p50Ms),
    target:
      'report (the API pacer spaces create-video and upload-params ≥ ¼ s apart; a stream relay makes both calls while the upload arrives)',
    met: null,
  });
  return { bytes, runs };
}

function stats(values: number[]): LatencyStats {
  return {
    p50Ms: round(percentile(values, 50), 1),
    p90Ms: round(percentile(values, 90), 1),
    p99Ms: round(percentile(values, 99), 1),
    maxMs: round(Math.max(...values), 1),
  };
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
    const relays = {} as Record<ForwardMode, { proc: NodeProcess; url: string }>;
    for (const mode of MODES) {
      relays[mode] = await startRelayProcess({ dataDir, prefix: redis.prefix, env: { FORWARD_MODE: mode } });
      procs.push(relays[mode].proc);
    }
    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { GCORE_API_RPS: String(rps) },
    });
    procs.push(worker);
    const samples: LatencySample[] = [];
    // Two warm-up uploads per relay (first connections, JIT) are not counted.
    for (let i = -2; i < uploads; i++) {
      // Alternate who goes first, so a slow drift of the machine does not favour one mode.
      const order = i % 2 === 0 ? MODES : ([...MODES].reverse() as ForwardMode[]);
      for (const mode of order) {
        const name = `latency-${rps}-${mode}-${i}`;
        const [upload] = await client.call<UploadResult[]>('upload', {
          endpoint: `${relays[mode].url}/files/`,
          token: TOKEN,
          files: [{ path: source, filename: `${name}.mp4` }],
          chunkSize: ctx.plan.chunkBytes,
        });
        const [timing] = await emulator.proc.call<UploadTiming[]>('waitFor', {
          names: [name],
          field: 'lastByteAt',
          timeoutMs: 60_000,
        });
        if (i < 0) continue;
        const u = upload!;
        const t = timing!;
        samples.push({
          mode,
          latencyMs: round(t.firstPatchAt! - u.lastByteAt),
          lastByteMs: round(t.lastByteAt! - u.lastByteAt),
          answeredMs: round(u.doneAt - u.lastByteAt),
          toCreateMs: t.createRequestedAt === null ? null : round(t.createRequestedAt - u.doneAt),
          createToParamsMs:
            t.createRequestedAt === null || t.paramsRequestedAt === null
              ? null
              : round(t.paramsRequestedAt - t.createRequestedAt),
          paramsToPatchMs: t.paramsRequestedAt === null ? null : round(t.firstPatchAt! - t.paramsRequestedAt),
        });
      }
    }
    const modeRun = (mode: ForwardMode): LatencyModeRun => {
      const mine = samples.filter((s) => s.mode === mode);
      const part = (f: (s: LatencySample) => number | null) =>
        round(median(mine.map(f).filter((v): v is number => v !== null)), 1);
      return {
        mode,
        uploads: mine.length,
        firstByte: stats(mine.map((s) => s.latencyMs)),
        lastByte: stats(mine.map((s) => s.lastByteMs)),
        breakdownMedianMs: {
          answeredMs: part((s) => s.answeredMs),
          toCreateMs: part((s) => s.toCreateMs),
          createToParamsMs: part((s) => s.createToParamsMs),
          paramsToPatchMs: part((s) => s.paramsToPatchMs),
        },
      };
    };
    const result: LatencyRun = {
      rps,
      uploads,
      modes: { stream: modeRun('stream'), store: modeRun('store') },
      samples,
    };
    for (const mode of MODES) {
      const m = result.modes[mode];
      ctx.log(
        `latency at ${rps} rps, ${mode}: first byte p50 ${m.firstByte.p50Ms} ms, p99 ${m.firstByte.p99Ms} ms; last byte p50 ${m.lastByte.p50Ms} ms, p99 ${m.lastByte.p99Ms} ms; median parts ${JSON.stringify(m.breakdownMedianMs)}`,
      );
    }
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
