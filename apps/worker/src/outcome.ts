import { type JobVideo, removeUploadFiles, type VideoStatus } from '@gtr/core';
import type { GcoreVideo } from '@gtr/gcore';
import type { WorkerContext } from './context.js';

/** Gcore's video as the job shows it (the one place Gcore's wire shape maps to ours). */
export function toJobVideo(video: Pick<GcoreVideo, 'id'> & Partial<GcoreVideo>): JobVideo {
  return {
    id: video.id,
    status: (video.status ?? 'empty') as VideoStatus,
    error: video.error || null,
    hls_url: video.hls_url ?? null,
    slug: video.slug ?? null,
  };
}

/** Gcore refused the file or failed to process it: a retry needs a fresh video entity. */
export function isRejectedByGcore(video: JobVideo | null): boolean {
  if (!video) return false;
  return video.status === 'error' || (video.status === 'empty' && Boolean(video.error));
}

/** Whether Gcore's status satisfies COMPLETE_ON. */
export function isComplete(status: VideoStatus, completeOn: 'uploaded' | 'viewable' | 'ready'): boolean {
  if (completeOn === 'uploaded') return status !== 'empty' && status !== 'error';
  if (completeOn === 'viewable') return status === 'viewable' || status === 'ready';
  return status === 'ready';
}

/**
 * The job is done: the local copy goes first (unless KEEP_FILES; Gcore has the bytes, and a crash
 * between the two steps then leaves no orphaned file), then `ready` (which queues the callback).
 */
export async function finishJob(ctx: WorkerContext, id: string, video?: JobVideo): Promise<void> {
  if (!ctx.settings.keepFiles) await removeUploadFiles(ctx.uploadDir, id);
  const done = await ctx.lifecycle.finish(id, video ? { video } : {});
  if (done) ctx.logger.info({ jobId: id, videoId: done.progress.video_id }, 'job ready');
}
