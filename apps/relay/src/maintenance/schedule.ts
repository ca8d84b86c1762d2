import { FleetTask, type Logger, type RedisClient, type RelayQueues } from '@gtr/core';
import type { RelayServices } from '../services.js';
import { type ReconcileReport, Reconciler } from './reconciler.js';
import { Retention } from './retention.js';

export interface MaintenanceDeps {
  services: RelayServices;
  redis: RedisClient;
  queues: RelayQueues;
  logger: Logger;
  now?: (() => number) | undefined;
  /** Default 60 s. */
  reconcileIntervalMs?: number | undefined;
  /** Default 10 min. */
  expiryIntervalMs?: number | undefined;
  /** How often the JOB_RETENTION sweep runs (once per fleet). Default 10 min. */
  retentionIntervalMs?: number | undefined;
  /** `JOB_RETENTION`, milliseconds. Default 30 days. */
  jobRetentionMs?: number | undefined;
}

/** The relay's periodic maintenance: each pass runs once for the fleet, under a lease. */
export interface Maintenance {
  /** One reconcile pass, unless another relay of the fleet is running one. */
  reconcile(): Promise<ReconcileReport>;
  /** One expiry sweep, unless another relay of the fleet is running one. */
  expire(): Promise<number>;
  /** One JOB_RETENTION sweep, unless another relay of the fleet is running one; answers the jobs removed. */
  retain(): Promise<number>;
  /** Reconciles and sweeps once, then every interval, and reconciles again whenever Redis comes back. */
  start(): Promise<void>;
  /** Stops the timers and the reconcile on reconnection. */
  stop(): void;
}

/** Schedules reconciliation, the expiry sweep and JOB_RETENTION, each under its fleet lease. */
export function scheduleMaintenance(deps: MaintenanceDeps): Maintenance {
  const { services, redis, queues, logger } = deps;
  const { prefix, jobs, lifecycle, manifests, tus, uploads, quota, locker, expiry } = services;
  const reconcileIntervalMs = deps.reconcileIntervalMs ?? 60_000;
  const expiryIntervalMs = deps.expiryIntervalMs ?? 600_000;
  const retentionIntervalMs = deps.retentionIntervalMs ?? 600_000;
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
  const retentionTask = new FleetTask(redis, prefix, 'retention', { periodMs: retentionIntervalMs });
  const retention = new Retention({
    retentionMs: deps.jobRetentionMs ?? 30 * 86_400_000,
    jobs,
    batches: services.batches,
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

  const timers: NodeJS.Timeout[] = [];
  const reconcileSoon = (when: 'scheduled' | 'now') => {
    void deliverCallbacks();
    reconciler.run(when).catch((error: unknown) => logger.warn({ err: error }, `reconcile (${when}) failed`));
  };
  const onRedisReady = () => reconcileSoon('now');

  return {
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
        }, retentionIntervalMs).unref(),
      );
      redis.on('ready', onRedisReady);
    },
    stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      redis.off('ready', onRedisReady);
    },
  };
}
