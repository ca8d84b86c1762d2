import type { Router } from 'express';
import { principalOf, seesEveryJob } from '../auth.js';
import { openUploadsReport, type UploadQuota } from '../ingest/quota.js';
import { strictRouter } from '../routing.js';

export interface OpenUploadsApiDeps {
  quota: UploadQuota;
  /** The configured tokens' names: an operator sees each, with zeros when it has nothing open. */
  owners: readonly string[];
}

/**
 * `GET /api/open-uploads`: the quota's limits and what each owner holds of them. A tool sees its
 * own line only; operators and admins see every owner's (as in the dashboard's summary).
 */
export function openUploadsRouter(deps: OpenUploadsApiDeps): Router {
  const router = strictRouter();
  router.get('/api/open-uploads', async (_req, res) => {
    const principal = principalOf(res);
    const everyone = seesEveryJob(principal);
    const owners = everyone ? deps.owners : principal ? [principal.name] : [];
    res.setHeader('Cache-Control', 'no-store');
    res.json(await openUploadsReport(deps.quota, owners, { others: everyone }));
  });
  return router;
}
