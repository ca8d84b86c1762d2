import { rm } from 'node:fs/promises';
import type { UploadResult } from '../children/client.js';
import { now } from '../lib/clock.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import {
  startBareTus,
  startClientProcess,
  startEmulatorProcess,
  startRelayProcess,
  startWorkerProcess,
  TOKEN,
} from '../lib/stack.js';
import { MB, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, mb, seconds } from './context.js';

export interface MemoryCase {
  who: 'relay' | 'bare' | 'worker';
  files: number;
  bytesEach: number;
  /** RSS once started and idle. */
  idleRssBytes: number;
  /** VmHWM at the end: the most it ever held. */
  peakRssBytes: number;
  seconds: number;
}

export interface MemoryResult {
  cases: MemoryCase[];
}

const WAIT_MS = 20 * 60_000;
const FLAT_BYTES = 32 * MB;

/**
 * 4. Peak RSS (VmHWM) of fresh processes: the relay taking 1 small, 1 big and N concurrent uploads
 * (and the bare @tus/server taking the same N), and a worker forwarding 4 small and 4 big files at
 * once (FORWARD_CONCURRENCY=4).
 */
export async function memory(ctx: BenchContext): Promise<MemoryResult> {
  const { plan } = ctx;
  const m = plan.memory;
  const cases: MemoryCase[] = [];
  const client = await startClientProcess();
  try {
    const relayCase = async (files: number, bytesEach: number, who: 'relay' | 'bare' = 'relay') => {
      const source = await sourceFile(bytesEach);
      const redis = who === 'relay' ? new BenchRedis() : null;
      const dir = await scratchDir(`memory-${who}`);
      const server = redis
        ? await startRelayProcess({ dataDir: dir, prefix: redis.prefix })
        : await startBareTus(dir);
      try {
        syncDisk();
        const idle = server.proc.sample();
        const results = await client.call<UploadResult[]>('upload', {
          endpoint: `${server.url}/files/`,
          ...(who === 'relay' ? { token: TOKEN } : {}),
          files: Array.from({ length: files }, (_, i) => ({ path: source, filename: `memory-${i}.mp4` })),
          chunkSize: null,
          concurrency: files,
        });
        const peak = server.proc.sample();
        const started = Math.min(...results.map((r) => r.startAt));
        const done = Math.max(...results.map((r) => r.doneAt));
        const c: MemoryCase = {
          who,
          files,
          bytesEach,
          idleRssBytes: idle.rssBytes,
          peakRssBytes: peak.peakRssBytes,
          seconds: round((done - started) / 1000),
        };
        cases.push(c);
        ctx.log(
          `memory ${who} ${files} × ${formatSize(bytesEach)}: peak ${mb(c.peakRssBytes)} (idle ${mb(c.idleRssBytes)})`,
        );
        return c;
      } finally {
        await server.proc.stop();
        await redis?.close();
        await rm(dir, { recursive: true, force: true });
      }
    };

    const small = await relayCase(1, m.concurrentBytes);
    const big = await relayCase(1, plan.bigBytes);
    const many = await relayCase(m.concurrentUploads, m.concurrentBytes);
    const bareMany = await relayCase(m.concurrentUploads, m.concurrentBytes, 'bare');

    const workerCase = async (bytesEach: number): Promise<MemoryCase> => {
      const source = await sourceFile(bytesEach);
      const redis = new BenchRedis();
      const dataDir = await scratchDir('memory-worker-relay');
      const emulatorDir = await scratchDir('memory-worker-emulator');
      const procs: NodeProcess[] = [];
      try {
        const emulator = await startEmulatorProcess(emulatorDir);
        procs.push(emulator.proc);
        const relay = await startRelayProcess({ dataDir, prefix: redis.prefix });
        procs.push(relay.proc);
        await redis.pauseForwarding();
        const names = Array.from({ length: m.workerFiles }, (_, i) => `memory-worker-${bytesEach}-${i}`);
        await client.call('upload', {
          endpoint: `${relay.url}/files/`,
          token: TOKEN,
          files: names.map((name) => ({ path: source, filename: `${name}.mp4` })),
          chunkSize: plan.chunkBytes,
          concurrency: m.workerFiles,
        });
        syncDisk();
        const worker = await startWorkerProcess({
          dataDir,
          prefix: redis.prefix,
          emulatorUrl: emulator.url,
          env: { FORWARD_CONCURRENCY: String(m.workerFiles), FORWARD_CHUNK_SIZE: String(plan.chunkBytes) },
        });
        procs.push(worker);
        const idle = worker.sample();
        const go = now();
        await redis.resumeForwarding();
        const timings = await emulator.proc.call<Array<{ lastByteAt: number }>>('waitFor', {
          names,
          field: 'lastByteAt',
          timeoutMs: WAIT_MS,
        });
        const peak = worker.sample();
        const c: MemoryCase = {
          who: 'worker',
          files: m.workerFiles,
          bytesEach,
          idleRssBytes: idle.rssBytes,
          peakRssBytes: peak.peakRssBytes,
          seconds: round((Math.max(...timings.map((t) => t.lastByteAt)) - go) / 1000),
        };
        cases.push(c);
        ctx.log(
          `memory worker ${m.workerFiles} × ${formatSize(bytesEach)}: peak ${mb(c.peakRssBytes)} (idle ${mb(c.idleRssBytes)}), ${seconds(c.seconds)}`,
        );
        return c;
      } finally {
        for (const proc of procs.reverse()) {
          if (proc.name === 'emulator') await proc.call('close').catch(() => {});
          await proc.stop();
        }
        await redis.close();
        await rm(dataDir, { recursive: true, force: true });
        await rm(emulatorDir, { recursive: true, force: true });
      }
    };
    const workerSmall = await workerCase(m.workerSmallBytes);
    const workerBig = await workerCase(m.workerBigBytes);

    const relayLimit = 250 * MB;
    const workerLimit = 150 * MB;
    // "Flat": a bigger file may not cost more than GC timing moves RSS anyway.
    const flat = (small: MemoryCase, big: MemoryCase) => big.peakRssBytes - small.peakRssBytes <= FLAT_BYTES;
    ctx.figure({
      section: '4. Memory',
      what: `relay peak RSS, ${m.concurrentUploads} concurrent ${formatSize(m.concurrentBytes)} uploads (one PATCH each) vs bare @tus/server`,
      relay: mb(many.peakRssBytes),
      anchor: mb(bareMany.peakRssBytes),
      ratio: round(many.peakRssBytes / bareMany.peakRssBytes),
      target: '≤ 250 MB',
      met: many.peakRssBytes <= relayLimit,
    });
    ctx.figure({
      section: '4. Memory',
      what: `relay peak RSS, one upload: ${formatSize(m.concurrentBytes)} vs ${formatSize(plan.bigBytes)} (flat in file size)`,
      relay: `${mb(small.peakRssBytes)} → ${mb(big.peakRssBytes)}`,
      anchor: null,
      ratio: round(big.peakRssBytes / small.peakRssBytes),
      target: 'flat (+≤ 32 MB), ≤ 250 MB',
      met: big.peakRssBytes <= relayLimit && flat(small, big),
    });
    ctx.figure({
      section: '4. Memory',
      what: `worker peak RSS forwarding ${m.workerFiles} × ${formatSize(m.workerBigBytes)} at once (FORWARD_CONCURRENCY=${m.workerFiles})`,
      relay: mb(workerBig.peakRssBytes),
      anchor: null,
      ratio: null,
      target: '≤ 150 MB',
      met: workerBig.peakRssBytes <= workerLimit,
    });
    ctx.figure({
      section: '4. Memory',
      what: `worker peak RSS, ${m.workerFiles} × ${formatSize(m.workerSmallBytes)} vs ${m.workerFiles} × ${formatSize(m.workerBigBytes)} (flat in file size)`,
      relay: `${mb(workerSmall.peakRssBytes)} → ${mb(workerBig.peakRssBytes)}`,
      anchor: null,
      ratio: round(workerBig.peakRssBytes / workerSmall.peakRssBytes),
      target: 'flat (+≤ 32 MB), ≤ 150 MB',
      met: workerBig.peakRssBytes <= workerLimit && flat(workerSmall, workerBig),
    });
    return { cases };
  } finally {
    await client.stop();
  }
}
