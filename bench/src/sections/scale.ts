import { readdir, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UploadResult } from '../children/client.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import { startClientProcess, startRelayProcess, TOKEN, uploadDirOf } from '../lib/stack.js';
import { GiB, median, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, rate, seconds } from './context.js';

export const SCALE_SECTION = '8. Scale';

export interface LockerRun {
  locker: 'redis' | 'memory';
  seconds: number;
  relayCpuSeconds: number;
  retries: number;
}

export interface RelaysRun {
  relays: number;
  seconds: number;
  /** Every relay process of the case, idle ones included. */
  relaysCpuSeconds: number;
  clientCpuSeconds: number;
  retries: number;
}

export interface RelaysCase {
  seconds: number;
  mbPerSecond: number;
  cpuPerGiB: number;
}

export interface ScaleResult {
  /** os.loadavg() (1, 5, 15 min) when the section started and ended. */
  loadAverage: { start: number[]; end: number[] };
  locker: {
    bytes: number;
    chunkBytes: number;
    patches: number;
    runs: LockerRun[];
    redisSeconds: number;
    memorySeconds: number;
    ratio: number;
    addedMsPerPatch: number;
    /** The fastest run of each (the least disturbed on a shared machine), and the same difference. */
    redisBestSeconds: number;
    memoryBestSeconds: number;
    bestAddedMsPerPatch: number;
    redisCpuPerGiB: number;
    memoryCpuPerGiB: number;
  };
  relays: {
    uploads: number;
    bytesEach: number;
    totalBytes: number;
    relays: number;
    routing: string;
    runs: RelaysRun[];
    one: RelaysCase;
    many: RelaysCase;
    /** One relay's wall time ÷ the fleet's. */
    speedUp: number;
  };
}

const IDLE_MS = 12_000;

interface LockerRelay {
  locker: 'redis' | 'memory';
  proc: NodeProcess;
  endpoint: string;
  dir: string;
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { force: true, recursive: true });
}

const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`;

const cpuOf = (procs: NodeProcess[]) => procs.reduce((sum, p) => sum + p.sample().cpuSeconds, 0);

/**
 * 8. What the shared-Redis design costs and gives: the Redis locker against @tus/server's
 * MemoryLocker per PATCH (one relay each, `UPLOAD_LOCKER=memory`), and the same bytes as
 * concurrent uploads to one relay versus spread over several relays sharing one Redis prefix and
 * one DATA_DIR.
 */
export async function scale(ctx: BenchContext): Promise<ScaleResult> {
  const { plan } = ctx;
  const s = plan.scale;
  const loadStart = loadavg().map((v) => round(v, 2));
  const bytes = plan.bigBytes;
  const source = await sourceFile(bytes);
  const bytesEach = Math.floor(bytes / s.uploads);
  const partSource = await sourceFile(bytesEach);
  const patches = Math.ceil(bytes / plan.chunkBytes);
  const redisKeys: BenchRedis[] = [];
  const dirs: string[] = [];
  const started: NodeProcess[] = [];
  try {
    // Two relays for the locker comparison, each with its own prefix and data dir.
    const lockerRelays: LockerRelay[] = [];
    for (const locker of ['redis', 'memory'] as const) {
      const redis = new BenchRedis();
      redisKeys.push(redis);
      const dir = await scratchDir(`scale-locker-${locker}`);
      dirs.push(dir);
      const relay = await startRelayProcess({
        dataDir: dir,
        prefix: redis.prefix,
        env: { UPLOAD_LOCKER: locker },
      });
      started.push(relay.proc);
      lockerRelays.push({ locker, proc: relay.proc, endpoint: `${relay.url}/files/`, dir: uploadDirOf(dir) });
    }
    // The fleet: one prefix, one DATA_DIR.
    const fleetRedis = new BenchRedis();
    redisKeys.push(fleetRedis);
    const fleetDir = await scratchDir('scale-fleet');
    dirs.push(fleetDir);
    const fleet: Array<{ proc: NodeProcess; endpoint: string }> = [];
    for (let i = 0; i < s.relays; i++) {
      const relay = await startRelayProcess({ dataDir: fleetDir, prefix: fleetRedis.prefix });
      started.push(relay.proc);
      fleet.push({ proc: relay.proc, endpoint: `${relay.url}/files/` });
    }
    const client = await startClientProcess();
    started.push(client);

    const lockerUpload = async (relay: LockerRelay, name: string) => {
      const [result] = await client.call<UploadResult[]>('upload', {
        endpoint: relay.endpoint,
        token: TOKEN,
        files: [{ path: source, filename: `${name}.mp4` }],
        chunkSize: plan.chunkBytes,
      });
      return result!;
    };
    // Upload i goes to relay i mod `relays` (all its requests: the Location it gets names that
    // relay), or every upload to relay 0. One lane per relay, each with its uploads at once.
    const fleetUpload = async (relays: number, name: string) => {
      const lanes = fleet.map((relay, lane) => {
        const files: Array<{ path: string; filename: string }> = [];
        for (let i = lane; i < s.uploads; i += fleet.length)
          files.push({ path: partSource, filename: `${name}-${i}.mp4` });
        return client.call<UploadResult[]>('upload', {
          endpoint: relays === 1 ? fleet[0]!.endpoint : relay.endpoint,
          token: TOKEN,
          files,
          chunkSize: plan.chunkBytes,
          concurrency: files.length,
        });
      });
      return (await Promise.all(lanes)).flat();
    };
    const relayCounts = [1, s.relays];

    // Warm-up, not counted (as in the ingest section), then idle as a relay between uploads does.
    for (const relay of lockerRelays) {
      await lockerUpload(relay, `warmup-${relay.locker}`);
      await emptyDir(relay.dir);
    }
    for (const n of relayCounts) await fleetUpload(n, `warmup-${n}`);
    await emptyDir(uploadDirOf(fleetDir));
    ctx.log(`scale: idling ${IDLE_MS / 1000} s after the warm-up`);
    await sleep(IDLE_MS);

    // 8a. Redis locker vs MemoryLocker, one relay each, same client, alternating order.
    const lockerRuns: LockerRun[] = [];
    for (let i = 0; i < s.lockerRuns; i++) {
      const order = i % 2 === 0 ? [...lockerRelays] : [...lockerRelays].reverse();
      for (const relay of order) {
        syncDisk();
        const before = relay.proc.sample();
        const result = await lockerUpload(relay, `locker-${relay.locker}-${i}`);
        const after = relay.proc.sample();
        const run: LockerRun = {
          locker: relay.locker,
          seconds: round((result.doneAt - result.startAt) / 1000),
          relayCpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
          retries: result.retries,
        };
        lockerRuns.push(run);
        ctx.log(
          `scale locker ${run.locker} #${i + 1}: ${seconds(run.seconds)} (${rate(bytes, run.seconds)}), relay CPU ${run.relayCpuSeconds} s`,
        );
        await emptyDir(relay.dir);
      }
    }

    // 8b. The same bytes as concurrent uploads: to one relay, and across the fleet.
    const totalBytes = bytesEach * s.uploads;
    const fleetProcs = fleet.map((r) => r.proc);
    const relaysRuns: RelaysRun[] = [];
    for (let i = 0; i < s.runs; i++) {
      const order = i % 2 === 0 ? [...relayCounts] : [...relayCounts].reverse();
      for (const n of order) {
        syncDisk();
        const cpuBefore = cpuOf(fleetProcs);
        const clientBefore = client.sample().cpuSeconds;
        const results = await fleetUpload(n, `fleet-${n}-${i}`);
        const cpuAfter = cpuOf(fleetProcs);
        const clientAfter = client.sample().cpuSeconds;
        const startAt = Math.min(...results.map((r) => r.startAt));
        const doneAt = Math.max(...results.map((r) => r.doneAt));
        const run: RelaysRun = {
          relays: n,
          seconds: round((doneAt - startAt) / 1000),
          relaysCpuSeconds: round(cpuAfter - cpuBefore),
          clientCpuSeconds: round(clientAfter - clientBefore),
          retries: results.reduce((sum, r) => sum + r.retries, 0),
        };
        relaysRuns.push(run);
        ctx.log(
          `scale ${n} relay(s) #${i + 1}: ${seconds(run.seconds)} (${rate(totalBytes, run.seconds)}), relays' CPU ${run.relaysCpuSeconds} s, client CPU ${run.clientCpuSeconds} s, retries ${run.retries}`,
        );
        await emptyDir(uploadDirOf(fleetDir));
      }
    }

    const gib = bytes / GiB;
    const lockerPick = (locker: string, f: (r: LockerRun) => number) =>
      median(lockerRuns.filter((r) => r.locker === locker).map(f));
    const redisSeconds = lockerPick('redis', (r) => r.seconds);
    const memorySeconds = lockerPick('memory', (r) => r.seconds);
    const redisCpuPerGiB = round(lockerPick('redis', (r) => r.relayCpuSeconds) / gib);
    const memoryCpuPerGiB = round(lockerPick('memory', (r) => r.relayCpuSeconds) / gib);
    const addedMsPerPatch = round(((redisSeconds - memorySeconds) * 1000) / patches, 2);
    const best = (locker: string) =>
      Math.min(...lockerRuns.filter((r) => r.locker === locker).map((r) => r.seconds));
    const redisBestSeconds = best('redis');
    const memoryBestSeconds = best('memory');
    const bestAddedMsPerPatch = round(((redisBestSeconds - memoryBestSeconds) * 1000) / patches, 2);
    const lockerResult: ScaleResult['locker'] = {
      bytes,
      chunkBytes: plan.chunkBytes,
      patches,
      runs: lockerRuns,
      redisSeconds,
      memorySeconds,
      ratio: round(redisSeconds / memorySeconds),
      addedMsPerPatch,
      redisBestSeconds,
      memoryBestSeconds,
      bestAddedMsPerPatch,
      redisCpuPerGiB,
      memoryCpuPerGiB,
    };
    ctx.figure({
      section: SCALE_SECTION,
      what: `${formatSize(bytes)} by tus-js-client, ${formatSize(plan.chunkBytes)} chunks (${patches} PATCHes), one relay: Redis locker (default) vs \`UPLOAD_LOCKER=memory\` (@tus/server's MemoryLocker)`,
      relay: `${seconds(redisSeconds)} · ${rate(bytes, redisSeconds)}`,
      anchor: `${seconds(memorySeconds)} · ${rate(bytes, memorySeconds)}`,
      ratio: lockerResult.ratio,
      target: 'report',
      met: null,
    });
    ctx.figure({
      section: SCALE_SECTION,
      what: `the Redis locker's cost per PATCH: (Redis − memory) ÷ ${patches} PATCHes, of the medians and of the fastest runs (${seconds(redisBestSeconds)} vs ${seconds(memoryBestSeconds)}); relay CPU seconds per GiB, Redis locker vs MemoryLocker`,
      relay: `${signed(addedMsPerPatch)} ms per PATCH (fastest: ${signed(bestAddedMsPerPatch)} ms) · ${redisCpuPerGiB.toFixed(2)} s/GiB`,
      anchor: `${memoryCpuPerGiB.toFixed(2)} s/GiB`,
      ratio: memoryCpuPerGiB > 0 ? round(redisCpuPerGiB / memoryCpuPerGiB) : null,
      target: 'report',
      met: null,
    });

    const totalGiB = totalBytes / GiB;
    const relaysCase = (n: number): RelaysCase => {
      const runs = relaysRuns.filter((r) => r.relays === n);
      const secs = median(runs.map((r) => r.seconds));
      return {
        seconds: secs,
        mbPerSecond: round(totalBytes / 1e6 / secs, 1),
        cpuPerGiB: round(median(runs.map((r) => r.relaysCpuSeconds)) / totalGiB),
      };
    };
    const one = relaysCase(1);
    const many = relaysCase(s.relays);
    const speedUp = round(one.seconds / many.seconds);
    const routing = `upload i to relay i mod ${s.relays}, its POST and every PATCH, no proxy: ${Math.ceil(s.uploads / s.relays)} at once per relay`;
    const shape = `${s.uploads} concurrent uploads of ${(bytesEach / 1e6).toFixed(1)} MB (1/${s.uploads} of ${formatSize(bytes)}), ${formatSize(plan.chunkBytes)} chunks, one client process`;
    ctx.figure({
      section: SCALE_SECTION,
      what: `${shape}: ${s.relays} relays sharing one Redis prefix and one DATA_DIR (${routing}) vs all to one relay — wall time from the first upload's start to the last one's end`,
      relay: `${seconds(many.seconds)} · ${rate(totalBytes, many.seconds)} (speed-up ${speedUp.toFixed(2)}×)`,
      anchor: `${seconds(one.seconds)} · ${rate(totalBytes, one.seconds)}`,
      ratio: round(many.seconds / one.seconds),
      target: `report (${availableParallelism()} cores shared by client, relays and Redis: not linear)`,
      met: null,
    });
    ctx.figure({
      section: SCALE_SECTION,
      what: `the same: relays' total CPU seconds per GiB (every relay process of the case), ${s.relays} relays vs one`,
      relay: `${many.cpuPerGiB.toFixed(2)} s/GiB`,
      anchor: `${one.cpuPerGiB.toFixed(2)} s/GiB`,
      ratio: one.cpuPerGiB > 0 ? round(many.cpuPerGiB / one.cpuPerGiB) : null,
      target: 'report',
      met: null,
    });
    const loadEnd = loadavg().map((v) => round(v, 2));
    ctx.note(
      `${SCALE_SECTION}: load average (1/5/15 min) ${loadStart.join(' / ')} when the section started, ${loadEnd.join(' / ')} when it ended (${availableParallelism()} cores, shared with other sessions). Medians of ${s.lockerRuns} runs per locker and ${s.runs} per relay count; the Redis server's own CPU is not counted.`,
    );
    return {
      loadAverage: { start: loadStart, end: loadEnd },
      locker: lockerResult,
      relays: {
        uploads: s.uploads,
        bytesEach,
        totalBytes,
        relays: s.relays,
        routing,
        runs: relaysRuns,
        one,
        many,
        speedUp,
      },
    };
  } finally {
    for (const proc of started.reverse()) await proc.stop();
    for (const redis of redisKeys) await redis.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}
