import { isKeyOf } from '../keys.js';
import { JOB_REMOVE, JOB_SCHEMA } from '../lua-scripts.js';
import type { JobContext } from './context.js';
import { batchKeysOf } from './job-writes.js';
import { JOB_KINDS, JOB_STATES } from './types.js';
import { unindexVideo } from './video-index.js';

/*
 * Removing jobs: one at a time with every index entry of it, and the index of finished jobs the
 * JOB_RETENTION sweep reads (jobs in a batch go with their batch).
 */

/** Removes the job with every index entry of it (its batch counts it no more). */
export async function removeJob(ctx: JobContext, id: string): Promise<boolean> {
  const { keys } = ctx;
  // A job's owner, batch and claim never change, so their keys can be named before the script runs.
  const [ownerRaw, progressRaw, batchRaw, claimRaw] = await ctx.redis.hmget(
    keys.job(id),
    'owner',
    'progress',
    'batch',
    'claim',
  );
  const owner = JSON.parse(ownerRaw ?? 'null') as string | null;
  const progress = JSON.parse(progressRaw ?? 'null') as { video_id?: number | null } | null;
  const batch = (JSON.parse(batchRaw ?? 'null') as string | null) ?? '';
  const claim = JSON.parse(claimRaw ?? 'null') as string | null;
  if (typeof progress?.video_id === 'number') await unindexVideo(ctx, progress.video_id, id);
  // A claim key is always one of this prefix's (ImportClaims); anything else is not touched.
  const ownClaim = claim !== null && isKeyOf(ctx.prefix, claim);
  const removed = await JOB_REMOVE.run(
    ctx.redis,
    [
      keys.job(id),
      keys.all,
      ...JOB_STATES.map(keys.state),
      ...JOB_KINDS.map(keys.kind),
      keys.owner(owner ?? ''),
      keys.search,
      keys.finished,
      ...batchKeysOf(ctx, batch),
      ownClaim ? claim : keys.noClaim,
    ],
    [JOB_SCHEMA, id, keys.events, batch, ctx.now(), ownClaim ? '1' : ''],
  );
  // No record (removed meanwhile, or lost): an entry left in the finished index goes too.
  if (removed !== 1) await ctx.redis.zrem(keys.finished, id);
  return removed === 1;
}

/** Ids of jobs outside any batch that reached a final state before `before` (epoch ms), oldest first. */
export function finishedBefore(ctx: JobContext, before: number, limit = 500): Promise<string[]> {
  return ctx.redis.zrangebyscore(ctx.keys.finished, '-inf', before, 'LIMIT', 0, limit);
}
