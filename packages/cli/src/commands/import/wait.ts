import type { PublicJob } from '@gtr/contract';
import type { RelayClient } from '../../api.js';
import { followJobs } from '../../follow.js';
import type { CliIo } from '../../io.js';
import { createProgress } from '../../progress.js';
import { println } from '../command.js';

/**
 * Imports no one batch holds (URL arguments with --wait, or a relay without batches): each job
 * followed until it is final, then the failed ones listed.
 */
export async function waitForImports(
  client: RelayClient,
  jobs: readonly PublicJob[],
  origin: ReadonlyMap<string, string>,
  io: CliIo,
): Promise<'ready' | 'failed' | 'interrupted'> {
  const progress = createProgress(io.stdout, io.now);
  const ids = [...new Set(jobs.map((j) => j.id))];
  const latest = new Map(jobs.map((j) => [j.id, j]));
  const tally = progress.tally(ids.length);
  const count = () => {
    const c = { final: 0, ready: 0, failed: 0, canceled: 0 };
    for (const job of latest.values()) {
      if (job.state === 'ready') c.ready++;
      else if (job.state === 'failed') c.failed++;
      else if (job.state === 'canceled') c.canceled++;
      else continue;
      c.final++;
    }
    return c;
  };
  try {
    const result = await followJobs({
      client,
      ids,
      signal: io.signal,
      ...(io.pollIntervalMs !== undefined ? { pollIntervalMs: io.pollIntervalMs } : {}),
      ...(io.now ? { now: io.now } : {}),
      onUpdate: (job) => {
        latest.set(job.id, job);
        tally.update(count());
      },
      onOutage: (error) => progress.log(`the relay stopped answering (${error.message}); still trying`),
    });
    progress.stop();
    for (const id of result.gone)
      println(io, `${origin.get(id) ?? id}: job ${id} no longer exists on the relay`);
    for (const job of latest.values()) {
      if (job.state !== 'failed' && job.state !== 'canceled') continue;
      const reason = job.error ? `${job.error.message} (${job.error.code})` : '';
      const where = origin.get(job.id) ?? job.origin_url ?? '';
      println(io, `${where}: ${job.state}${reason ? `: ${reason}` : ''} (job ${job.id})`);
    }
    if (result.interrupted) {
      io.stderr.write('stopped waiting; the imports go on at the relay (pnpm relay jobs --kind import)\n');
      return 'interrupted';
    }
    const c = count();
    println(io, `jobs: ${c.ready} ready, ${c.failed} failed${c.canceled ? `, ${c.canceled} canceled` : ''}`);
    return result.gone.length === 0 && c.ready === ids.length ? 'ready' : 'failed';
  } finally {
    progress.stop();
  }
}
