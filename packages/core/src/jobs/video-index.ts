import { JOB_SCHEMA, VIDEO_INDEX } from '../lua-scripts.js';
import type { JobContext } from './context.js';

/*
 * Which job follows which Gcore video (Gcore's webhooks name only the video), and whether those
 * webhooks arrive at all. A video belongs to exactly one job: the index names one job per video.
 */

/** Remembers which job follows Gcore video `videoId` (written once the video exists); the id becomes searchable. */
export async function indexVideo(ctx: JobContext, videoId: number, jobId: string): Promise<void> {
  const { keys } = ctx;
  await VIDEO_INDEX.run(
    ctx.redis,
    [keys.videos, keys.job(jobId), keys.search],
    [JOB_SCHEMA, String(videoId), jobId],
  );
}

/** The id of the job following Gcore video `videoId`, or null. */
export function jobOfVideo(ctx: JobContext, videoId: number): Promise<string | null> {
  return ctx.redis.hget(ctx.keys.videos, String(videoId));
}

/** {@link jobOfVideo} of each id, in one round trip. */
export async function jobsOfVideos(
  ctx: JobContext,
  videoIds: readonly number[],
): Promise<Array<string | null>> {
  if (videoIds.length === 0) return [];
  return ctx.redis.hmget(ctx.keys.videos, ...videoIds.map(String));
}

/** Forgets video `videoId` when `jobId` is the job it names (that job is being removed). */
export async function unindexVideo(ctx: JobContext, videoId: number, jobId: string): Promise<void> {
  const video = String(videoId);
  if ((await ctx.redis.hget(ctx.keys.videos, video)) === jobId) await ctx.redis.hdel(ctx.keys.videos, video);
}

/** A webhook from Gcore arrived: for the next `ttlMs`, {@link webhooksArriving} says yes. */
export async function noteWebhook(ctx: JobContext, ttlMs: number): Promise<void> {
  await ctx.redis.set(ctx.keys.webhooksSeen, String(ctx.now()), 'PX', Math.max(1, Math.round(ttlMs)));
}

/** Whether a Gcore webhook arrived within the last `ttlMs` of the latest {@link noteWebhook}. */
export async function webhooksArriving(ctx: JobContext): Promise<boolean> {
  return (await ctx.redis.exists(ctx.keys.webhooksSeen)) === 1;
}
