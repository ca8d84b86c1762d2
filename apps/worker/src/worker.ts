import path from 'node:path';
import {
  ApiPacer,
  CreateLocks,
  FORWARDING,
  type ForwardJobData,
  type ForwardJobName,
  JobLifecycle,
  JobRepository,
  type Logger,
  type NotifyJobData,
  QUEUE_PREFIX,
  QUEUES,
  type RedisClient,
  type RelayQueues,
  RepeatedErrorLog,
  type ResolveHost,
  redisManifestLock,
  relayKeys,
  StatsCounters,
  systemResolve,
  type TrackJobData,
  UploadFeed,
  UploadWatcher,
} from '@gtr/core';
import { backoffDelay, GcoreClient, retryBackoff } from '@gtr/gcore';
import { type BackoffStrategy, type Job, RateLimitError, UnrecoverableError, Worker } from 'bullmq';
import { CreateBatcher } from './batching/create-batcher.js';
import { StatusBoard } from './batching/status-board.js';
import { CancelRegistry } from './cancellation.js';
import type { WorkerContext, WorkerSettings } from './context.js';
import { forwardProcessor } from './forward/processor.js';
import { WorkerManifests } from './manifests.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { notifyProcessor } from './notify.js';
import { trackProcessor } from './track.js';
import { type WatchdogOptions, WorkerWatchdog } from './watchdog.js';

export interface GcoreSettings {
  apiUrl: string;
  apiKey: string;
  /** Ceiling on API requests per second, shared by every worker process. */
  requestsPerSecond: number;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
}

export interface WorkerDeps {
  settings: WorkerSettings;
  gcore: GcoreSettings;
  /** A `worker`-role connection (`maxRetriesPerRequest: null`): workers wait through outages. */
  redis: RedisClient;
  queues: RelayQueues;
  logger: Logger;
  prefix?: string;
  now?: () => number;
  /** Name resolution for callbacks (default the system's); tests map names to loopback. */
  resolve?: ResolveHost;
  /** BullMQ lock settings; tests shorten them so a killed worker's job is picked up sooner. */
  lock?: { durationMs: number; stalledIntervalMs: number };
  /** When a worker that stopped taking jobs is replaced. Default: looked at every 10 s, replaced after 30 s. */
  watchdog?: WatchdogOptions;
}

export interface RelayWorkers {
  forward: Worker<ForwardJobData, unknown, ForwardJobName>;
  import: Worker<ForwardJobData, unknown, ForwardJobName>;
  track: Worker<TrackJobData>;
  notify: Worker<NotifyJobData>;
}

export interface RelayWorker {
  metrics: WorkerMetrics;
  context: WorkerContext;
  /** The BullMQ workers now; the watchdog may replace one, so read them from here each time. */
  workers: RelayWorkers;
  /** Stops taking jobs, aborts transfers in flight (they go back to the queue) and closes. */
  close(): Promise<void>;
}

/** The queues' `backoff: { type: RETRY_BACKOFF, delay }`, by the project's one backoff policy. */
const retryDelay: BackoffStrategy = (attemptsMade, _type, _error, job) => {
  const backoff = job?.opts.backoff;
  const first = typeof backoff === 'object' ? (backoff.delay ?? 1_000) : (backoff ?? 1_000);
  return backoffDelay(retryBackoff(first), attemptsMade);
};

/** Builds and starts the BullMQ workers for the forward, track and notify queues. */
export async function createWorker(deps: WorkerDeps): Promise<RelayWorker> {
  const { redis, queues, logger } = deps;
  const prefix = deps.prefix ?? QUEUE_PREFIX;
  const now = deps.now ?? Date.now;
  const metrics = createWorkerMetrics();
  const errors = new RepeatedErrorLog(logger);
  const stats = new StatsCounters(redis, prefix, now);
  const pacer = new ApiPacer(redis, deps.gcore.requestsPerSecond, relayKeys(prefix).gcorePace);
  const gcore = new GcoreClient({
    baseUrl: deps.gcore.apiUrl,
    apiKey: deps.gcore.apiKey,
    timeoutMs: deps.gcore.timeoutMs ?? 30_000,
    beforeRequest: async ({ signal }) => {
      await pacer.take(signal);
    },
    onResponse: ({ route, status }) => {
      metrics.gcoreRequests.inc({ route, status: String(status) });
      if (status === 429) {
        metrics.rateLimited.inc({ source: 'api' });
        stats.recordRateLimited().catch(() => {});
      }
    },
  });
  const cancels = new CancelRegistry(logger, prefix);
  await cancels.listen(redis);
  const watcher = new UploadWatcher(redis, prefix);
  await watcher.start();
  const uploadDir = path.resolve(deps.settings.dataDir, 'uploads');
  const settings = deps.settings;
  const jobs = new JobRepository(redis, prefix, now);
  const context: WorkerContext = {
    settings: {
      ...settings,
      stallTimeoutMs: settings.stallTimeoutMs ?? 60_000,
      streamParkAfterMs: settings.streamParkAfterMs ?? 30_000,
      tokenMaxAgeMs: settings.tokenMaxAgeMs ?? 3.5 * 3_600_000,
      trackIntervalMs: settings.trackIntervalMs ?? { first: 1_000, max: 30_000 },
      trackTimeoutMs: settings.trackTimeoutMs ?? 24 * 3_600_000,
      trackStallMs: settings.trackStallMs ?? 2 * 3_600_000,
      allowInsecureUpload: settings.allowInsecureUpload ?? false,
      importConcurrency: settings.importConcurrency ?? 100,
      importAllowPrivate: settings.importAllowPrivate ?? false,
      maxUploadSize: settings.maxUploadSize ?? 0,
      videoDefaults: settings.videoDefaults ?? {},
      callbackSecret: settings.callbackSecret,
      callbackLegacySignature: settings.callbackLegacySignature ?? false,
      callbackAllowPrivate: settings.callbackAllowPrivate ?? false,
      callbackAllowedHosts: settings.callbackAllowedHosts ?? [],
    },
    uploadDir,
    jobs,
    lifecycle: new JobLifecycle({ jobs, queues, logger }),
    manifests: new WorkerManifests(
      uploadDir,
      logger,
      redisManifestLock(redis, prefix, (error, id) =>
        logger.warn({ err: error, uploadId: id }, 'manifest written without its lock (Redis unreachable)'),
      ),
    ),
    queues,
    gcore,
    createLocks: new CreateLocks(redis, prefix),
    creator: new CreateBatcher(gcore, { logger }),
    // A video whose status changed, seen in passing by a list call: its tracker looks now. An
    // answer stands for no longer than the shortest poll interval, so no tracker looks less often.
    statuses: new StatusBoard(gcore, {
      freshMs: Math.min(5_000, (settings.trackIntervalMs ?? { first: 1_000 }).first),
      onChange: (video) =>
        void promoteTracker(jobs, queues, video.id).catch((error: unknown) =>
          logger.debug({ err: error, videoId: video.id }, 'tracker not brought forward'),
        ),
    }),
    pacer,
    stats,
    cancels,
    feed: new UploadFeed(redis, prefix),
    watcher,
    metrics,
    logger,
    now,
    resolve: deps.resolve ?? systemResolve,
  };

  const common = {
    connection: redis,
    prefix,
    settings: { backoffStrategy: retryDelay },
    ...(deps.lock
      ? { lockDuration: deps.lock.durationMs, stalledInterval: deps.lock.stalledIntervalMs }
      : {}),
  };
  // Builders, so that the watchdog can replace a worker that stopped taking jobs.
  const build: { [K in keyof RelayWorkers]: () => RelayWorkers[K] } = {
    forward: () =>
      new Worker<ForwardJobData, unknown, ForwardJobName>(QUEUES.forward, forwardProcessor(context), {
        ...common,
        concurrency: settings.concurrency,
        // A killed worker's job comes back as stalled; allow that more than once before failing it.
        maxStalledCount: 10,
        // queue.rateLimit() (after a 429) only applies to workers that have a limiter.
        limiter: { max: 10_000, duration: 1_000 },
      }),
    import: () =>
      new Worker<ForwardJobData, unknown, ForwardJobName>(QUEUES.import, forwardProcessor(context), {
        ...common,
        concurrency: context.settings.importConcurrency,
        maxStalledCount: 10,
        limiter: { max: 10_000, duration: 1_000 },
      }),
    // A look at Gcore mostly waits for the StatusBoard's next list call (100 ids each): as many
    // looks at once as one call answers, so a migration's videos are looked at 100 a call.
    track: () =>
      new Worker<TrackJobData>(QUEUES.track, trackProcessor(context), {
        ...common,
        concurrency: TRACK_CONCURRENCY,
      }),
    notify: () =>
      new Worker<NotifyJobData>(QUEUES.notify, notifyProcessor(context), {
        ...common,
        concurrency: 10,
      }),
  };
  // Safety net: a job BullMQ gives up on must not stay "uploading" for ever in the relay's records.
  const onGaveUp = (job: Job<ForwardJobData, unknown, ForwardJobName> | undefined, error: Error) => {
    if (!job || job.name === 'delete-video' || error instanceof RateLimitError) return;
    if (job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError)) return;
    context.lifecycle
      .fail(job.data.id, { code: 'FORWARD_FAILED', message: error.message, retryable: true }, FORWARDING)
      .catch((e: unknown) =>
        logger.warn({ err: e, jobId: job.data.id }, 'could not record a failed forward'),
      );
  };
  const start = <K extends keyof RelayWorkers>(key: K): RelayWorkers[K] => {
    const worker = build[key]();
    if (key === 'forward' || key === 'import') {
      (worker as RelayWorkers['forward']).on('failed', onGaveUp);
    }
    // BullMQ emits the same error again and again while Redis refuses its commands: bounded lines.
    worker.on('error', errors.handler('worker error', { queue: worker.name }));
    return worker;
  };
  const workers: RelayWorkers = {
    forward: start('forward'),
    import: start('import'),
    track: start('track'),
    notify: start('notify'),
  };
  const all = () => [workers.forward, workers.import, workers.track, workers.notify];
  const retiring = new Set<Promise<void>>();
  const watchdog = new WorkerWatchdog({
    slots: (Object.keys(build) as Array<keyof RelayWorkers>).map((key) => ({
      current: () => workers[key],
      queue: queues[key],
      replace: () => {
        const old = workers[key];
        (workers as Record<keyof RelayWorkers, RelayWorkers[keyof RelayWorkers]>)[key] = start(key);
        const closing = old
          .close()
          .catch((error: unknown) => logger.warn({ err: error, queue: old.name }, 'old worker did not close'))
          .finally(() => retiring.delete(closing));
        retiring.add(closing);
      },
    })),
    redis,
    logger,
    errors,
    ...(deps.watchdog ? { options: deps.watchdog } : {}),
  });
  watchdog.start();
  // Callbacks whose writer died between reaching a final state and queueing them.
  const outbox = setInterval(() => {
    context.lifecycle
      .deliverDueCallbacks()
      .catch((error: unknown) => errors.log(error, 'callback outbox pass failed'));
  }, 5_000).unref();

  return {
    metrics,
    context,
    workers,
    async close() {
      watchdog.stop();
      clearInterval(outbox);
      // Stop fetching first, or a closing worker picks the handed-back job up again at once.
      const closing = all().map((w) => w.close());
      cancels.abortAll('shutdown');
      await Promise.all([...closing, ...retiring]);
      await cancels.close();
      await watcher.close();
      errors.close();
    },
  };
}

/** Track jobs run at once per worker process: the ids of one `GET /streaming/videos?id=…` call. */
export const TRACK_CONCURRENCY = 100;

/** Brings the delayed track job of the job following `videoId` forward (as a Gcore webhook does). */
async function promoteTracker(
  jobs: JobRepository,
  queues: Pick<RelayQueues, 'track'>,
  videoId: number,
): Promise<void> {
  const id = await jobs.jobOfVideo(videoId);
  if (id === null) return;
  const track = await queues.track.getJob(id);
  if (!track || (await track.getState()) !== 'delayed') return;
  // Promoting a job that just left `delayed` (its own timer) fails harmlessly.
  await track.promote().catch(() => {});
}
