import type {
  BatchRepository,
  JobLifecycle,
  JobRepository,
  Logger,
  RedisClient,
  RelayQueues,
  UploadManifests,
} from '@gtr/core';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import { batchesRouter } from './api/batches.js';
import { importsRouter } from './api/imports.js';
import { jobsRouter } from './api/jobs.js';
import { openUploadsRouter } from './api/open-uploads.js';
import { openapiRouter } from './api/openapi.js';
import { createTokenResolver, requireRole, requireToken, tokenEntries } from './auth.js';
import { AuthFailureThrottle, useAuthFailureThrottle } from './auth-failures.js';
import { allowedOrigin } from './cors.js';
import { createDashboard, requireBrowserToken } from './dashboard/index.js';
import { healthRouter } from './health.js';
import { gcoreHooksRouter } from './hooks.js';
import { errorMiddleware, sendError } from './http-errors.js';
import type { UploadQuota } from './ingest/quota.js';
import type { RedisLocker } from './ingest/redis-locker.js';
import type { TusIngest } from './ingest/tus.js';
import { isTusPath, TUS_PATH, uploadIdOfRequest, uploadTargetOfRequest } from './ingest/upload-id.js';
import type { Uploads } from './ingest/uploads.js';
import type { ReconcileReport } from './maintenance/reconciler.js';
import { scheduleMaintenance } from './maintenance/schedule.js';
import type { RelayMetrics } from './metrics.js';
import { strictRouting } from './routing.js';
import { createRelayServices } from './services.js';
import type { RelaySettings } from './settings.js';

export type { RelaySettings } from './settings.js';

export interface RelayDeps {
  settings: RelaySettings;
  /** A `client`-role connection: commands fail fast during an outage instead of hanging requests. */
  redis: RedisClient;
  queues: RelayQueues;
  logger: Logger;
  /** Key prefix for job records and queues. Default `gtr`. */
  prefix?: string;
  now?: () => number;
  /** Default 60 s. */
  reconcileIntervalMs?: number;
  /** Default 10 min. */
  expiryIntervalMs?: number;
  /** How often the JOB_RETENTION sweep runs (once per fleet). Default 10 min. */
  retentionIntervalMs?: number;
  /** More registries served at `/metrics` (the all-in-one process adds the worker's). */
  extraMetrics?: Registry[];
}

export interface Relay {
  app: Express;
  jobs: JobRepository;
  batches: BatchRepository;
  lifecycle: JobLifecycle;
  manifests: UploadManifests;
  uploads: Uploads;
  tus: TusIngest;
  locker: RedisLocker;
  metrics: RelayMetrics;
  uploadDir: string;
  /** Each owner's unfinished uploads and the limits on them. */
  quota: UploadQuota;
  /** One reconcile pass, unless another relay of the fleet is running one. */
  reconcile(): Promise<ReconcileReport>;
  /** One expiry sweep, unless another relay of the fleet is running one. */
  expire(): Promise<number>;
  /** One JOB_RETENTION sweep, unless another relay of the fleet is running one; answers the jobs removed. */
  retain(): Promise<number>;
  /** Reconciles once and starts the periodic maintenance. */
  start(): Promise<void>;
  /** Stops the periodic maintenance (the HTTP server is closed by whoever listens). */
  stop(): void;
}

/** Builds the relay's HTTP app on its services, and its maintenance; listens nowhere (see main.ts). */
export function createRelayApp(deps: RelayDeps): Relay {
  const { settings, redis, queues, logger } = deps;
  const services = createRelayServices(deps);
  const { prefix, uploadDir, jobs, batches, lifecycle, manifests, quota, metrics, tus, expiry } = services;
  const maintenance = scheduleMaintenance({
    services,
    redis,
    queues,
    logger,
    now: deps.now,
    reconcileIntervalMs: deps.reconcileIntervalMs,
    expiryIntervalMs: deps.expiryIntervalMs,
    retentionIntervalMs: deps.retentionIntervalMs,
    jobRetentionMs: settings.jobRetentionMs,
  });

  const app = strictRouting(express());
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // Names and filenames come from uploaders: no response may ever be sniffed as HTML.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.set('trust proxy', settings.trustProxy ?? false);
  const failuresPerMinute = settings.authFailuresPerMinute ?? 20;
  useAuthFailureThrottle(
    app,
    failuresPerMinute > 0
      ? new AuthFailureThrottle({ redis, prefix, perMinute: failuresPerMinute, logger })
      : undefined,
  );
  app.use(
    pinoHttp({
      logger,
      autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
      customProps: (req, res) => ({
        uploadId: uploadIdOfRequest(req) ?? undefined,
        owner: (res as unknown as Response).locals?.principal?.name,
      }),
      // No serializer of its own: credential headers, Upload-Metadata's values, query values and
      // the webhook secret path are the logger's to hide (@gtr/core's log-redaction.ts).
    }),
  );
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      end({ method: req.method, route: routeLabel(req), status: String(res.statusCode) });
    });
    next();
  });
  app.use(corsFor(settings.corsOrigins ?? '*'));
  app.use(healthRouter(redis, uploadDir, prefix));
  // No token: Gcore sends none. The secret path is the proof; a wrong one falls through to 401/404.
  if (settings.gcoreWebhooks)
    app.use(gcoreHooksRouter({ settings: settings.gcoreWebhooks, jobs, queues, logger }));

  const entries = tokenEntries(settings.tokens);
  const resolve = createTokenResolver(entries);
  const auth = requireToken(resolve);
  const owners = [...new Set(entries.map((e) => e.name))].sort();
  const dashboard = createDashboard({
    ...deps,
    resolve,
    owners,
    jobs,
    quota,
    prefix,
    upstream: settings.upstream,
  });
  // TUS first, and with no body parser: the request body is the upload itself.
  app.all([TUS_PATH, `${TUS_PATH}/{*splat}`], auth, (req, res, next) => {
    tus.handle(req, res).catch(next);
  });
  app.get('/metrics', auth, requireRole('operator'), async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    const registries = [metrics.registry, ...(deps.extraMetrics ?? [])];
    res.send((await Promise.all(registries.map((r) => r.metrics()))).join('\n'));
  });
  app.use(dashboard.router);
  // The dashboard's buttons call the jobs API with the browser's Basic login.
  app.use('/api', requireBrowserToken(resolve, { challenge: false }), express.json({ limit: '16mb' }));
  app.use(openapiRouter());
  app.use(openUploadsRouter({ quota, owners }));
  app.use(
    jobsRouter({
      jobs,
      lifecycle,
      expiry,
      manifests,
      store: tus.store,
      queues,
      redis,
      queuePrefix: prefix,
      logger,
    }),
  );
  app.use(
    batchesRouter({
      jobs,
      batches,
      lifecycle,
      manifests,
      store: tus.store,
      queues,
      redis,
      queuePrefix: prefix,
      logger,
    }),
  );
  app.use(
    importsRouter({
      jobs,
      batches,
      queues,
      redis,
      prefix,
      logger,
      settings: settings.imports ?? { preflight: true, allowPrivate: false },
      maxUploadSize: settings.maxUploadSize,
    }),
  );
  // Unknown paths answer 401 without a token (routes cannot be discovered), 404 with one.
  app.use(requireBrowserToken(resolve, { challenge: false }), (_req: Request, res: Response) => {
    sendError(res, 'NOT_FOUND', 'no such route');
  });
  app.use(errorMiddleware(logger));

  return {
    app,
    jobs,
    batches,
    lifecycle,
    manifests,
    uploads: services.uploads,
    tus,
    locker: services.locker,
    metrics,
    uploadDir,
    quota,
    reconcile: maintenance.reconcile,
    expire: maintenance.expire,
    retain: maintenance.retain,
    start: maintenance.start,
    stop() {
      maintenance.stop();
      void dashboard.close();
      void services.locker.close();
    },
  };
}

/** The `route` label of `relay_http_request_duration_seconds`: TUS requests by what they name. */
function routeLabel(req: Request): string {
  const target = uploadTargetOfRequest(req);
  if (target.kind === 'upload') return `${TUS_PATH}/:id`;
  if (target.kind === 'creation') return TUS_PATH;
  return isTusPath(req.path) ? 'unmatched' : String(req.route?.path ?? 'unmatched');
}

/** CORS for the JSON API; the TUS routes get theirs (with the TUS headers exposed) from @tus/server. */
function corsFor(origins: '*' | readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isTusPath(req.path)) {
      next();
      return;
    }
    const allowed = allowedOrigin(origins, req.get('origin'));
    if (allowed) res.setHeader('Access-Control-Allow-Origin', allowed);
    if (origins !== '*') res.vary('Origin');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
    res.setHeader('Access-Control-Max-Age', '600');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}
