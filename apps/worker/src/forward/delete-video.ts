import type { JobRecord } from '@gtr/core';
import type { WorkerContext } from '../context.js';
import { holdCreateLock } from './create-lock.js';
import { releaseCreateLock, videoFields } from './create-video.js';
import { findLostCreate } from './lost-create.js';

/**
 * After a cancel: delete the Gcore video if the tool asked for it (a TUS termination always does),
 * or if the upload streamed into it expired unfinished; the files are gone already.
 */
export async function afterCancel(ctx: WorkerContext, record: JobRecord): Promise<void> {
  const unwanted =
    record.delete_video || (record.state === 'failed' && record.error?.code === 'UPLOAD_EXPIRED');
  if (!unwanted) {
    await releaseCreateLock(ctx, record);
    return;
  }
  if (record.progress.video_id !== null) {
    await deleteVideoOf(ctx, record.id);
    return;
  }
  if (record.progress.create_started_at === null) return;
  // Canceled while a create call's answer was lost (or still out): the video it made goes too,
  // if it can be told for certain, looked up under the name's create lock (see ensureVideo).
  const fields = videoFields(ctx, record);
  const lock = await holdCreateLock(ctx, record.id, fields);
  try {
    // Under the lock its video may have been recorded meanwhile (an attempt that was finishing).
    const current = await ctx.jobs.get(record.id);
    if ((current?.progress.video_id ?? null) !== null) {
      await deleteVideoOf(ctx, record.id);
      return;
    }
    const since = current?.progress.create_started_at ?? record.progress.create_started_at;
    const orphan = await findLostCreate(ctx, record.id, fields, since);
    if (!orphan) return;
    const existed = await ctx.gcore.deleteVideo(orphan.id, { ignoreNotFound: true });
    ctx.logger.info(
      { jobId: record.id, videoId: orphan.id, existed },
      'Gcore video of a lost create deleted on cancel',
    );
  } finally {
    // The job does nothing more: whatever it left, the next create of this name may go.
    await lock.release();
  }
}

/** Deletes the Gcore video the job recorded, if any. */
export async function deleteVideoOf(ctx: WorkerContext, id: string): Promise<void> {
  const record = await ctx.jobs.get(id);
  const videoId = record?.progress.video_id;
  if (!record || videoId === null || videoId === undefined) return;
  const existed = await ctx.gcore.deleteVideo(videoId, { ignoreNotFound: true });
  ctx.logger.info({ jobId: id, videoId, existed }, 'Gcore video deleted on cancel');
}
