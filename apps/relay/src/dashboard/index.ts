import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '@gtr/core';
import { type JobRepository, type Logger, type RelayQueues, StatsCounters } from '@gtr/core';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { requireRole, type TokenResolver } from '../auth.js';
import { sendError } from '../http-errors.js';
import type { UploadQuota } from '../ingest/quota.js';
import { strictRouter } from '../routing.js';
import { requireBrowserToken } from './auth.js';
import { BULL_BOARD_PATH, bullBoardRouter } from './bull-board.js';
import { JobEvents } from './events.js';
import { dashboardSummary, type UpstreamInfo } from './summary.js';

export { requireBrowserToken } from './auth.js';
export type { DashboardSummary, UpstreamInfo } from './summary.js';

export interface DashboardDeps {
  /** The relay's token check; the dashboard takes a token as Bearer or as Basic auth's password. */
  resolve: TokenResolver;
  /** The configured tokens' names, for the owner filter. */
  owners: readonly string[];
  redis: RedisClient;
  jobs: JobRepository;
  /** Each owner's open uploads, for the summary. */
  quota: UploadQuota;
  queues: RelayQueues;
  /** Key prefix of the job records and the live stats. */
  prefix: string;
  upstream: UpstreamInfo | undefined;
  logger: Logger;
  now?: (() => number) | undefined;
}

export interface Dashboard {
  /** `/dashboard` (+ `/dashboard/assets/`), `/api/dashboard/summary`, `/api/events`, `/admin/queues`. */
  router: Router;
  /** Ends the live streams, so closing the HTTP server does not wait for them. */
  close(): Promise<void>;
}

// Same depth under src/ (Jest) and dist/ (node), so one relative path finds the package's static/.
const ASSETS = fileURLToPath(new URL('../../static/dashboard/', import.meta.url));
/** URL of the contract's compiled ES modules (job states, …): the page takes them from there. */
const CONTRACT_PATH = '/dashboard/assets/contract';
/** Its modules only: not their maps or declarations. */
const CONTRACT_MODULE = /^\/[a-z][\w-]*\.js$/;

/** The operators' jobs dashboard, its live feed, and bull-board, all behind a relay token. */
export function createDashboard(deps: DashboardDeps): Dashboard {
  const now = deps.now ?? Date.now;
  // The dashboard, its feed and bull-board are the operators': every job, every tool.
  const login = requireBrowserToken(deps.resolve);
  const operator = requireRole('operator');
  const auth = (req: Request, res: Response, next: NextFunction) =>
    login(req, res, () => operator(req, res, next));
  const stats = new StatsCounters(deps.redis, deps.prefix, now);
  const summary = () =>
    dashboardSummary({
      jobs: deps.jobs,
      quota: deps.quota,
      stats,
      queues: deps.queues,
      upstream: deps.upstream,
      owners: deps.owners,
      now,
    });
  const events = new JobEvents({ redis: deps.redis, jobs: deps.jobs, summary, logger: deps.logger });

  const router = strictRouter();
  router.get('/dashboard', auth, pageHeaders, (_req, res) => {
    res.sendFile('index.html', { root: ASSETS, headers: { 'Cache-Control': 'private, no-cache' } });
  });
  router.use(
    CONTRACT_PATH,
    auth,
    pageHeaders,
    (req: Request, res: Response, next: NextFunction) =>
      CONTRACT_MODULE.test(req.path) ? next() : sendError(res, 'NOT_FOUND', 'no such asset'),
    contractModules(),
    (_req: Request, res: Response) => sendError(res, 'NOT_FOUND', 'no such asset'),
  );
  router.use(
    '/dashboard/assets',
    auth,
    pageHeaders,
    express.static(ASSETS, {
      index: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'private, no-cache'),
    }),
    (_req: Request, res: Response) => sendError(res, 'NOT_FOUND', 'no such asset'),
  );
  router.get('/api/dashboard/summary', auth, async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await summary());
  });
  router.get('/api/events', auth, events.handle);
  // Our JSON parser first, so a malformed body gets the relay's error shape, not bull-board's.
  router.use(
    BULL_BOARD_PATH,
    auth,
    adminForWrites,
    express.json({ limit: '1mb' }),
    bullBoardRouter(deps.queues),
  );
  return { router, close: () => events.close() };
}

/**
 * The contract package's compiled modules (`dist/`, built by `tsc -b`), found on the first request
 * for them: the relay's other routes, and their tests, do not need the package built.
 */
function contractModules() {
  let serve: ReturnType<typeof express.static> | undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    serve ??= express.static(contractDist(), {
      index: false,
      setHeaders: (r) => r.setHeader('Cache-Control', 'private, no-cache'),
    });
    serve(req, res, next);
  };
}

/** The package's entry is in `dist/` (in `src/` under Jest, which maps packages to their sources). */
function contractDist(): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve('@gtr/contract'));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist');
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * bull-board's API is writable (add, retry, clean, obliterate, update data): a queued notify job
 * is a signed callback, a delete-video job deletes a video. Only admins may change anything there.
 */
function adminForWrites(req: Request, res: Response, next: NextFunction): void {
  if (READS.has(req.method)) {
    next();
    return;
  }
  requireRole('admin')(req, res, next);
}

/** The page shows names chosen by whoever uploaded: no inline script may ever run, and no framing. */
function pageHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}
