import fs from 'node:fs';
import path from 'node:path';
import {
  BatchRepository,
  ensurePrivateDir,
  JobLifecycle,
  JobRepository,
  QUEUE_PREFIX,
  redisManifestLock,
  UploadFeed,
  UploadManifests,
} from '@gtr/core';
import { MemoryLocker } from '@tus/server';
import type { RelayDeps } from './app.js';
import { FinishedUploads } from './ingest/finished.js';
import { type QuotaLimits, UploadQuota } from './ingest/quota.js';
import { ReceiveHashes } from './ingest/receive-hash.js';
import { RedisLocker } from './ingest/redis-locker.js';
import { createTusIngest, type TusIngest } from './ingest/tus.js';
import { Uploads } from './ingest/uploads.js';
import { UploadExpiry } from './maintenance/expiry.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';

/** What one relay works with, built once from its deps and shared by its routes and its maintenance. */
export interface RelayServices {
  prefix: string;
  uploadDir: string;
  jobs: JobRepository;
  batches: BatchRepository;
  lifecycle: JobLifecycle;
  /** Redis locks: one per upload for everything that touches its file (relays and workers share the dir). */
  locker: RedisLocker;
  manifests: UploadManifests;
  /** Each owner's unfinished uploads and the limits on them. */
  quota: UploadQuota;
  metrics: RelayMetrics;
  feed: UploadFeed;
  uploads: Uploads;
  tus: TusIngest;
  /** Unfinished uploads past UPLOAD_EXPIRY: swept by the maintenance, explained to TUS clients. */
  expiry: UploadExpiry;
}

/** Builds the relay's services (the upload dir created 0700); starts nothing. */
export function createRelayServices(deps: RelayDeps): RelayServices {
  const { settings, redis, queues, logger } = deps;
  const now = deps.now ? { now: deps.now } : {};
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
  if (settings.uploadLocker === 'memory')
    logger.warn('UPLOAD_LOCKER=memory: TUS locks are in this process only (benchmarks; one relay only)');
  const quota = new UploadQuota({
    redis,
    prefix,
    uploadDir,
    limits: quotaLimits(settings.quota ?? {}, uploadDir),
    ...now,
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
    ...now,
  });
  const finished = new FinishedUploads({
    jobs,
    retentionMs: settings.finishedUploadRetentionMs ?? 7 * 24 * 3_600_000,
    ...now,
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
    ...now,
  });
  return {
    prefix,
    uploadDir,
    jobs,
    batches,
    lifecycle,
    locker,
    manifests,
    quota,
    metrics,
    feed,
    uploads,
    tus,
    expiry,
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
