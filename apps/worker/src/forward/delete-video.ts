import type { JobRecord } from '@gtr/core';
import type { WorkerContext } from '../context.js';
import { findOrphan } from './create-video.js';

/**
 * After a cancel: delete the Gcore video if the tool asked for it (a TUS termination always does),
 * or if the upload streamed into it expired unfinished; the files are gone already.
 */
export async function afterCancel(ctx: WorkerContext, record: JobRecord): Promise<void> {
  const unwanted =
    record.delete_video || (record.state === 'failed' && record.error?.code === 'UPLOAD_EXPIRED');
  if (!unwanted) return;
  if (record.progress.video_id !== null) {
    await deleteVideoOf(ctx, record.id);
    return;
  }
  // Canceled while a create call's answer was lost (or still out): the video it made goes too.
  const since = record.progress.create_started_at;
  if (since === null) return;
  const orphan = await findOrphan(ctx, record, record.name, since);
  if (!orphan) return;
  const existed = await ctx.gcore.deleteVideo(orphan.id, { ignoreNotFound: true });
  ctx.logger.info(
    { jobId: record.id, videoId: orphan.id, existed },
    'Gcore video of a lost create deleted on cancel',
  );
}

/** The `delete-video` job of a cancel with `delete_video=true`. */
export async function deleteVideoOf(ctx: WorkerContext, id: string): Promise<void> {
  const record = await ctx.jobs.get(id);
  const videoId = record?.progress.video_id;
  if (!record || videoId === null || videoId === undefined) return;
  const existed = await ctx.gcore.deleteVideo(videoId, { ignoreNotFound: true });
  ctx.logger.info({ jobId: id, videoId, existed }, 'Gcore video deleted on cancel');
}
