import { setTimeout as delay } from 'node:timers/promises';
import type { CreateIdentity } from '@gtr/core';
import type { WorkerContext } from '../context.js';

/**
 * How long a create lock outlives its last renewal. Longer than a create call may take (the Gcore
 * client gives up after 30 s) plus the minute of clock leeway the lost-create lookup allows, so a
 * lock lapses only once its holder stopped: a crash, or a lost answer waiting for its retry.
 */
export const CREATE_LOCK_TTL_MS = 2 * 60_000;
/** A holder renews its lock this often while it works. */
const RENEW_EVERY_MS = 20_000;
/** Waits between looks at a lock another job holds: from 50 ms, doubling, up to 1 s. */
const WAIT = { firstMs: 50, maxMs: 1_000 };

export interface HeldCreateLock {
  /** No create of this job is out any more (recorded, refused or cleaned up): the next may go. */
  release(): Promise<void>;
  /** Stops renewing but keeps the lock (a create may be out): it lapses after its TTL. */
  stop(): void;
}

/**
 * Waits until job `jobId` holds the create lock of `identity` (see CreateLocks): another job's
 * create of the same name is then recorded, or its holder is gone. An abort of `signal` ends the
 * wait (it throws). The lock is renewed in the background until `release` or `stop`.
 */
export async function holdCreateLock(
  ctx: WorkerContext,
  jobId: string,
  identity: CreateIdentity,
  signal?: AbortSignal,
): Promise<HeldCreateLock> {
  let wait = WAIT.firstMs;
  while (!(await ctx.createLocks.take(identity, jobId, CREATE_LOCK_TTL_MS))) {
    if (wait === WAIT.firstMs)
      ctx.logger.info(
        { jobId },
        'waiting for the create of a same-named video by another job to be recorded',
      );
    await delay(wait, undefined, signal ? { signal } : {});
    wait = Math.min(WAIT.maxMs, wait * 2);
  }
  const renew = setInterval(() => {
    ctx.createLocks.take(identity, jobId, CREATE_LOCK_TTL_MS).then(
      (held) => {
        if (!held) ctx.logger.warn({ jobId }, 'create lock lapsed and was taken by another job');
      },
      (error: unknown) => ctx.logger.warn({ err: error, jobId }, 'create lock not renewed'),
    );
  }, RENEW_EVERY_MS);
  renew.unref();
  return {
    stop: () => clearInterval(renew),
    release: async () => {
      clearInterval(renew);
      await ctx.createLocks.release(identity, jobId).catch((error: unknown) => {
        ctx.logger.warn({ err: error, jobId }, 'create lock not released; it lapses by itself');
      });
    },
  };
}
