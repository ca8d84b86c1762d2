import { emptyProgress, type JobRecord } from '@gtr/core';
import type { CreateVideoFields } from '@gtr/gcore';
import type { WorkerContext } from '../context.js';
import type { ForwardAttempt } from './attempt.js';

/**
 * Step 1: the Gcore video entity. The attempt is marked before the call, so a retry that finds
 * the mark but no video id adopts the video the lost call created instead of making another.
 */
export async function ensureVideo(
  attempt: ForwardAttempt,
  extra: Partial<CreateVideoFields> = {},
): Promise<void> {
  const { ctx, record, progress } = attempt;
  if (progress.video_id !== null) return;
  await attempt.moveTo('creating');
  // The operator's GCORE_VIDEO_DEFAULTS first, so the tool's own metadata/fields override them.
  const fields = {
    name: record.name,
    ...(record.request.description ? { description: record.request.description } : {}),
    ...ctx.settings.videoDefaults,
    ...record.request.fields,
    ...extra,
  } as CreateVideoFields;

  if (progress.create_started_at !== null) {
    const orphan = await findOrphan(ctx, record, fields.name, progress.create_started_at, attempt.signal);
    if (orphan) {
      ctx.logger.info(
        { jobId: attempt.id, videoId: orphan.id },
        'adopted the video an earlier attempt created',
      );
      await attempt.saveVideo(orphan);
      return;
    }
  }
  progress.create_started_at = ctx.now();
  await attempt.save();
  // Imports come in crowds (migrations): their creates share Gcore's batch endpoint.
  const video =
    record.kind === 'import' && fields.origin_url
      ? await ctx.creator.create(fields)
      : await ctx.gcore.createVideo(fields, { signal: attempt.signal });
  await attempt.saveVideo(video);
  ctx.logger.info({ jobId: attempt.id, videoId: video.id }, 'Gcore video created');
}

/**
 * The video a create call made before its answer (or our save of it) was lost: same name, created
 * after the attempt started (a minute's leeway for clocks).
 *
 * An import's video is matched on its `origin_url` too, in **any** status: Gcore starts pulling
 * `origin_url` as soon as the video exists (G-Core/product-documentation `vod-status.mdx`: "Empty ->
 * Pending -> Viewable -> Ready", "[Any status] -> Error"; G-Core/gcore-python
 * `src/gcore/resources/streaming/videos/videos.py`, `create`: "After method execution file will be
 * uploaded and will be sent to transcoding automatically"), so by the
 * retry it may be `pending` or further, or `empty` with the download's error — still the one the
 * lost call made, and tracking it reports whatever Gcore makes of it. Gcore's list leaves deleted
 * videos out.
 *
 * An upload's video (no origin) must still be `empty` and error-free: nothing can have reached it
 * but our own TUS upload, which never started without its id, so a same-named video that has a
 * file belongs to another job.
 */
export async function findOrphan(
  ctx: WorkerContext,
  record: JobRecord,
  name: string,
  since: number,
  signal?: AbortSignal,
) {
  const candidates = await ctx.gcore.listVideos({ search: name, per_page: 100 }, signal ? { signal } : {});
  const origin = record.origin_url;
  return candidates
    .filter(
      (v) =>
        v.name === name &&
        Date.parse(v.created_at ?? '') >= since - 60_000 &&
        (origin === null ? v.status === 'empty' && !v.error : v.origin_url === origin),
    )
    .sort((a, b) => Date.parse(a.created_at ?? '') - Date.parse(b.created_at ?? ''))[0];
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
