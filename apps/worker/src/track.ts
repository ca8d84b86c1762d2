import type { JobError, TrackJobData } from '@gtr/core';
import { GcoreApiError, type GcoreVideo, RateLimitBackoff } from '@gtr/gcore';
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

    const later = async (delayMs: number, seen = job.data.seen): Promise<never> => {
      await job.updateData({ id, polls: polls + 1, ...(seen ? { seen } : {}) });
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
    const halted = haltedShortOfReady(video);
    if (halted !== null) {
      await ctx.jobs.update(id, { video: jobVideo }, { onlyFrom: ['processing'] });
      await fail(ctx, id, { code: 'GCORE_PROCESSING_HALTED', message: halted, retryable: false });
      return;
    }
    await ctx.jobs.update(id, { video: jobVideo }, { onlyFrom: ['processing'] });
    // No progress at all (same status, same renditions' progress) for trackStallMs: Gcore's docs
    // say to inspect `error` and `converted_videos[].status` when a video stays `empty` or
    // `pending` for long (vod-status.mdx, "Error handling"); waiting the whole trackTimeoutMs helps no one.
    const seen = progressKey(video);
    const seenSince = job.data.seen?.key === seen ? job.data.seen.since : ctx.now();
    if (ctx.now() - seenSince >= ctx.settings.trackStallMs) {
      await fail(ctx, id, {
        code: 'PROCESSING_STALLED',
        message: `Gcore made no progress for ${formatDuration(ctx.now() - seenSince)}; last seen: ${describeProgress(video)}`,
        retryable: true,
      });
      return;
    }
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
    // While Gcore's webhooks arrive, each one brings the next look forward (apps/relay/src/hooks.ts):
    // polling is only the fallback for a lost one (Gcore sends each once), so it backs off further.
    const arriving = await ctx.jobs.webhooksArriving().catch(() => false);
    const ceiling = arriving ? max * WEBHOOK_POLL_FACTOR : max;
    return later(Math.min(first * 2 ** polls, ceiling), { key: seen, since: seenSince });
  };
}

/** How much longer the longest poll interval is while Gcore's webhooks arrive. */
export const WEBHOOK_POLL_FACTOR = 5;

type Rendition = NonNullable<GcoreVideo['converted_videos']>[number];

/**
 * Why a video will stay short of `ready` for good, or null. Gcore's "Video Lifecycle and Statuses"
 * page (G-Core/product-documentation `streaming-platform/video-hosting/vod-status.mdx`) shows a
 * video at `viewable` with `error: "The storage limit has been exceeded"` and its `vod1080p`
 * rendition in `error`: playable in the other qualities, but it never becomes `ready`. So at
 * `viewable`, an `error`, or a rendition in `error` with none still `processing`, is final.
 */
export function haltedShortOfReady(video: GcoreVideo): string | null {
  if (video.status !== 'viewable') return null;
  const renditions = video.converted_videos ?? [];
  const failed = renditions.filter((r) => r.status === 'error');
  const processing = renditions.some((r) => r.status === 'processing');
  if (!video.error && (failed.length === 0 || processing)) return null;
  const which = failed.map((r) => `${r.name ?? 'a rendition'}${r.error ? `: ${r.error}` : ''}`).join('; ');
  const reason = video.error || (failed.find((r) => r.error)?.error ?? 'a rendition failed');
  return `${reason} (Gcore stopped at "viewable"${which ? `; failed: ${which}` : ''})`;
}

/** What counts as progress: the status, the error, and each rendition's status and percent. */
function progressKey(video: GcoreVideo): string {
  const renditions = (video.converted_videos ?? []).map(
    (r: Rendition) => `${r.name ?? ''}:${r.status ?? ''}:${r.progress ?? ''}`,
  );
  return JSON.stringify([video.status, video.error || null, renditions]);
}

function describeProgress(video: GcoreVideo): string {
  const renditions = (video.converted_videos ?? []).map(
    (r: Rendition) => `${r.name ?? '?'} ${r.status ?? '?'} ${r.progress ?? 0} %`,
  );
  return `status "${video.status}"${video.error ? `, error "${video.error}"` : ''}, ${
    renditions.length > 0 ? `renditions ${renditions.join(', ')}` : 'no renditions yet'
  }`;
}

function formatDuration(ms: number): string {
  if (ms >= 3_600_000) return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

async function fail(ctx: WorkerContext, id: string, error: JobError): Promise<void> {
  const failed = await ctx.lifecycle.fail(id, error, ['processing']);
  if (!failed) return;
  ctx.metrics.forwardsFailed.inc({ code: error.code, owner: failed.owner ?? 'unknown' });
  ctx.logger.warn({ jobId: id, code: error.code, message: error.message }, 'job failed at Gcore');
}
