import {
  ensureTracking,
  FORWARDING,
  type ForwardJobData,
  type ForwardJobName,
  type JobState,
  QUEUES,
} from '@gtr/core';
import { RateLimitBackoff } from '@gtr/gcore';
import { DelayedError, type Job, RateLimitError, UnrecoverableError } from 'bullmq';
import type { WorkerContext } from '../context.js';
import { classify } from '../failures.js';
import { pauseForRateLimit } from '../rate-limit.js';
import { ForwardAttempt, JobCanceledError } from './attempt.js';
import { releaseCreateLock } from './create-video.js';
import { afterCancel } from './delete-video.js';
import { runImport, runUpload } from './run.js';

type ForwardJob = Job<ForwardJobData, unknown, ForwardJobName>;

/**
 * The forward and import queues' processor: each step's result is saved before the next step
 * starts, so a retry, a crash or a restart continues where it stopped — never a second Gcore
 * video for one job, never more than one chunk sent twice.
 */
export function forwardProcessor(ctx: WorkerContext) {
  const backoff = new RateLimitBackoff();

  return async (job: ForwardJob, token?: string): Promise<void> => {
    const id = job.data.id;
    if (ctx.cancels.stopping) {
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const record = await ctx.jobs.get(id);
    if (job.name === 'delete-video') {
      // The video it recorded, or the one a create whose answer was lost made.
      if (record) await afterCancel(ctx, record);
      return;
    }
    if (!record) {
      ctx.logger.warn({ jobId: id }, 'forward job has no job record; nothing to do');
      return;
    }
    if (record.state === 'canceled') {
      await afterCancel(ctx, record);
      return;
    }
    if (record.state === 'failed' && record.error?.code === 'UPLOAD_EXPIRED') {
      await afterCancel(ctx, record);
      return;
    }
    // An upload still arriving is streamed (the relay queues it so in FORWARD_MODE=stream).
    const streaming = record.state === 'receiving' && job.name === 'upload';
    if (!streaming && !(FORWARDING as readonly string[]).includes(record.state)) {
      if (record.state === 'processing') await ensureTracking(ctx.queues, id);
      return;
    }

    const { signal, release } = ctx.cancels.register(id);
    try {
      const started = await ctx.jobs.update(
        id,
        { attempts: job.attemptsMade + 1 },
        // A streamed upload may have just become complete (`queued`): then it is forwarded as one.
        { onlyFrom: streaming ? ['receiving', ...FORWARDING] : FORWARDING },
      );
      if (!started) return;
      ctx.metrics.forwardsStarted.inc();
      const attempt = new ForwardAttempt(ctx, started, signal, () => backoff.reset());
      if (job.name === 'import') await runImport(attempt);
      else await runUpload(attempt);
      backoff.reset();
    } catch (error) {
      if (signal.aborted && signal.reason === 'parked') {
        await park(ctx, job, token);
        throw new DelayedError();
      }
      if (error instanceof JobCanceledError || signal.aborted) {
        if (error instanceof JobCanceledError || signal.reason === 'canceled') {
          const current = await ctx.jobs.get(id);
          if (current) await afterCancel(ctx, current);
          return;
        }
        // Shutdown: back to the queue at once, without spending an attempt; the next worker resumes.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      await handleFailure(ctx, job, error, backoff);
    } finally {
      release();
    }
  };
}

/** A parked forward looks again after this long even if no announcement woke it (a missed one). */
const PARKED_RECHECK_MS = 5 * 60_000;

/**
 * The tool of a streamed upload sent nothing for `streamParkAfterMs`: the forward gives its slot
 * back without spending an attempt. Its Gcore upload stays (a resume point); the relay's next
 * announcement (more bytes, the end, a termination) promotes the delayed job. An announcement that
 * came while parking found no delayed job to promote, only the mark gone: then it goes on at once.
 */
async function park(ctx: WorkerContext, job: ForwardJob, token: string | undefined): Promise<void> {
  const id = job.data.id;
  await ctx.feed.park(id);
  await job.moveToDelayed(Date.now() + PARKED_RECHECK_MS, token);
  if (!(await ctx.feed.isParked(id))) await job.promote().catch(() => {});
  ctx.metrics.forwardsParked.inc();
  ctx.logger.info({ jobId: id }, 'the tool sends nothing: forward parked, its slot given back');
}

async function handleFailure(
  ctx: WorkerContext,
  job: ForwardJob,
  error: unknown,
  backoff: RateLimitBackoff,
): Promise<never> {
  const id = job.data.id;
  const { error: jobError, rateLimited } = classify(error);
  if (rateLimited) {
    // Everyone waits: the API pace for every process, and this queue for every worker.
    const queue = job.queueName === QUEUES.import ? ctx.queues.import : ctx.queues.forward;
    const waitMs = await pauseForRateLimit(ctx, backoff, rateLimited.advertisedMs, queue);
    await ctx.lifecycle.requeue(id, {
      ...jobError,
      message: `Gcore asked to slow down; continuing in ${Math.ceil(waitMs / 1000)} s`,
    });
    ctx.logger.info({ jobId: id, waitMs }, 'rate limited by Gcore; queue paused');
    throw new RateLimitError();
  }
  const attempts = job.opts.attempts ?? 1;
  if (jobError.retryable && job.attemptsMade + 1 < attempts) {
    await ctx.lifecycle.requeue(id, jobError);
    ctx.metrics.retries.inc({ code: jobError.code });
    ctx.logger.warn(
      { jobId: id, code: jobError.code, attempt: job.attemptsMade + 1 },
      'forward failed; will retry',
    );
    throw error instanceof Error ? error : new Error(String(error));
  }
  // A streamed upload may still be arriving: it fails now, with Gcore's reason (the tool's last
  // bytes are still taken; an operator's retry forwards them once they are all in).
  const from: readonly JobState[] = job.name === 'upload' ? [...FORWARDING, 'receiving'] : FORWARDING;
  const failed = await ctx.lifecycle.fail(id, jobError, from);
  if (failed) await releaseCreateLock(ctx, failed);
  ctx.metrics.forwardsFailed.inc({ code: jobError.code, owner: failed?.owner ?? 'unknown' });
  ctx.logger.warn({ jobId: id, code: jobError.code, message: jobError.message }, 'forward failed');
  throw new UnrecoverableError(jobError.message);
}
