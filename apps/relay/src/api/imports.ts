import { AppError, type BatchRepository, type Principal, type PublicBatch, toPublicJob } from '@gtr/core';
import type { Router } from 'express';
import { principalOf } from '../auth.js';
import { Importer, type ImporterDeps } from '../imports/importer.js';
import { strictRouter } from '../routing.js';
import { visibleBatch } from './batches.js';

/** Most items one `POST /api/imports/batch` takes. */
export const MAX_BATCH_ITEMS = 10_000;

export interface ImportsApiDeps extends ImporterDeps {
  batches: BatchRepository;
}

/**
 * `POST /api/imports` (one copy-from-URL job) and `POST /api/imports/batch` (up to 10 000).
 * Both are idempotent per normalized origin URL, or per `idempotency_key` when an item has one.
 * Mount after the `/api` auth and JSON parser.
 */
export function importsRouter(deps: ImportsApiDeps): Router {
  const router = strictRouter();
  const importer = new Importer(deps);

  router.post('/api/imports', async (req, res) => {
    const [outcome] = await importer.importMany([req.body], principalOf(res) ?? null);
    if (!outcome) throw new AppError('INTERNAL_ERROR', 'the import was not handled', 500);
    if (outcome.error) throw outcome.error;
    res.status(outcome.created ? 202 : 200).json(toPublicJob(outcome.job));
  });

  router.post('/api/imports/batch', async (req, res) => {
    const items: unknown = (req.body as { items?: unknown } | undefined)?.items;
    if (!Array.isArray(items)) {
      throw new AppError('INVALID_BATCH', 'the body must be {"items": [import, …]}', 400);
    }
    if (items.length > MAX_BATCH_ITEMS) {
      throw new AppError(
        'BATCH_TOO_LARGE',
        `a batch takes at most ${MAX_BATCH_ITEMS} items, this one has ${items.length}; split it`,
        413,
      );
    }
    const principal = principalOf(res) ?? null;
    const rawName: unknown = (req.body as { name?: unknown }).name;
    if (rawName !== undefined && (typeof rawName !== 'string' || !rawName.trim() || rawName.length > 255)) {
      throw new AppError('INVALID_FIELD', 'name must be a non-empty string of at most 255 characters', 400);
    }
    const named = await joining(req.body as { batch?: unknown }, principal);
    const name = (rawName as string | undefined)?.trim() || defaultBatchName(items.length);
    const fresh = named ?? (await deps.batches.create({ name, owner: principal?.name ?? null }));
    const outcomes = await importer.importMany(items, principal, { batch: fresh.id });
    const jobs = [];
    // Parallel to `jobs` (not a field of each job, whose shape the contract fixes): whether this
    // request made the job. An item repeated in the batch is created once, at its first index.
    const created: boolean[] = [];
    const rejected = [];
    for (const outcome of outcomes) {
      if (outcome.error) {
        rejected.push({
          index: outcome.index,
          error: { code: outcome.error.code, message: outcome.error.message },
        });
      } else {
        jobs.push(toPublicJob(outcome.job));
        created.push(outcome.created);
      }
    }
    const batch = named ? await deps.batches.get(named.id) : await batchOf(fresh, jobs);
    res.status(202).json({ jobs, created, rejected, batch });
  });

  /** The existing batch a request's `batch` names (a migration sent in several requests), or null. */
  async function joining(
    body: { batch?: unknown },
    principal: Principal | null,
  ): Promise<PublicBatch | null> {
    if (body.batch === undefined || body.batch === null) return null;
    return visibleBatch(
      deps.batches,
      typeof body.batch === 'string' ? body.batch : '',
      principal ?? undefined,
    );
  }

  /**
   * The new batch when this request made jobs into it. Otherwise it is dropped, and the answer is
   * the batch all its jobs are in (the same batch sent again), or null.
   */
  async function batchOf(
    fresh: PublicBatch,
    jobs: Array<{ batch: string | null }>,
  ): Promise<PublicBatch | null> {
    const current = await deps.batches.get(fresh.id);
    if (current && current.total > 0) return current;
    await deps.batches.forget(fresh.id);
    const ids = new Set(jobs.map((j) => j.batch));
    const [only] = ids;
    return ids.size === 1 && only ? deps.batches.get(only) : null;
  }

  return router;
}

function defaultBatchName(items: number): string {
  return `${items} imports, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
