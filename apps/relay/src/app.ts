import fs from 'node:fs';
import path from 'node:path';
import type { RedisClient } from '@gtr/core';
import {
  BatchRepository,
  ensurePrivateDir,
  FleetTask,
  JobLifecycle,
  JobRepository,
  type Logger,
  QUEUE_PREFIX,
  type RelayQueues,
  redisManifestLock,
  type TokenEntry,
  UploadFeed,
  UploadManifests,
} from '@gtr/core';
import { MemoryLocker } from '@tus/server';
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
import { type GcoreHookSettings, gcoreHooksRouter } from './hooks.js';
import { errorMiddleware, sendError } from './http-errors.js';
import type { ImportSettings } from './imports/importer.js';
import { FinishedUploads } from './ingest/finished.js';
import { type QuotaLimits, UploadQuota } from './ingest/quota.js';
import { ReceiveHashes } from './ingest/receive-hash.js';
import { RedisLocker } from './ingest/redis-locker.js';
import { createTusIngest, type TusIngest } from './ingest/tus.js';
import { isTusPath, TUS_PATH, uploadIdOfRequest, uploadTargetOfRequest } from './ingest/upload-id.js';
import { Uploads } from './ingest/uploads.js';
import { UploadExpiry } from './maintenance/expiry.js';
import { type ReconcileReport, Reconciler } from './maintenance/reconciler.js';
import { Retention } from './maintenance/retention.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { strictRouting } from './routing.js';

export interface RelaySettings {
  /** Uploads go to `DATA_DIR/uploads`. */
  dataDir: string;
  /** Accepted tokens: entries with a name and role, or plain strings (tools' tokens). */
  tokens: readonly (string | TokenEntry)[];
  /** Bytes; 0 = no limit. */
  maxUploadSize: number;
  /** Milliseconds without a new byte after which unfinished uploads are removed. */
  uploadExpiryMs: number;
  /**
   * `FINISHED_UPLOAD_RETENTION`: how long after its last byte a finished upload's URL answers HEAD
   * as finished once its file is forwarded and removed. Default 7 days.
   */
  finishedUploadRetentionMs?: number;
  /**
   * `JOB_RETENTION`: milliseconds a job is kept after it reached a final state (a batch's jobs:
   * after the batch's last one did). Default 30 days.
   */
  jobRetentionMs?: number;
  /** Build TUS `Location` from X-Forwarded-* headers. Default false. */
  trustProxy?: boolean;
  /** `CORS_ORIGINS`: `*` (default) or the browser origins allowed on `/files` and the JSON API. */
  corsOrigins?: '*' | readonly string[];
  /**
   * `PUBLIC_URL`: the relay's external base URL (`https://relay.example.com`, maybe with a path).
   * When set, `Location` and every other URL the relay hands out are built from it, never from the
   * request's `Host` or forwarded headers.
   */
  publicUrl?: string | undefined;
  /**
   * `AUTH_FAILURE_LIMIT`: requests without a valid token per client address and minute before
   * that address gets 429 for a minute (counted in Redis); 0 turns it off. Default 20.
   */
  authFailuresPerMinute?: number;
  /** Copy-from-URL imports: `IMPORT_PREFLIGHT` and `IMPORT_ALLOW_PRIVATE`. Default: pre-flight on, public addresses only. */
  imports?: ImportSettings;
  /** The Gcore API the workers forward to, shown on the dashboard (`emulator`: the built-in one). */
  upstream?: { url: string; emulator: boolean };
  /**
   * `UPLOAD_LOCKER`, for benchmarks and single-relay debugging only: `memory` hands @tus/server
   * its MemoryLocker (unsafe with more than one relay); maintenance keeps the Redis locks.
   * Default `redis`.
   */
  uploadLocker?: 'redis' | 'memory';
  /**
   * Internal, for the bench's baseline only: `false` stops hashing uploads as they arrive (jobs
   * then have no `sha256` and the worker checks nothing). Default true.
   */
  receiveHash?: boolean;
  /**
   * `GCORE_WEBHOOK_PATH_SECRET` and `GCORE_WEBHOOK_SOURCES`: Gcore's status webhooks at
   * `POST /hooks/gcore/<secret>` (see hooks.ts). Default: no such route.
   */
  gcoreWebhooks?: GcoreHookSettings | undefined;
  /**
   * `FORWARD_MODE` and `FORWARD_CHUNK_SIZE`: whether uploads are forwarded while they arrive, and
   * the chunk that starts it. Default `stream`, 10 000 000 bytes.
   */
  forward?: { mode: 'stream' | 'store'; chunkSize: number };
  /**
   * `TOOL_MAX_OPEN_UPLOADS`, `TOOL_MAX_OPEN_BYTES` and `DISK_RESERVE_BYTES` (0 turns one off).
   * Defaults: 200 uploads, a quarter of the size of the upload dir's disk, and 5 % of that disk
   * but at most 1 GiB (the disk measured once, at start-up).
   */
  quota?: Partial<QuotaLimits>;
}

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

/** Builds the relay's HTTP app and its maintenance; listens nowhere (see main.ts). */
export function createRelayApp(deps: RelayDeps): Relay {
  const { settings, redis, queues, logger } = deps;
  const prefix = deps.prefix ?? QUEUE_PREFIX;
  const uploadDir = path.resolve(settings.dataDir, 'uploads');
  // 0700 whatever the umask (FileStore would make it 0777 & ~umask).
  ensurePrivateDir(uploadDir);

  const jobs = new JobRepository(redis, prefix, deps.now);
  const batches = new BatchRepository(redis, prefix, deps.now);
  const lifecycle = new JobLifecycle({ jobs, queues, logger });
  // Relays and workers share the upload dir: one lock per upload in Redis for everything that
  // reads or writes its file, one per manifest for its read-modify-writes.
  const locker = new RedisLocker({ redis, prefix, logger });
  const manifests = new UploadManifests(
    uploadDir,
    redisManifestLock(redis, prefix, (error, id) =>
      logger.warn({ err: error, uploadId: id }, 'manifest written without its lock (Redis unreachable)'),
    ),
  );
  const reconcileIntervalMs = deps.reconcileIntervalMs ?? 60_000;
  if (settings.uploadLocker === 'memory')
    logger.warn('UPLOAD_LOCKER=memory: TUS locks are in this process only (benchmarks; one relay only)');
  const expiryIntervalMs = deps.expiryIntervalMs ?? 600_000;
  const quota = new UploadQuota({
    redis,
    prefix,
    uploadDir,
    limits: quotaLimits(settings.quota ?? {}, uploadDir),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const metrics = createRelayMetrics(jobs, quota);
  const feed = new UploadFeed(redis, prefix);
  const hashes = settings.receiveHash === false ? null : new ReceiveHashes(uploadDir);
  const uploads = new Uploads({
    quota,
    feed,
    ...(settings.forward ? { forward: settings.forward } : {}),
    hashes,
    jobs,
    batches,
    lifecycle,
    manifests,
    queues,
    metrics,
    logger,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const finished = new FinishedUploads({
    jobs,
    retentionMs: settings.finishedUploadRetentionMs ?? 7 * 24 * 3_600_000,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const tus = createTusIngest({
    uploadDir,
    uploads,
    metrics,
    logger,
    maxUploadSize: settings.maxUploadSize,
    expiryMs: settings.uploadExpiryMs,
    trustProxy: settings.trustProxy ?? false,
    publicUrl: settings.publicUrl,
    corsOrigins: settings.corsOrigins ?? '*',
    expired: (id, tusSaysGone) => expiry.explains(id, tusSaysGone),
    finishedLength: (id) => finished.lengthOf(id),
    ownerOf: (id) => jobs.ownerOf(id),
    locker: settings.uploadLocker === 'memory' ? new MemoryLocker() : locker,
    hashes,
  });
  // Maintenance runs once for the fleet, under a lease, not once per relay.
  const reconciler = new Reconciler({
    jobs,
    manifests,
    store: tus.store,
    uploads,
    quota,
    locks: locker,
    queues,
    logger,
    fleet: new FleetTask(redis, prefix, 'reconcile', { periodMs: reconcileIntervalMs }),
  });
  const expiryTask = new FleetTask(redis, prefix, 'expiry', { periodMs: expiryIntervalMs });
  const expiry = new UploadExpiry({
    uploadDir,
    expiryMs: settings.uploadExpiryMs,
    jobs,
    lifecycle,
    manifests,
    store: tus.store,
    locks: locker,
    feed,
    queues,
    logger,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const retentionTask = new FleetTask(redis, prefix, 'retention', {
    periodMs: deps.retentionIntervalMs ?? 600_000,
  });
  const retention = new Retention({
    retentionMs: settings.jobRetentionMs ?? 30 * 86_400_000,
    jobs,
    batches,
    manifests,
    store: tus.store,
    logger,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const retain = (when: 'scheduled' | 'now' = 'now') =>
    retentionTask.run((signal, again) => retention.sweep(signal, again), when).then((n) => n ?? 0);
  const expire = (when: 'scheduled' | 'now' = 'now') =>
    expiryTask.run(() => expiry.sweep(), when).then((removed) => removed ?? 0);
  // A callback whose writer died before queueing it is delivered by whichever process looks first.
  const deliverCallbacks = () =>
    lifecycle
      .deliverDueCallbacks()
      .catch((error: unknown) => logger.warn({ err: error }, 'callback outbox pass failed'));

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

  const timers: NodeJS.Timeout[] = [];
  const reconcileSoon = (when: 'scheduled' | 'now') => {
    void deliverCallbacks();
    reconciler.run(when).catch((error: unknown) => logger.warn({ err: error }, `reconcile (${when}) failed`));
  };
  const onRedisReady = () => reconcileSoon('now');

  return {
    app,
    jobs,
    batches,
    lifecycle,
    manifests,
    uploads,
    tus,
    locker,
    metrics,
    uploadDir,
    quota,
    reconcile: () => reconciler.run('now'),
    expire: () => expire('now'),
    retain: () => retain('now'),
    async start() {
      await reconciler.run().catch((error: unknown) => logger.warn({ err: error }, 'first reconcile failed'));
      await expire().catch((error: unknown) => logger.warn({ err: error }, 'expiry pass failed'));
      void retain('scheduled').catch((error: unknown) =>
        logger.warn({ err: error }, 'retention pass failed'),
      );
      timers.push(setInterval(() => reconcileSoon('scheduled'), reconcileIntervalMs).unref());
      timers.push(
        setInterval(() => {
          expire('scheduled').catch((error: unknown) => logger.warn({ err: error }, 'expiry pass failed'));
        }, expiryIntervalMs).unref(),
      );
      timers.push(
        setInterval(() => {
          retain('scheduled').catch((error: unknown) => logger.warn({ err: error }, 'retention pass failed'));
        }, deps.retentionIntervalMs ?? 600_000).unref(),
      );
      redis.on('ready', onRedisReady);
    },
    stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      void dashboard.close();
      void locker.close();
      redis.off('ready', onRedisReady);
    },
  };
}

const GiB = 1024 ** 3;

/** The quota's limits: those given, and for the others the defaults, from the upload dir's disk as it is now. */
function quotaLimits(given: Partial<QuotaLimits>, uploadDir: string): QuotaLimits {
  const disk = (() => {
    try {
      const stats = fs.statfsSync(uploadDir);
      return stats.blocks * stats.bsize;
    } catch {
      return null;
    }
  })();
  return {
    maxOpenUploads: given.maxOpenUploads ?? 200,
    // A disk that cannot be measured leaves the bytes to the disk reserve (and ENOSPC).
    maxOpenBytes: given.maxOpenBytes ?? (disk === null ? 0 : Math.floor(disk / 4)),
    diskReserveBytes: given.diskReserveBytes ?? (disk === null ? GiB : Math.min(GiB, Math.floor(disk / 20))),
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
