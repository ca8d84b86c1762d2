import { AppError, toPublicJob } from '@gtr/core';
import { Router } from 'express';
import { principalOf } from '../auth.js';
import { Importer, type ImporterDeps } from '../imports/importer.js';

/** Most items one `POST /api/imports/batch` takes. */
export const MAX_BATCH_ITEMS = 10_000;

export type ImportsApiDeps = ImporterDeps;

/**
 * `POST /api/imports` (one copy-from-URL job) and `POST /api/imports/batch` (up to 10 000).
 * Both are idempotent per normalized origin URL, or per `idempotency_key` when an item has one.
 * Mount after the `/api` auth and JSON parser.
 */
export function importsRouter(deps: ImportsApiDeps): Router {
  const router = Router();
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
    const outcomes = await importer.importMany(items, principalOf(res) ?? null);
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
    res.status(202).json({ jobs, created, rejected });
  });

  return router;
}
