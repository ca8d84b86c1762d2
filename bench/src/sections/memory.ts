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
  /**
   * The files arrived while relay (FORWARD_MODE=stream) and worker ran: the worker forwarded them
   * as they came in. Without: the relay took them alone, or the worker forwarded complete files.
   */
  streaming?: boolean;
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

    /**
     * Relay (FORWARD_MODE=stream) and worker (FORWARD_CONCURRENCY=min(files, 4)) both fresh and
     * running while `files` uploads arrive at once (one PATCH each): the worker forwards them while
     * they arrive. Both peaks once the emulator holds every last byte.
     */
    const streamingCase = async (files: number, bytesEach: number): Promise<[MemoryCase, MemoryCase]> => {
      const source = await sourceFile(bytesEach);
      const redis = new BenchRedis();
      const dataDir = await scratchDir('memory-stream-relay');
      const emulatorDir = await scratchDir('memory-stream-emulator');
      const procs: NodeProcess[] = [];
      try {
        const emulator = await startEmulatorProcess(emulatorDir);
        procs.push(emulator.proc);
        const relay = await startRelayProcess({
          dataDir,
          prefix: redis.prefix,
          env: { FORWARD_MODE: 'stream', FORWARD_CHUNK_SIZE: String(plan.chunkBytes) },
        });
        procs.push(relay.proc);
        const worker = await startWorkerProcess({
          dataDir,
          prefix: redis.prefix,
          emulatorUrl: emulator.url,
          env: {
            FORWARD_CONCURRENCY: String(Math.min(files, m.workerFiles)),
            FORWARD_CHUNK_SIZE: String(plan.chunkBytes),
          },
        });
        procs.push(worker);
        syncDisk();
        const relayIdle = relay.proc.sample();
        const workerIdle = worker.sample();
        const names = Array.from({ length: files }, (_, i) => `memory-stream-${bytesEach}-${i}`);
        const go = now();
        await client.call('upload', {
          endpoint: `${relay.url}/files/`,
          token: TOKEN,
          files: names.map((name) => ({ path: source, filename: `${name}.mp4` })),
          chunkSize: null,
          concurrency: files,
        });
        const timings = await emulator.proc.call<Array<{ lastByteAt: number }>>('waitFor', {
          names,
          field: 'lastByteAt',
          timeoutMs: WAIT_MS,
        });
        const secs = round((Math.max(...timings.map((t) => t.lastByteAt)) - go) / 1000);
        const out: [MemoryCase, MemoryCase] = [
          {
            who: 'relay',
            files,
            bytesEach,
            idleRssBytes: relayIdle.rssBytes,
            peakRssBytes: relay.proc.sample().peakRssBytes,
            seconds: secs,
            streaming: true,
          },
          {
            who: 'worker',
            files,
            bytesEach,
            idleRssBytes: workerIdle.rssBytes,
            peakRssBytes: worker.sample().peakRssBytes,
            seconds: secs,
            streaming: true,
          },
        ];
        cases.push(...out);
        ctx.log(
          `memory streaming ${files} × ${formatSize(bytesEach)}: relay peak ${mb(out[0].peakRssBytes)} (idle ${mb(out[0].idleRssBytes)}), worker peak ${mb(out[1].peakRssBytes)} (idle ${mb(out[1].idleRssBytes)}), first byte in → last at Gcore ${seconds(secs)}`,
        );
        return out;
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
    const [streamRelaySmall, streamWorkerSmall] = await streamingCase(m.workerFiles, m.workerSmallBytes);
    const [streamRelayBig, streamWorkerBig] = await streamingCase(m.workerFiles, m.workerBigBytes);
    const [streamRelayMany, streamWorkerMany] = await streamingCase(m.concurrentUploads, m.concurrentBytes);

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
    ctx.figure({
      section: '4. Memory',
      what: `streaming (FORWARD_MODE=stream, relay and worker running while the uploads arrive, one PATCH each, FORWARD_CONCURRENCY=${m.workerFiles}): worker peak RSS, ${m.workerFiles} × ${formatSize(m.workerSmallBytes)} vs ${m.workerFiles} × ${formatSize(m.workerBigBytes)} (flat in file size)`,
      relay: `${mb(streamWorkerSmall.peakRssBytes)} → ${mb(streamWorkerBig.peakRssBytes)}`,
      anchor: `${mb(workerBig.peakRssBytes)} (complete files, above)`,
      ratio: round(streamWorkerBig.peakRssBytes / streamWorkerSmall.peakRssBytes),
      target: 'flat (+≤ 32 MB), ≤ 150 MB',
      met: streamWorkerBig.peakRssBytes <= workerLimit && flat(streamWorkerSmall, streamWorkerBig),
    });
    ctx.figure({
      section: '4. Memory',
      what: `streaming, the same runs: relay peak RSS taking ${m.workerFiles} × ${formatSize(m.workerSmallBytes)} vs ${m.workerFiles} × ${formatSize(m.workerBigBytes)} at once (flat in file size)`,
      relay: `${mb(streamRelaySmall.peakRssBytes)} → ${mb(streamRelayBig.peakRssBytes)}`,
      anchor: null,
      ratio: round(streamRelayBig.peakRssBytes / streamRelaySmall.peakRssBytes),
      target: 'flat (+≤ 32 MB), ≤ 250 MB',
      met: streamRelayBig.peakRssBytes <= relayLimit && flat(streamRelaySmall, streamRelayBig),
    });
    ctx.figure({
      section: '4. Memory',
      what: `streaming: ${m.concurrentUploads} concurrent ${formatSize(m.concurrentBytes)} uploads (one PATCH each) while the worker forwards them (FORWARD_CONCURRENCY=${m.workerFiles}): relay peak RSS · worker peak RSS`,
      relay: `${mb(streamRelayMany.peakRssBytes)} · ${mb(streamWorkerMany.peakRssBytes)}`,
      anchor: `${mb(many.peakRssBytes)} (relay alone, above)`,
      ratio: round(streamRelayMany.peakRssBytes / many.peakRssBytes),
      target: 'relay ≤ 250 MB, worker ≤ 150 MB',
      met: streamRelayMany.peakRssBytes <= relayLimit && streamWorkerMany.peakRssBytes <= workerLimit,
    });
    return { cases };
  } finally {
    await client.stop();
  }
}
