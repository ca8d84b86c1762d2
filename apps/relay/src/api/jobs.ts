import type { RedisClient } from '@gtr/core';
import {
  AppError,
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
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { mayUse, principalOf, seesEveryJob } from '../auth.js';
import type { RelayFileStore } from '../ingest/file-store.js';
import type { UploadExpiry } from '../maintenance/expiry.js';
import { strictRouter } from '../routing.js';
import { cancelJob, retryJob } from './job-actions.js';
import { pageQuery } from './page-query.js';

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

const listQuery = pageQuery.extend({
  state: z.enum(JOB_STATES, { error: `state must be one of ${JOB_STATES.join(', ')}` }).optional(),
  kind: z.enum(JOB_KINDS, { error: `kind must be one of ${JOB_KINDS.join(', ')}` }).optional(),
  owner: z.string().max(64).optional(),
  q: z.string().max(500, 'q must be at most 500 characters').optional(),
  batch: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'batch must be a batch id')
    .optional(),
  since: z
    .string()
    .refine((v) => Number.isFinite(Date.parse(v)), 'since must be a date-time such as 2025-01-31T00:00:00Z')
    .transform((v) => Date.parse(v))
    .optional(),
});

/** GET/list, retry and cancel: the jobs API of the contract. */
export function jobsRouter(deps: JobsApiDeps): Router {
  const router = strictRouter();

  /** The job, if this principal may see it: another tool's job is answered as if it did not exist. */
  const load = async (req: Request, res: Response): Promise<JobRecord> => {
    const id = String(req.params.id);
    const job = ID.test(id) ? await deps.jobs.get(id) : null;
    const principal = principalOf(res);
    if (!job || !mayUse(principal, job.owner)) {
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
    const q = parsed.data.q?.trim() || undefined;
    const page = await deps.jobs.list({ ...parsed.data, q, owner });
    const items = await Promise.all(page.items.map((job) => deps.expiry.current(job)));
    res.json({ items: items.map(toPublicJob), next: page.next });
  });

  router.get('/api/jobs/:id', async (req, res) => {
    res.json(toPublicJob(await load(req, res)));
  });

  router.post('/api/jobs/:id/retry', async (req, res) => {
    res.status(202).json(toPublicJob(await retryJob(deps, await load(req, res))));
  });

  router.delete('/api/jobs/:id', async (req, res) => {
    const job = await load(req, res);
    const deleteVideo = String(req.query.delete_video ?? '').toLowerCase() === 'true';
    res.status(202).json(toPublicJob(await cancelJob(deps, job, { deleteVideo })));
  });

  return router;
}
