import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UploadResult } from '../children/client.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { DiskSpeed } from '../lib/machine.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import { startBareTus, startClientProcess, startRelayProcess, TOKEN, uploadDirOf } from '../lib/stack.js';
import { GiB, median, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, rate, seconds } from './context.js';

export interface IngestRun {
  /** `relay-nohash`: the relay with its SHA-256 while receiving turned off (the cost's baseline). */
  server: 'relay' | 'relay-nohash' | 'bare';
  chunking: 'onePatch' | 'chunked';
  seconds: number;
  serverCpuSeconds: number;
  clientCpuSeconds: number;
  serverPeakRssBytes: number;
  retries: number;
}

export interface IngestCase {
  relaySeconds: number;
  bareSeconds: number;
  ratio: number;
  relayCpuPerGiB: number;
  bareCpuPerGiB: number;
  clientCpuPerGiB: number;
  /** The relay with hashing off: seconds, its ratio to bare @tus/server, CPU per GiB. */
  noHashSeconds?: number;
  noHashRatio?: number;
  noHashCpuPerGiB?: number;
}

export interface IngestResult {
  bytes: number;
  runs: IngestRun[];
  cases: Record<'onePatch' | 'chunked', IngestCase>;
}

const IDLE_MS = 12_000;

const CHUNKINGS = [
  { key: 'onePatch', label: 'one PATCH (chunkSize Infinity)' },
  { key: 'chunked', label: '10 MB chunks' },
] as const;

export async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { force: true, recursive: true });
}

/** 1. The relay's /files versus a bare @tus/server + @tus/file-store, same disk, same client. */
export async function ingest(ctx: BenchContext, disk: DiskSpeed | null): Promise<IngestResult> {
  const { plan } = ctx;
  const bytes = plan.bigBytes;
  const source = await sourceFile(bytes);
  const redis = new BenchRedis();
  const relayDir = await scratchDir('ingest-relay');
  const bareDir = await scratchDir('ingest-bare');
  const noHashDir = await scratchDir('ingest-relay-nohash');
  const started: NodeProcess[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const relay = await startRelayProcess({ dataDir: relayDir, prefix: redis.prefix });
    started.push(relay.proc);
    // The same relay with its SHA-256 while receiving turned off: what hashing costs.
    const noHashRedis = new BenchRedis();
    const noHash = await startRelayProcess({
      dataDir: noHashDir,
      prefix: noHashRedis.prefix,
      env: { GTR_BENCH_RECEIVE_HASH: 'off' },
    });
    started.push(noHash.proc);
    closers.push(() => noHashRedis.close());
    const bare = await startBareTus(bareDir);
    started.push(bare.proc);
    const client = await startClientProcess();
    started.push(client);
    const servers = [
      {
        key: 'relay',
        proc: relay.proc,
        endpoint: `${relay.url}/files/`,
        token: TOKEN,
        dir: uploadDirOf(relayDir),
      },
      {
        key: 'relay-nohash',
        proc: noHash.proc,
        endpoint: `${noHash.url}/files/`,
        token: TOKEN,
        dir: uploadDirOf(noHashDir),
      },
      { key: 'bare', proc: bare.proc, endpoint: `${bare.url}/files/`, token: undefined, dir: bareDir },
    ] as const;

    // Warm-up, full size, not counted: first connections, JIT, and — on a VM — the first touch of
    // the memory the page cache grows into, which made every first run up to 3× slower.
    const warmup = source;
    for (const server of servers) {
      for (const chunking of CHUNKINGS) {
        await client.call('upload', {
          endpoint: server.endpoint,
          ...(server.token ? { token: server.token } : {}),
          files: [{ path: warmup, filename: `warmup-${chunking.key}.mp4` }],
          chunkSize: chunking.key === 'chunked' ? plan.chunkBytes : null,
        });
      }
      await emptyDir(server.dir);
    }

    // Then idle, as a relay between uploads: V8's memory reducer shrinks both heaps, and what
    // follows is measured in the state a long-running server is in when an upload arrives.
    ctx.log(`ingest: idling ${IDLE_MS / 1000} s after the warm-up`);
    await sleep(IDLE_MS);

    const runs: IngestRun[] = [];
    for (let i = 0; i < plan.iterations.ingest; i++) {
      for (const chunking of CHUNKINGS) {
        // Alternate who goes first, so a slow drift of the machine does not favour one side.
        const order = i % 2 === 0 ? [...servers] : [...servers].reverse();
        for (const server of order) {
          syncDisk();
          server.proc.resetPeak();
          const before = server.proc.sample();
          const clientBefore = client.sample();
          const [result] = await client.call<UploadResult[]>('upload', {
            endpoint: server.endpoint,
            ...(server.token ? { token: server.token } : {}),
            files: [{ path: source, filename: `ingest-${server.key}-${chunking.key}-${i}.mp4` }],
            chunkSize: chunking.key === 'chunked' ? plan.chunkBytes : null,
          });
          const after = server.proc.sample();
          const clientAfter = client.sample();
          const run: IngestRun = {
            server: server.key,
            chunking: chunking.key,
            seconds: round((result!.doneAt - result!.startAt) / 1000),
            serverCpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
            clientCpuSeconds: round(clientAfter.cpuSeconds - clientBefore.cpuSeconds),
            serverPeakRssBytes: after.peakRssBytes,
            retries: result!.retries,
          };
          runs.push(run);
          ctx.log(
            `ingest ${server.key} ${chunking.key} #${i + 1}: ${seconds(run.seconds)} (${rate(bytes, run.seconds)}), server CPU ${run.serverCpuSeconds} s, client CPU ${run.clientCpuSeconds} s`,
          );
          await emptyDir(server.dir);
        }
      }
    }

    const gib = bytes / GiB;
    const pick = (server: string, chunking: string, f: (r: IngestRun) => number) =>
      median(runs.filter((r) => r.server === server && r.chunking === chunking).map(f));
    const cases = {} as Record<'onePatch' | 'chunked', IngestCase>;
    for (const chunking of CHUNKINGS) {
      const relaySeconds = pick('relay', chunking.key, (r) => r.seconds);
      const bareSeconds = pick('bare', chunking.key, (r) => r.seconds);
      const noHashSeconds = pick('relay-nohash', chunking.key, (r) => r.seconds);
      const c: IngestCase = {
        relaySeconds,
        bareSeconds,
        ratio: round(relaySeconds / bareSeconds),
        relayCpuPerGiB: round(pick('relay', chunking.key, (r) => r.serverCpuSeconds) / gib),
        bareCpuPerGiB: round(pick('bare', chunking.key, (r) => r.serverCpuSeconds) / gib),
        clientCpuPerGiB: round(
          median(runs.filter((r) => r.chunking === chunking.key).map((r) => r.clientCpuSeconds)) / gib,
        ),
        noHashSeconds,
        noHashRatio: round(noHashSeconds / bareSeconds),
        noHashCpuPerGiB: round(pick('relay-nohash', chunking.key, (r) => r.serverCpuSeconds) / gib),
      };
      cases[chunking.key] = c;
      ctx.figure({
        section: '1. Ingest',
        what: `${formatSize(bytes)} by tus-js-client, ${chunking.label}: relay vs bare @tus/server + @tus/file-store`,
        relay: `${seconds(relaySeconds)} · ${rate(bytes, relaySeconds)}`,
        anchor: `${seconds(bareSeconds)} · ${rate(bytes, bareSeconds)}`,
        ratio: c.ratio,
        target: '≤ 1.05× (within 5 %)',
        met: c.ratio <= 1.05,
      });
      ctx.figure({
        section: '1. Ingest',
        what: `the cost of SHA-256 while receiving, ${chunking.label}: relay vs the relay with hashing off (its ratio to bare: ${c.noHashRatio}×)`,
        relay: `${seconds(relaySeconds)} · ${rate(bytes, relaySeconds)}`,
        anchor: `${seconds(noHashSeconds)} · ${rate(bytes, noHashSeconds)}`,
        ratio: round(relaySeconds / noHashSeconds),
        target: 'report',
        met: null,
      });
    }
    if (disk) {
      const best = Math.min(cases.onePatch.relaySeconds, cases.chunked.relaySeconds);
      ctx.figure({
        section: '1. Ingest',
        what: `physical limit: ${disk.command} (the TUS stores do not fsync, so they can beat it)`,
        relay: `${rate(bytes, best)} (relay, best case)`,
        anchor: `${seconds(disk.seconds)} · ${disk.mbPerSecond} MB/s (dd)`,
        ratio: round(best / ((disk.seconds * bytes) / disk.bytes)),
        target: null,
        met: null,
      });
    }
    return { bytes, runs, cases };
  } finally {
    for (const proc of started.reverse()) await proc.stop();
    for (const close of closers) await close();
    await redis.close();
    await rm(noHashDir, { recursive: true, force: true });
    await rm(relayDir, { recursive: true, force: true });
    await rm(bareDir, { recursive: true, force: true });
  }
}
