import { rm } from 'node:fs/promises';
import type { UploadResult } from '../children/client.js';
import type { UploadTiming } from '../children/emulator.js';
import { now } from '../lib/clock.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import {
  EMULATOR_KEY,
  startClientProcess,
  startEmulatorProcess,
  startRelayProcess,
  startWorkerProcess,
  TOKEN,
} from '../lib/stack.js';
import { GiB, median, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, rate, seconds } from './context.js';
import type { IngestResult } from './ingest.js';

export interface ForwardRun {
  who: 'worker' | 'tus-js-client';
  seconds: number;
  cpuSeconds: number;
}

export interface EndToEndRun {
  /** FORWARD_MODE of the relay the upload went to. */
  mode: 'stream' | 'store';
  seconds: number;
  /** The relay answered the last PATCH → the emulator holds the last byte. */
  tailSeconds: number;
  /** Of which the client's upload to the relay (start to the last PATCH answered). */
  ingestSeconds: number;
  /** The relay's CPU during that upload, and the worker's over the whole run. */
  relayCpuSeconds: number;
  workerCpuSeconds: number;
}

export interface ForwardResult {
  bytes: number;
  chunkBytes: number;
  runs: ForwardRun[];
  workerSeconds: number;
  anchorSeconds: number;
  ratio: number;
  workerCpuPerGiB: number;
  anchorCpuPerGiB: number;
  endToEnd: {
    runs: EndToEndRun[];
    /** Median of the stream-mode runs. */
    seconds: number;
    /** Median of the store-mode runs (today's store-and-forward), side by side. */
    storeSeconds: number;
    ingestAloneSeconds: number | null;
    forwardAloneSeconds: number;
    ratio: number | null;
    /** Relay CPU per GiB received during the end-to-end runs (a relay that has been up a while). */
    relayCpuPerGiB: number;
  };
}

const WAIT_MS = 15 * 60_000;

/**
 * 2. The worker forwarding a file to the emulator versus a plain tus-js-client upload of it
 * (create video, upload parameters, TUS with the same chunk size) — both timed from "go" to the
 * emulator reading the last byte.
 * 3. End to end: the client's first byte to the emulator's last, with relay and worker running:
 * through a FORWARD_MODE=stream relay and a FORWARD_MODE=store one (same Redis, upload dir, worker).
 */
export async function forward(ctx: BenchContext): Promise<ForwardResult> {
  const { plan } = ctx;
  const bytes = plan.bigBytes;
  const source = await sourceFile(bytes);
  const redis = new BenchRedis();
  const dataDir = await scratchDir('forward-relay');
  const emulatorDir = await scratchDir('forward-emulator');
  const started: NodeProcess[] = [];
  try {
    const emulator = await startEmulatorProcess(emulatorDir);
    started.push(emulator.proc);
    const relayEnv = (mode: 'stream' | 'store') => ({
      FORWARD_MODE: mode,
      FORWARD_CHUNK_SIZE: String(plan.chunkBytes),
    });
    const relay = await startRelayProcess({ dataDir, prefix: redis.prefix, env: relayEnv('stream') });
    started.push(relay.proc);
    const storeRelay = await startRelayProcess({ dataDir, prefix: redis.prefix, env: relayEnv('store') });
    started.push(storeRelay.proc);
    await redis.pauseForwarding();
    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { FORWARD_CHUNK_SIZE: String(plan.chunkBytes), FORWARD_CONCURRENCY: '1' },
    });
    started.push(worker);
    const client = await startClientProcess();
    started.push(client);
    const endpoint = `${relay.url}/files/`;

    const lastByte = async (name: string): Promise<UploadTiming> => {
      const [timing] = await emulator.proc.call<UploadTiming[]>('waitFor', {
        names: [name],
        field: 'lastByteAt',
        timeoutMs: WAIT_MS,
      });
      return timing!;
    };
    // Let the emulator finish with the file (it hashes it) before the next measurement starts.
    const settle = async (name: string) => {
      await emulator.proc.call('waitFor', { names: [name], field: 'processed', timeoutMs: WAIT_MS });
      await emulator.proc.call('dropFiles');
      syncDisk();
    };

    const runWorker = async (i: number): Promise<ForwardRun> => {
      const name = `forward-worker-${i}`;
      // Not timed: puts a complete upload on the paused queue.
      await client.call<UploadResult[]>('upload', {
        endpoint,
        token: TOKEN,
        files: [{ path: source, filename: `${name}.mp4` }],
        chunkSize: plan.chunkBytes,
      });
      syncDisk();
      worker.resetPeak();
      const before = worker.sample();
      const go = now();
      await redis.resumeForwarding();
      const timing = await lastByte(name);
      const after = worker.sample();
      await redis.pauseForwarding();
      await settle(name);
      return {
        who: 'worker',
        seconds: round((timing.lastByteAt! - go) / 1000),
        cpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
      };
    };
    const runAnchor = async (i: number): Promise<ForwardRun> => {
      const name = `forward-anchor-${i}`;
      syncDisk();
      const before = client.sample();
      const go = now();
      const upload = client.call('gcoreUpload', {
        apiUrl: emulator.url,
        apiKey: EMULATOR_KEY,
        files: [{ path: source, filename: `${name}.mp4` }],
        chunkSize: plan.chunkBytes,
      });
      const timing = await lastByte(name);
      const after = client.sample();
      await upload;
      await settle(name);
      return {
        who: 'tus-js-client',
        seconds: round((timing.lastByteAt! - go) / 1000),
        cpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
      };
    };

    const runs: ForwardRun[] = [];
    for (let i = 0; i < plan.iterations.forward; i++) {
      const order = i % 2 === 0 ? [runWorker, runAnchor] : [runAnchor, runWorker];
      for (const run of order) {
        const result = await run(i);
        runs.push(result);
        ctx.log(
          `forward ${result.who} #${i + 1}: ${seconds(result.seconds)} (${rate(bytes, result.seconds)}), CPU ${result.cpuSeconds} s`,
        );
      }
    }

    // 3. End to end: the queue runs; the client's first byte to the emulator's last.
    await redis.resumeForwarding();
    const e2eRuns: EndToEndRun[] = [];
    for (let i = 0; i < plan.iterations.endToEnd * 2; i++) {
      const mode = i % 2 === 0 ? 'stream' : 'store';
      const target = mode === 'stream' ? relay : storeRelay;
      const name = `e2e-${i}`;
      syncDisk();
      const relayBefore = target.proc.sample();
      const workerBefore = worker.sample();
      const [upload] = await client.call<UploadResult[]>('upload', {
        endpoint: `${target.url}/files/`,
        token: TOKEN,
        files: [{ path: source, filename: `${name}.mp4` }],
        chunkSize: null,
      });
      const relayAfter = target.proc.sample();
      const timing = await lastByte(name);
      const workerAfter = worker.sample();
      const run: EndToEndRun = {
        mode,
        seconds: round((timing.lastByteAt! - upload!.startAt) / 1000),
        tailSeconds: round((timing.lastByteAt! - upload!.doneAt) / 1000),
        ingestSeconds: round((upload!.doneAt - upload!.startAt) / 1000),
        relayCpuSeconds: round(relayAfter.cpuSeconds - relayBefore.cpuSeconds),
        workerCpuSeconds: round(workerAfter.cpuSeconds - workerBefore.cpuSeconds),
      };
      e2eRuns.push(run);
      ctx.log(
        `end to end #${i + 1} (${mode}): ${seconds(run.seconds)}, last byte in → at Gcore ${seconds(run.tailSeconds)} (ingest part ${seconds(run.ingestSeconds)}, relay CPU ${run.relayCpuSeconds} s, worker CPU ${run.workerCpuSeconds} s)`,
      );
      await settle(name);
    }

    const gib = bytes / GiB;
    const of = (who: ForwardRun['who'], f: (r: ForwardRun) => number) =>
      median(runs.filter((r) => r.who === who).map(f));
    const workerSeconds = of('worker', (r) => r.seconds);
    const anchorSeconds = of('tus-js-client', (r) => r.seconds);
    const ratio = round(workerSeconds / anchorSeconds);
    ctx.figure({
      section: '2. Forward',
      what: `${formatSize(bytes)} to the emulator, ${formatSize(plan.chunkBytes)} PATCHes: worker (queue resume → last byte) vs a plain tus-js-client script (create, upload params, TUS)`,
      relay: `${seconds(workerSeconds)} · ${rate(bytes, workerSeconds)}`,
      anchor: `${seconds(anchorSeconds)} · ${rate(bytes, anchorSeconds)}`,
      ratio,
      target: '≤ 1.10× (within 10 %)',
      met: ratio <= 1.1,
    });

    const ingestResult = ctx.sections.ingest as IngestResult | undefined;
    const ingestAlone = ingestResult?.cases.onePatch.relaySeconds ?? null;
    const ofMode = (mode: EndToEndRun['mode'], f: (r: EndToEndRun) => number) =>
      median(e2eRuns.filter((r) => r.mode === mode).map(f));
    const e2eSeconds = ofMode('stream', (r) => r.seconds);
    const storeSeconds = ofMode('store', (r) => r.seconds);
    const larger = ingestAlone === null ? null : Math.max(ingestAlone, workerSeconds);
    const e2eRatio = larger === null ? null : round(e2eSeconds / larger);
    ctx.figure({
      section: '3. End to end',
      what: `${formatSize(bytes)}, one PATCH, FORWARD_MODE=stream: client's first byte → emulator holds the last, vs the larger of ingest alone and forward alone`,
      relay: `${seconds(e2eSeconds)} (of which the upload ${seconds(ofMode('stream', (r) => r.ingestSeconds))}; last byte in → at Gcore ${seconds(ofMode('stream', (r) => r.tailSeconds))})`,
      anchor:
        ingestAlone === null
          ? null
          : `${seconds(larger!)} (max of ${seconds(ingestAlone)}, ${seconds(workerSeconds)})`,
      ratio: e2eRatio,
      target: '≤ 1.15×',
      met: e2eRatio === null ? null : e2eRatio <= 1.15,
    });
    const storeRatio = ingestAlone === null ? null : round(storeSeconds / (ingestAlone + workerSeconds));
    ctx.figure({
      section: '3. End to end',
      what: `the same through a FORWARD_MODE=store relay (store-and-forward), vs ingest alone + forward alone`,
      relay: `${seconds(storeSeconds)} (last byte in → at Gcore ${seconds(ofMode('store', (r) => r.tailSeconds))})`,
      anchor:
        ingestAlone === null
          ? null
          : `${seconds(ingestAlone + workerSeconds)} (${seconds(ingestAlone)} + ${seconds(workerSeconds)})`,
      ratio: storeRatio,
      target: 'report (store-and-forward: ≈ 1.0×)',
      met: null,
    });

    return {
      bytes,
      chunkBytes: plan.chunkBytes,
      runs,
      workerSeconds,
      anchorSeconds,
      ratio,
      workerCpuPerGiB: round(of('worker', (r) => r.cpuSeconds) / gib),
      anchorCpuPerGiB: round(of('tus-js-client', (r) => r.cpuSeconds) / gib),
      endToEnd: {
        runs: e2eRuns,
        seconds: e2eSeconds,
        storeSeconds,
        ingestAloneSeconds: ingestAlone,
        forwardAloneSeconds: workerSeconds,
        ratio: e2eRatio,
        relayCpuPerGiB: round(ofMode('stream', (r) => r.relayCpuSeconds) / gib),
      },
    };
  } finally {
    for (const proc of started.reverse()) {
      if (proc.name === 'emulator') await proc.call('close').catch(() => {});
      await proc.stop();
    }
    await redis.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(emulatorDir, { recursive: true, force: true });
  }
}
