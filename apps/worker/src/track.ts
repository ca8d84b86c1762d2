import type { JobError, TrackJobData } from '@gtr/core';
import { GcoreApiError, RateLimitBackoff } from '@gtr/gcore';
import { DelayedError, type Job } from 'bullmq';
import type { WorkerContext } from './context.js';
import { classify } from './failures.js';
import { finishJob, isComplete, toJobVideo } from './outcome.js';
import { pauseForRateLimit } from './rate-limit.js';

/**
 * The track queue's processor: one look at Gcore's status per run, then the job waits (delayed,
 * 1 s → 30 s) without holding anything, until COMPLETE_ON or an error.
 */
export function trackProcessor(ctx: WorkerContext) {
  const backoff = new RateLimitBackoff();

  return async (job: Job<TrackJobData>, token?: string): Promise<void> => {
    const { id, polls } = job.data;
    const record = await ctx.jobs.get(id);
    if (record?.state !== 'processing' || record.progress.video_id === null) return;
    const videoId = record.progress.video_id;

    const later = async (delayMs: number): Promise<never> => {
      await job.updateData({ id, polls: polls + 1 });
      await job.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    };

    let video: Awaited<ReturnType<typeof ctx.gcore.getVideo>>;
    try {
      video = await ctx.statuses.get(videoId);
    } catch (error) {
      const { error: jobError, rateLimited } = classify(error);
      if (rateLimited) {
        // The pace is every worker's, but the track queue is not paused: its polls are delayed
        // jobs already, and the longest poll interval would stall all forwards for 30 s.
        return later(await pauseForRateLimit(ctx, backoff, rateLimited.advertisedMs));
      }
      if (error instanceof GcoreApiError && error.status === 404) {
        await fail(ctx, id, {
          code: 'GCORE_VIDEO_GONE',
          message: `Gcore has no video ${videoId} any more (deleted outside the relay?)`,
          retryable: false,
        });
        return;
      }
      if (jobError.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      await fail(ctx, id, jobError);
      return;
    }

    backoff.reset();
    const jobVideo = toJobVideo(video);
    if (video.status === 'error' || (video.status === 'empty' && video.error)) {
      const refused = video.status === 'empty';
      await ctx.jobs.update(id, { video: jobVideo }, { onlyFrom: ['processing'] });
      await fail(ctx, id, {
        code: refused ? 'GCORE_REJECTED' : 'GCORE_PROCESSING_FAILED',
        message: video.error || 'Gcore could not process the video',
        retryable: !refused || record.kind === 'import',
      });
      return;
    }
    if (isComplete(jobVideo.status, ctx.settings.completeOn)) {
      await finishJob(ctx, id, jobVideo);
      return;
    }
    await ctx.jobs.update(id, { video: jobVideo }, { onlyFrom: ['processing'] });
    const since = record.progress.uploaded_at ?? Date.parse(record.created_at);
    if (ctx.now() - since > ctx.settings.trackTimeoutMs) {
      await fail(ctx, id, {
        code: 'GCORE_PROCESSING_TIMEOUT',
        message: `Gcore is still at "${video.status}" after ${Math.round(ctx.settings.trackTimeoutMs / 3_600_000)} h`,
        retryable: true,
      });
      return;
    }
    const { first, max } = ctx.settings.trackIntervalMs;
    return later(Math.min(first * 2 ** polls, max));
  };
}

async function fail(ctx: WorkerContext, id: string, error: JobError): Promise<void> {
  const failed = await ctx.lifecycle.fail(id, error, ['processing']);
  if (!failed) return;
  ctx.metrics.forwardsFailed.inc({ code: error.code, owner: failed.owner ?? 'unknown' });
  ctx.logger.warn({ jobId: id, code: error.code, message: error.message }, 'job failed at Gcore');
}
