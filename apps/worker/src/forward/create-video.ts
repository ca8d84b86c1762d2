import { emptyProgress, type JobRecord } from '@gtr/core';
import type { CreateVideoFields, GcoreVideo } from '@gtr/gcore';
import type { WorkerContext } from '../context.js';
import type { ForwardAttempt } from './attempt.js';
import { type HeldCreateLock, holdCreateLock } from './create-lock.js';
import { findLostCreate, mayHaveCreated } from './lost-create.js';

/**
 * What a job's create call sends: the operator's GCORE_VIDEO_DEFAULTS first, so the tool's own
 * metadata/fields override them; an import Gcore pulls carries its `origin_url`.
 */
export function videoFields(ctx: WorkerContext, record: JobRecord): CreateVideoFields {
  const pulledByGcore = record.kind === 'import' && (record.request.via ?? 'gcore') === 'gcore';
  return {
    name: record.name,
    ...(record.request.description ? { description: record.request.description } : {}),
    ...ctx.settings.videoDefaults,
    ...record.request.fields,
    ...(pulledByGcore && record.origin_url ? { origin_url: record.origin_url } : {}),
  } as CreateVideoFields;
}

/**
 * A job that will do nothing more (canceled, failed for good) frees its name's create lock, which a
 * lost create answer left held: the next same-named create need not wait for the TTL.
 */
export async function releaseCreateLock(ctx: WorkerContext, record: JobRecord): Promise<void> {
  if (record.progress.create_started_at === null) return;
  await ctx.createLocks.release(videoFields(ctx, record), record.id).catch((error: unknown) => {
    ctx.logger.warn({ err: error, jobId: record.id }, 'create lock not released; it lapses by itself');
  });
}

/**
 * Step 1: the Gcore video entity. The job holds its name's create lock from before the call
 * until the video's id is recorded (create-lock.ts), and the attempt is marked before the call:
 * a lost answer is then looked up at once, and by a retry that finds the mark but no video id,
 * and only a video that can be this job's alone is adopted (lost-create.ts).
 */
export async function ensureVideo(attempt: ForwardAttempt): Promise<void> {
  const { ctx, record, progress } = attempt;
  if (progress.video_id !== null) return;
  await attempt.moveTo('creating');
  const fields = videoFields(ctx, record);
  const lock = await holdCreateLock(ctx, attempt.id, fields, attempt.signal);
  try {
    const video = (await adoptEarlier(attempt, fields)) ?? (await create(attempt, fields, lock));
    await attempt.saveVideo(video);
    await lock.release();
  } finally {
    lock.stop();
  }
}

/** An earlier attempt marked a create but recorded no video: the video that call made, if any. */
async function adoptEarlier(
  attempt: ForwardAttempt,
  fields: CreateVideoFields,
): Promise<GcoreVideo | undefined> {
  const since = attempt.progress.create_started_at;
  if (since === null) return undefined;
  const video = await findLostCreate(attempt.ctx, attempt.id, fields, since, attempt.signal);
  if (video)
    attempt.ctx.logger.info(
      { jobId: attempt.id, videoId: video.id },
      'adopted the video an earlier attempt created',
    );
  return video;
}

/** One create call; a lost answer is looked up at once (the lock stays held while it may be out). */
async function create(
  attempt: ForwardAttempt,
  fields: CreateVideoFields,
  lock: HeldCreateLock,
): Promise<GcoreVideo> {
  const { ctx, record, progress } = attempt;
  const since = ctx.now();
  progress.create_started_at = since;
  await attempt.save();
  try {
    // Imports come in crowds (migrations): their creates share Gcore's batch endpoint.
    const video =
      record.kind === 'import' && fields.origin_url
        ? await ctx.creator.create(fields)
        : await ctx.gcore.createVideo(fields, { signal: attempt.signal });
    ctx.logger.info({ jobId: attempt.id, videoId: video.id }, 'Gcore video created');
    return video;
  } catch (error) {
    if (!mayHaveCreated(error)) {
      await lock.release();
      throw error;
    }
    if (attempt.signal.aborted) throw error;
    const video = await findLostCreate(ctx, attempt.id, fields, since, attempt.signal).catch(() => undefined);
    // Not found (yet): the lock stays until its TTL, and the retry looks again.
    if (!video) throw error;
    ctx.logger.info(
      { jobId: attempt.id, videoId: video.id },
      'adopted the video of a create whose answer was lost',
    );
    return video;
  }
}

/** A retry after Gcore refused the file (e.g. `File Invalid`): a fresh entity, a fresh upload. */
export async function startOver(attempt: ForwardAttempt): Promise<void> {
  const videoId = attempt.progress.video_id!;
  await attempt.ctx.gcore.deleteVideo(videoId, { ignoreNotFound: true, signal: attempt.signal });
  attempt.progress = emptyProgress();
  await attempt.save({ video: null, bytes_forwarded: 0 });
  await attempt.saveManifest({ video_id: null, client_id: null, upload_url: null, uploaded_at: null });
  attempt.ctx.logger.info({ jobId: attempt.id, videoId }, 'deleted the video Gcore refused; starting over');
}
