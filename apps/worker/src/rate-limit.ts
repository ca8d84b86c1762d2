import type { RateLimitBackoff } from '@gtr/gcore';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context.js';

/**
 * What every processor does on a 429 from Gcore: wait as `Retry-After` says (else the backoff's
 * next step), push the shared API pace back so that no process of any worker calls Gcore before
 * then, and — for a queue whose jobs all call Gcore — pause that queue for every worker
 * (`queue.rateLimit`; the caller then throws BullMQ's `RateLimitError`). Returns the wait.
 */
export async function pauseForRateLimit(
  ctx: Pick<WorkerContext, 'pacer'>,
  backoff: RateLimitBackoff,
  advertisedMs: number | undefined,
  queue?: Pick<Queue, 'rateLimit'>,
): Promise<number> {
  const waitMs = backoff.next(advertisedMs);
  await ctx.pacer.pushBack(waitMs);
  if (queue) await queue.rateLimit(waitMs);
  return waitMs;
}
