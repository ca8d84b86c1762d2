import type { JobContext } from './context.js';
import { decode, pairsToObject } from './record.js';
import type { JobRecord, JobState } from './types.js';

/*
 * The callback outbox: a job that reaches a final state with a callback_url is written here in
 * the same step (see job-transition.lua), as it is then; JobLifecycle turns each entry into a
 * notify job and clears it, and `deliverDueCallbacks` does so for an entry whose writer died in
 * between.
 */

/**
 * One callback per job per final state reached: the notify queue's job id, so queueing the same
 * outbox entry twice (a crash between queueing and clearing it) still delivers once.
 */
export function callbackKey(id: string, state: JobState, at: number): string {
  return `notify-${id}-${state}-${at}`;
}

/** Callback outbox entries written at least `olderThanMs` ago, with the job as it was then. */
export async function pendingCallbacks(
  ctx: JobContext,
  olderThanMs: number,
  limit = 100,
): Promise<Array<{ key: string; job: JobRecord }>> {
  const { keys } = ctx;
  const due = await ctx.redis.zrangebyscore(
    keys.callbacksDue,
    '-inf',
    ctx.now() - olderThanMs,
    'LIMIT',
    0,
    limit,
  );
  if (due.length === 0) return [];
  const snapshots = await ctx.redis.hmget(keys.callbacksJobs, ...due);
  const pending: Array<{ key: string; job: JobRecord }> = [];
  for (const [i, key] of due.entries()) {
    const snapshot = snapshots[i];
    if (snapshot) pending.push({ key, job: decode(pairsToObject(JSON.parse(snapshot) as string[])) });
    else await clearCallback(ctx, key);
  }
  return pending;
}

/** The callback of this outbox entry is queued: forget the entry. */
export async function clearCallback(ctx: JobContext, key: string): Promise<void> {
  await ctx.redis.multi().zrem(ctx.keys.callbacksDue, key).hdel(ctx.keys.callbacksJobs, key).exec();
}
