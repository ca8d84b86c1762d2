import { rm } from 'node:fs/promises';
import type { UploadResult } from '../children/client.js';
import type { UploadTiming } from '../children/emulator.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import {
  startClientProcess,
  startEmulatorProcess,
  startRelayProcess,
  startWorkerProcess,
  TOKEN,
} from '../lib/stack.js';
import { median, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, seconds } from './context.js';

export const PACED_SECTION = '10. Paced';

type ForwardMode = 'stream' | 'store';
/** `stream-fast-link`: the stream relay with the emulator's link 10 % faster than the arrival. */
type PacedCase = 'stream' | 'store' | 'stream-fast-link';
const FAST_LINK = 1.1;

export interface PacedRun {
  case: PacedCase;
  /** The emulator's link cap during the run. */
  linkBytesPerSec: number;
  /** The client's first byte (creation) → its last byte written: how fast the upload arrived. */
  arrivalSeconds: number;
  /** The client's last byte written → the emulator has read the last byte. */
  tailSeconds: number;
  /** The relay answered the last PATCH → the emulator has read the last byte. */
  tailFromAnswerSeconds: number;
  /** The client's first byte → the emulator's last. */
  endToEndSeconds: number;
  /** The client's first byte → the forward's first PATCH reached the emulator. */
  firstPatchAfterSeconds: number | null;
  /** The forward's first PATCH reached the emulator → the emulator read the last byte. */
  gcoreSideSeconds: number | null;
  relayCpuSeconds: number;
  workerCpuSeconds: number;
}

export interface PacedResult {
  bytes: number;
  bytesPerSec: number;
  chunkBytes: number;
  /** One chunk's transfer time at the capped rate + 100 ms: the target of the stream tail. */
  budgetSeconds: number;
  runs: PacedRun[];
  medians: Record<PacedCase, Omit<PacedRun, 'case' | 'linkBytesPerSec'>>;
}

const WAIT_MS = 15 * 60_000;

/**
 * 10. An upload that arrives slowly (the client sends at `bytesPerSec`, one PATCH) to a Gcore whose
 * link takes the same rate (the emulator's `bandwidthBytesPerSec`): how long after the last byte
 * reached the relay Gcore holds the last byte — through a FORWARD_MODE=stream relay (the forward
 * runs while the upload arrives: about one chunk behind) and a FORWARD_MODE=store one (the whole
 * forward starts at the end). Same Redis prefix, upload dir and worker; modes alternate.
 */
export async function paced(ctx: BenchContext): Promise<PacedResult> {
  const { plan } = ctx;
  const { bytes, bytesPerSec, runs: repetitions } = plan.paced;
  const source = await sourceFile(bytes);
  const redis = new BenchRedis();
  const dataDir = await scratchDir('paced-relay');
  const emulatorDir = await scratchDir('paced-emulator');
  const started: NodeProcess[] = [];
  try {
    const emulator = await startEmulatorProcess(emulatorDir, { bandwidthBytesPerSec: bytesPerSec });
    started.push(emulator.proc);
    const relays = {} as Record<ForwardMode, { proc: NodeProcess; url: string }>;
    for (const mode of ['stream', 'store'] as const) {
      relays[mode] = await startRelayProcess({
        dataDir,
        prefix: redis.prefix,
        env: { FORWARD_MODE: mode, FORWARD_CHUNK_SIZE: String(plan.chunkBytes) },
      });
      started.push(relays[mode].proc);
    }
    const worker = await startWorkerProcess({
      dataDir,
      prefix: redis.prefix,
      emulatorUrl: emulator.url,
      env: { FORWARD_CHUNK_SIZE: String(plan.chunkBytes), FORWARD_CONCURRENCY: '1' },
    });
    started.push(worker);
    const client = await startClientProcess();
    started.push(client);

    const cases: PacedCase[] = ['stream', 'store', 'stream-fast-link'];
    const runs: PacedRun[] = [];
    for (let i = 0; i < repetitions; i++) {
      // Rotate who goes first, so a slow drift of the machine does not favour one case.
      const order = cases.map((_, k) => cases[(k + i) % cases.length]!);
      for (const key of order) {
        const mode: ForwardMode = key === 'store' ? 'store' : 'stream';
        const relay = relays[mode];
        const name = `paced-${key}-${i}`;
        const linkBytesPerSec =
          key === 'stream-fast-link' ? Math.round(bytesPerSec * FAST_LINK) : bytesPerSec;
        await emulator.proc.call('setFaults', { bandwidthBytesPerSec: linkBytesPerSec });
        syncDisk();
        const relayBefore = relay.proc.sample();
        const workerBefore = worker.sample();
        const upload = await client.call<UploadResult>('pacedUpload', {
          endpoint: `${relay.url}/files/`,
          token: TOKEN,
          path: source,
          filename: `${name}.mp4`,
          bytesPerSec,
        });
        const relayAfter = relay.proc.sample();
        const [timing] = await emulator.proc.call<UploadTiming[]>('waitFor', {
          names: [name],
          field: 'lastByteAt',
          timeoutMs: WAIT_MS,
        });
        const workerAfter = worker.sample();
        const t = timing!;
        const run: PacedRun = {
          case: key,
          linkBytesPerSec,
          arrivalSeconds: round((upload.lastByteAt - upload.startAt) / 1000),
          tailSeconds: round((t.lastByteAt! - upload.lastByteAt) / 1000),
          tailFromAnswerSeconds: round((t.lastByteAt! - upload.doneAt) / 1000),
          endToEndSeconds: round((t.lastByteAt! - upload.startAt) / 1000),
          firstPatchAfterSeconds:
            t.firstPatchAt === null ? null : round((t.firstPatchAt - upload.startAt) / 1000),
          gcoreSideSeconds: t.firstPatchAt === null ? null : round((t.lastByteAt! - t.firstPatchAt) / 1000),
          relayCpuSeconds: round(relayAfter.cpuSeconds - relayBefore.cpuSeconds),
          workerCpuSeconds: round(workerAfter.cpuSeconds - workerBefore.cpuSeconds),
        };
        runs.push(run);
        ctx.log(
          `paced ${key} #${i + 1} (link ${(linkBytesPerSec / 1e6).toFixed(0)} MB/s): arrived in ${seconds(run.arrivalSeconds)} (${(bytes / 1e6 / run.arrivalSeconds).toFixed(1)} MB/s), last byte in → at Gcore ${seconds(run.tailSeconds)} (from the relay's answer ${seconds(run.tailFromAnswerSeconds)}), first PATCH at Gcore ${run.firstPatchAfterSeconds ?? 'n/a'} s after the start, Gcore side ${run.gcoreSideSeconds ?? 'n/a'} s; relay CPU ${run.relayCpuSeconds} s, worker CPU ${run.workerCpuSeconds} s`,
        );
        await emulator.proc.call('waitFor', { names: [name], field: 'processed', timeoutMs: WAIT_MS });
        await emulator.proc.call('dropFiles');
      }
    }

    const medianOf = (key: PacedCase): Omit<PacedRun, 'case' | 'linkBytesPerSec'> => {
      const mine = runs.filter((r) => r.case === key);
      const m = (f: (r: PacedRun) => number | null) =>
        round(median(mine.map(f).filter((v): v is number => v !== null)));
      return {
        arrivalSeconds: m((r) => r.arrivalSeconds),
        tailSeconds: m((r) => r.tailSeconds),
        tailFromAnswerSeconds: m((r) => r.tailFromAnswerSeconds),
        endToEndSeconds: m((r) => r.endToEndSeconds),
        firstPatchAfterSeconds: m((r) => r.firstPatchAfterSeconds),
        gcoreSideSeconds: m((r) => r.gcoreSideSeconds),
        relayCpuSeconds: m((r) => r.relayCpuSeconds),
        workerCpuSeconds: m((r) => r.workerCpuSeconds),
      };
    };
    const medians = {
      stream: medianOf('stream'),
      store: medianOf('store'),
      'stream-fast-link': medianOf('stream-fast-link'),
    };
    const budgetSeconds = round(plan.chunkBytes / bytesPerSec + 0.1);
    const rateText = `${(bytesPerSec / 1e6).toFixed(0)} MB/s`;
    const stream = medians.stream;
    const store = medians.store;
    const fast = medians['stream-fast-link'];
    const tails = (key: PacedCase) =>
      runs
        .filter((r) => r.case === key)
        .map((r) => seconds(r.tailSeconds))
        .join(', ');
    ctx.figure({
      section: PACED_SECTION,
      what: `${formatSize(bytes)} arriving at ${rateText} (one PATCH, paced by the client), the emulator's link capped at ${rateText}, FORWARD_MODE=stream: the client's last byte → the emulator holds the last byte (runs: ${tails('stream')}), vs one ${formatSize(plan.chunkBytes)} chunk's transfer time + 100 ms`,
      relay: `${seconds(stream.tailSeconds)} (from the relay's answer ${seconds(stream.tailFromAnswerSeconds)}; arrival ${seconds(stream.arrivalSeconds)} · ${(bytes / 1e6 / stream.arrivalSeconds).toFixed(1)} MB/s; Gcore's first byte ${seconds(stream.firstPatchAfterSeconds ?? Number.NaN)} after the client's, its first to last byte ${seconds(stream.gcoreSideSeconds ?? Number.NaN)})`,
      anchor: `${seconds(budgetSeconds)} (${seconds(plan.chunkBytes / bytesPerSec)} + 100 ms)`,
      ratio: round(stream.tailSeconds / budgetSeconds),
      target: `≤ ${seconds(budgetSeconds)}`,
      met: stream.tailSeconds <= budgetSeconds,
    });
    ctx.figure({
      section: PACED_SECTION,
      what: `the same through a FORWARD_MODE=store relay (store-and-forward: the forward starts after the last byte; runs: ${tails('store')}), vs the whole file's transfer time at ${rateText}`,
      relay: `${seconds(store.tailSeconds)} (end to end ${seconds(store.endToEndSeconds)}; stream: ${seconds(stream.endToEndSeconds)})`,
      anchor: seconds(bytes / bytesPerSec),
      ratio: round(store.tailSeconds / (bytes / bytesPerSec)),
      target: 'report',
      met: null,
    });
    ctx.figure({
      section: PACED_SECTION,
      what: `the stream case with the emulator's link ${Math.round((FAST_LINK - 1) * 100)} % faster than the arrival (${(Math.round(bytesPerSec * FAST_LINK) / 1e6).toFixed(0)} MB/s; runs: ${tails('stream-fast-link')}): the forward can make up its start (first chunk + create video + upload parameters), vs the same budget`,
      relay: `${seconds(fast.tailSeconds)} (Gcore's first byte ${seconds(fast.firstPatchAfterSeconds ?? Number.NaN)} after the client's)`,
      anchor: seconds(budgetSeconds),
      ratio: round(fast.tailSeconds / budgetSeconds),
      target: 'report',
      met: null,
    });
    return { bytes, bytesPerSec, chunkBytes: plan.chunkBytes, budgetSeconds, runs, medians };
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
