import { rm } from 'node:fs/promises';
import type { UploadResult } from '../children/client.js';
import { scratchDir, sourceFile, syncDisk } from '../lib/files.js';
import type { NodeProcess } from '../lib/proc.js';
import { BenchRedis } from '../lib/queues.js';
import { startClientProcess, startRelayProcess, TOKEN, uploadDirOf } from '../lib/stack.js';
import { GiB, median, round } from '../lib/stats.js';
import { formatSize } from '../plan.js';
import { type BenchContext, rate, seconds } from './context.js';
import { emptyDir } from './ingest.js';

export const CHECKSUM_SECTION = '9. Checksum';

/** Without Upload-Checksum (the baseline), and the two algorithms clients send most. */
const ALGORITHMS = [null, 'sha1', 'sha256'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

export interface ChecksumRun {
  algorithm: Algorithm;
  seconds: number;
  serverCpuSeconds: number;
}

export interface ChecksumCase {
  seconds: number;
  mbPerSecond: number;
  relayCpuPerGiB: number;
}

export interface ChecksumResult {
  bytes: number;
  chunkBytes: number;
  runs: ChecksumRun[];
  cases: Record<'none' | 'sha1' | 'sha256', ChecksumCase>;
}

/**
 * 9. The cost of the checksum extension: the same upload in 10 MB PATCHes, without
 * `Upload-Checksum` and with sha1 / sha256 ones, to one relay process (its CPU time measured).
 */
export async function checksum(ctx: BenchContext): Promise<ChecksumResult> {
  const { plan } = ctx;
  const { bytes, runs: repetitions } = plan.checksum;
  const source = await sourceFile(bytes);
  const redis = new BenchRedis();
  const dataDir = await scratchDir('checksum-relay');
  const started: NodeProcess[] = [];
  try {
    const relay = await startRelayProcess({ dataDir, prefix: redis.prefix });
    started.push(relay.proc);
    const client = await startClientProcess();
    started.push(client);
    const upload = (algorithm: Algorithm) =>
      client.call<UploadResult>('checksumUpload', {
        endpoint: `${relay.url}/files/`,
        token: TOKEN,
        path: source,
        chunkSize: plan.chunkBytes,
        algorithm,
      });
    // Warm-up, not counted: connections, JIT, and the page cache the file grows into.
    for (const algorithm of ALGORITHMS) await upload(algorithm);
    await emptyDir(uploadDirOf(dataDir));

    const runs: ChecksumRun[] = [];
    for (let i = 0; i < repetitions; i++) {
      // Rotate who goes first, so a slow drift of the machine does not favour one case.
      const order = ALGORITHMS.map((_, k) => ALGORITHMS[(k + i) % ALGORITHMS.length]!);
      for (const algorithm of order) {
        syncDisk();
        const before = relay.proc.sample();
        const result = await upload(algorithm);
        const after = relay.proc.sample();
        const run: ChecksumRun = {
          algorithm,
          seconds: round((result.doneAt - result.startAt) / 1000),
          serverCpuSeconds: round(after.cpuSeconds - before.cpuSeconds),
        };
        runs.push(run);
        ctx.log(
          `checksum ${algorithm ?? 'none'} #${i + 1}: ${seconds(run.seconds)} (${rate(bytes, run.seconds)}), relay CPU ${run.serverCpuSeconds} s`,
        );
        await emptyDir(uploadDirOf(dataDir));
      }
    }

    const gib = bytes / GiB;
    const caseOf = (algorithm: Algorithm): ChecksumCase => {
      const mine = runs.filter((r) => r.algorithm === algorithm);
      const secs = median(mine.map((r) => r.seconds));
      return {
        seconds: secs,
        mbPerSecond: round(bytes / 1e6 / secs, 1),
        relayCpuPerGiB: round(median(mine.map((r) => r.serverCpuSeconds)) / gib),
      };
    };
    const cases = { none: caseOf(null), sha1: caseOf('sha1'), sha256: caseOf('sha256') };
    for (const algorithm of ['sha1', 'sha256'] as const) {
      const c = cases[algorithm];
      ctx.figure({
        section: CHECKSUM_SECTION,
        what: `${formatSize(bytes)} in ${formatSize(plan.chunkBytes)} PATCHes with Upload-Checksum: ${algorithm} vs none (throughput · relay CPU per GiB)`,
        relay: `${rate(bytes, c.seconds)} · ${c.relayCpuPerGiB.toFixed(2)} s/GiB`,
        anchor: `${rate(bytes, cases.none.seconds)} · ${cases.none.relayCpuPerGiB.toFixed(2)} s/GiB`,
        ratio: round(c.seconds / cases.none.seconds),
        target: 'report',
        met: null,
      });
    }
    return { bytes, chunkBytes: plan.chunkBytes, runs, cases };
  } finally {
    for (const proc of started.reverse()) await proc.stop();
    await redis.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
