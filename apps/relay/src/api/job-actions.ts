import {
  AppError,
  cancelChannel,
  ensureForwarding,
  ensureTracking,
  type JobLifecycle,
  type JobRecord,
  type Logger,
  type RedisClient,
  type RelayQueues,
  type UploadManifests,
} from '@gtr/core';
import type { RelayFileStore } from '../ingest/file-store.js';

/** What retrying and canceling a job touch: shared by the jobs and the batches API. */
export interface JobActionDeps {
  lifecycle: JobLifecycle;
  manifests: UploadManifests;
  store: RelayFileStore;
  queues: Pick<RelayQueues, 'forward' | 'import' | 'track' | 'notify'>;
  redis: RedisClient;
  queuePrefix?: string;
  logger: Logger;
}

/**
 * Tries a failed job again: from its first step, or (Gcore already holds the bytes) from
 * processing. Throws AppError JOB_NOT_FAILED (409) or FILE_GONE (409).
 */
export async function retryJob(deps: JobActionDeps, job: JobRecord): Promise<JobRecord> {
  if (job.state !== 'failed') {
    throw new AppError('JOB_NOT_FAILED', `only failed jobs can be retried; this one is ${job.state}`, 409);
  }
  if (job.kind === 'upload' && !job.progress.uploaded_at) {
    const upload = await deps.store.getUpload(job.id).catch(() => null);
    if (!upload || upload.size === undefined || upload.offset !== upload.size) {
      throw new AppError(
        'FILE_GONE',
        'the uploaded file is no longer on the relay (or was never finished); upload it again',
        409,
      );
    }
  }
  // Gcore already holds the bytes: only the processing is followed again.
  const nextState = job.progress.uploaded_at && job.video?.status !== 'error' ? 'processing' : 'queued';
  const updated = await deps.lifecycle.retry(job.id, nextState);
  if (!updated) throw new AppError('JOB_NOT_FAILED', 'the job changed state meanwhile; look again', 409);
  if (nextState === 'processing') await ensureTracking(deps.queues, job.id);
  else await ensureForwarding(deps.queues, job.id, job.kind, job.request.via);
  deps.logger.info({ jobId: job.id, state: nextState }, 'job retried');
  return updated;
}

/**
 * Cancels a job that has not finished (a canceled one is answered as it is). A ready job is
 * canceled only with `deleteVideo`; throws AppError JOB_FINISHED (409) otherwise.
 */
export async function cancelJob(
  deps: JobActionDeps,
  job: JobRecord,
  { deleteVideo = false }: { deleteVideo?: boolean } = {},
): Promise<JobRecord> {
  if (job.state === 'canceled') return job;
  if (job.state === 'ready' && !deleteVideo) {
    throw new AppError(
      'JOB_FINISHED',
      'the job is ready; add ?delete_video=true to delete the video too',
      409,
    );
  }
  const updated = await deps.lifecycle.cancel(job.id, { deleteVideo });
  if (!updated) throw new AppError('JOB_NOT_FOUND', 'the job is gone', 404);
  // Workers abort an in-flight transfer on this signal; a waiting job is simply dropped.
  await deps.redis.publish(cancelChannel(deps.queuePrefix), job.id);
  await removeWaiting(deps.queues, job.id);
  // A create whose answer was lost (no video id, but a create started) may have made a video too:
  // the worker looks it up (its waiting forward was just dropped, so nothing else would).
  const videoMade = updated.progress.video_id !== null || updated.progress.create_started_at !== null;
  if (deleteVideo && videoMade) {
    await deps.queues.forward.add('delete-video', { id: job.id }, { jobId: `delete-${job.id}` });
  }
  // Uploads and imports pulled through the relay both keep a local copy.
  await deps.store.discard(job.id);
  await deps.manifests.remove(job.id);
  deps.logger.info({ jobId: job.id, from: job.state, deleteVideo }, 'job canceled');
  return updated;
}

async function removeWaiting(
  queues: Pick<RelayQueues, 'forward' | 'import' | 'track'>,
  id: string,
): Promise<void> {
  for (const queue of [queues.forward, queues.import, queues.track]) {
    const job = await queue.getJob(id);
    // An active job is locked by its worker; the cancel signal stops it instead.
    if (job && !(await job.isActive())) await job.remove().catch(() => {});
  }
}
