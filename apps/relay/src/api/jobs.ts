import type { RedisClient } from '@gtr/core';
import {
  AppError,
  cancelChannel,
  ensureForwarding,
  ensureTracking,
  JOB_KINDS,
  JOB_STATES,
  type JobLifecycle,
  type JobRecord,
  type JobRepository,
  type Logger,
  type RelayQueues,
  toPublicJob,
  type UploadManifests,
} from '@gtr/core';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { principalOf, seesEveryJob } from '../auth.js';
import type { RelayFileStore } from '../ingest/file-store.js';
import type { UploadExpiry } from '../maintenance/expiry.js';

export interface JobsApiDeps {
  jobs: JobRepository;
  lifecycle: JobLifecycle;
  expiry: UploadExpiry;
  manifests: UploadManifests;
  store: RelayFileStore;
  queues: Pick<RelayQueues, 'forward' | 'import' | 'track' | 'notify'>;
  redis: RedisClient;
  queuePrefix?: string;
  logger: Logger;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

const listQuery = z.object({
  state: z.enum(JOB_STATES, { error: `state must be one of ${JOB_STATES.join(', ')}` }).optional(),
  kind: z.enum(JOB_KINDS, { error: `kind must be one of ${JOB_KINDS.join(', ')}` }).optional(),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(500, 'limit must be at most 500')
    .optional(),
  cursor: z.string().regex(/^\d+$/, 'cursor must be the "next" value of a previous page').optional(),
  owner: z.string().max(64).optional(),
});

/** GET/list, retry and cancel: the jobs API of the contract. */
export function jobsRouter(deps: JobsApiDeps): Router {
  const router = Router();

  /** The job, if this principal may see it: another tool's job is answered as if it did not exist. */
  const load = async (req: Request, res: Response): Promise<JobRecord> => {
    const id = String(req.params.id);
    const job = ID.test(id) ? await deps.jobs.get(id) : null;
    const principal = principalOf(res);
    if (!job || !(seesEveryJob(principal) || job.owner === principal?.name)) {
      throw new AppError('JOB_NOT_FOUND', `no job with id "${id.slice(0, 128)}"`, 404);
    }
    return deps.expiry.current(job);
  };

  router.get('/api/jobs', async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) throw new AppError('INVALID_QUERY', parsed.error.issues[0]!.message, 400);
    const principal = principalOf(res);
    // A tool lists its own jobs only; operators may filter by owner.
    const owner = seesEveryJob(principal) ? parsed.data.owner : (principal?.name ?? '');
    const page = await deps.jobs.list({ ...parsed.data, owner });
    const items = await Promise.all(page.items.map((job) => deps.expiry.current(job)));
    res.json({ items: items.map(toPublicJob), next: page.next });
  });

  router.get('/api/jobs/:id', async (req, res) => {
    res.json(toPublicJob(await load(req, res)));
  });

  router.post('/api/jobs/:id/retry', async (req, res) => {
    const job = await load(req, res);
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
    res.status(202).json(toPublicJob(updated));
  });

  router.delete('/api/jobs/:id', async (req, res) => {
    const job = await load(req, res);
    const deleteVideo = String(req.query.delete_video ?? '').toLowerCase() === 'true';
    if (job.state === 'canceled') {
      res.status(202).json(toPublicJob(job));
      return;
    }
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
    if (deleteVideo && updated.progress.video_id !== null) {
      await deps.queues.forward.add('delete-video', { id: job.id }, { jobId: `delete-${job.id}` });
    }
    // Uploads and imports pulled through the relay both keep a local copy.
    await deps.store.discard(job.id);
    await deps.manifests.remove(job.id);
    deps.logger.info({ jobId: job.id, from: job.state, deleteVideo }, 'job canceled');
    res.status(202).json(toPublicJob(updated));
  });

  return router;
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
