import {
  AppError,
  BATCH_EXPORT_COLUMNS,
  type BatchExportRow,
  BatchRepository,
  FINAL_STATES,
  type JobRecord,
  type JobRepository,
  type JobState,
  type Principal,
  type PublicBatch,
} from '@gtr/core';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { mayUse, principalOf, seesEveryJob } from '../auth.js';
import { strictRouter } from '../routing.js';
import { cancelJob, type JobActionDeps, retryJob } from './job-actions.js';
import { pageQuery } from './page-query.js';

export interface BatchesApiDeps extends JobActionDeps {
  jobs: JobRepository;
  batches: BatchRepository;
}

const listQuery = pageQuery.extend({
  owner: z.string().max(64).optional(),
});

const createBody = z.object({
  name: z.string().trim().min(1, 'name must not be empty').max(255, 'name must be at most 255 characters'),
});

/** Batch `id`, if this principal may see it: another tool's is answered as if it did not exist. */
export async function visibleBatch(
  batches: BatchRepository,
  id: string,
  principal: Principal | undefined,
): Promise<PublicBatch> {
  const batch = BatchRepository.isId(id) ? await batches.get(id) : null;
  if (!batch || !mayUse(principal, batch.owner)) {
    throw new AppError('BATCH_NOT_FOUND', `no batch with id "${id.slice(0, 64)}"`, 404);
  }
  return batch;
}

/** Jobs read per round when a batch is walked (retry, cancel, export). */
const PAGE = 500;

/**
 * `GET /api/batches`, `POST /api/batches` (an empty batch, for uploads to join), and per batch:
 * `GET`, `POST …/retry` (its failed jobs), `DELETE` (cancels what has not finished) and
 * `GET …/export?format=csv|json` (one row per job, streamed). Tools see only their own batches.
 */
export function batchesRouter(deps: BatchesApiDeps): Router {
  const router = strictRouter();

  const load = (req: Request, res: Response): Promise<PublicBatch> =>
    visibleBatch(deps.batches, String(req.params.id), principalOf(res));

  /** Every job of the batch in `states`, in pages, through the index that is smaller. */
  async function* jobsIn(batch: string, states: readonly JobState[]): AsyncGenerator<JobRecord> {
    for (const state of states) {
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<JobRepository['list']>> = await deps.jobs.list({
          batch,
          state,
          limit: PAGE,
          cursor,
        });
        yield* page.items;
        cursor = page.next;
      } while (cursor);
    }
  }

  router.get('/api/batches', async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) throw new AppError('INVALID_QUERY', parsed.error.issues[0]!.message, 400);
    const principal = principalOf(res);
    const owner = seesEveryJob(principal) ? parsed.data.owner : (principal?.name ?? '');
    res.json(await deps.batches.list({ ...parsed.data, owner }));
  });

  router.post('/api/batches', async (req, res) => {
    const parsed = createBody.safeParse(req.body ?? {});
    if (!parsed.success) throw new AppError('INVALID_FIELD', parsed.error.issues[0]!.message, 400);
    const batch = await deps.batches.create({
      name: parsed.data.name,
      owner: principalOf(res)?.name ?? null,
    });
    deps.logger.info({ batch: batch.id, name: batch.name }, 'batch created');
    res.status(201).json(batch);
  });

  router.get('/api/batches/:id', async (req, res) => {
    res.json(await load(req, res));
  });

  router.post('/api/batches/:id/retry', async (req, res) => {
    const batch = await load(req, res);
    let retried = 0;
    const refused: Array<{ job_id: string; error: { code: string; message: string } }> = [];
    for await (const job of jobsIn(batch.id, ['failed'])) {
      try {
        await retryJob(deps, job);
        retried++;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        refused.push({ job_id: job.id, error: { code: error.code, message: error.message } });
      }
    }
    deps.logger.info({ batch: batch.id, retried, refused: refused.length }, 'batch retried');
    res.status(202).json({ batch: await deps.batches.get(batch.id), retried, refused });
  });

  router.delete('/api/batches/:id', async (req, res) => {
    const batch = await load(req, res);
    const open = (Object.keys(batch.counts) as JobState[]).filter((s) => !FINAL_STATES.includes(s));
    let canceled = 0;
    for await (const job of jobsIn(batch.id, open)) {
      // A job that finished meanwhile is left as it is.
      if (
        await cancelJob(deps, job).then(
          (updated) => updated.state === 'canceled',
          () => false,
        )
      )
        canceled++;
    }
    deps.logger.info({ batch: batch.id, canceled }, 'batch canceled');
    res.status(202).json({ batch: await deps.batches.get(batch.id), canceled });
  });

  router.get('/api/batches/:id/export', async (req, res) => {
    const batch = await load(req, res);
    const format = String(req.query.format ?? 'csv');
    if (format !== 'csv' && format !== 'json') {
      throw new AppError('INVALID_QUERY', 'format must be csv or json', 400);
    }
    res.status(200);
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json');
    res.setHeader('Content-Disposition', `attachment; filename="batch-${batch.id}.${format}"`);
    res.setHeader('Cache-Control', 'no-store');
    // A client that goes away while the answer waits for `drain` ends the wait (`close`), not the
    // process: the loop below then sees the response destroyed and stops.
    const write = async (chunk: string) => {
      if (res.write(chunk) || res.destroyed) return;
      await new Promise<void>((resume) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resume();
        };
        res.on('drain', done).on('close', done);
      });
    };
    await write(format === 'csv' ? `${BATCH_EXPORT_COLUMNS.join(',')}\r\n` : '[');
    let first = true;
    let after: number | null = null;
    // One page of job ids at a time, in the order the jobs were made: never the whole batch.
    for (;;) {
      if (res.destroyed) return;
      const ids = await deps.batches.jobIds(batch.id, after, PAGE);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!.seq;
      const records = await deps.jobs.getMany(ids.map((i) => i.id));
      let chunk = '';
      for (const record of records) {
        const row = exportRow(record);
        if (format === 'csv') chunk += `${BATCH_EXPORT_COLUMNS.map((c) => csvCell(row[c])).join(',')}\r\n`;
        else {
          chunk += `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
          first = false;
        }
      }
      await write(chunk);
    }
    res.end(format === 'csv' ? '' : '\n]\n');
  });

  return router;
}

export function exportRow(job: JobRecord): BatchExportRow {
  return {
    index: job.batch_index ?? null,
    origin_url: job.origin_url,
    idempotency_key: job.request.idempotency_key ?? null,
    job_id: job.id,
    name: job.name,
    state: job.state,
    video_id: job.video?.id ?? job.progress.video_id ?? null,
    slug: job.video?.slug ?? null,
    hls_url: job.video?.hls_url ?? null,
    error_code: job.error?.code ?? null,
    error: job.error?.message ?? null,
  };
}

/**
 * RFC 4180 quoting; a text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`,
 * tab, CR first) gets a leading `'` (names and messages come from uploaders and Gcore).
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
