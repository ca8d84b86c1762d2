import type { Logger, RedisClient, RepeatedErrorLog } from '@gtr/core';
import type { Queue, Worker } from 'bullmq';

export interface WatchdogOptions {
  /** How often every worker is looked at. Default 10 s. */
  intervalMs?: number;
  /** How long a worker may take no job while it could (jobs waiting, a free slot, Redis up) before it is recreated. Default 30 s. */
  stuckAfterMs?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: a slot holds a worker of any queue's job types
type AnyWorker = Worker<any, any, any>;

/** One BullMQ worker the watchdog keeps an eye on. */
export interface WatchedSlot {
  /** The worker in this slot now. */
  current(): AnyWorker;
  /** The queue it consumes. */
  queue: Pick<Queue, 'getWaitingCount' | 'getActiveCount' | 'getRateLimitTtl' | 'isPaused'>;
  /** Puts a new worker in the slot; the old one is closed in the background. */
  replace(): void;
}

export interface WatchdogDeps {
  slots: WatchedSlot[];
  /** The connection the workers share: only while it is ready can a worker be blamed. */
  redis: RedisClient;
  logger: Logger;
  /** Where its own failures go (a Redis that keeps refusing): at most one line per interval. */
  errors?: RepeatedErrorLog;
  options?: WatchdogOptions;
  now?: () => number;
}

/**
 * BullMQ workers can stop taking jobs after Redis comes back (a blocking connection that never
 * returns, a main loop that ended on an error) while everything else looks healthy. The watchdog
 * notices a worker that has had jobs waiting, a free slot and a ready Redis for `stuckAfterMs`
 * without starting one, and replaces it with a new worker. It never blames a worker whose queue
 * is paused or rate limited (after a 429), or that is busy: fewer jobs are active in the whole
 * queue than this worker alone could run, so it has a free slot.
 */
export class WorkerWatchdog {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly stuckAfterMs: number;
  /** When each worker last started a job, or last had nothing it could start. */
  private readonly busySince = new WeakMap<AnyWorker, number>();
  private readySince: number | null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<string[]> | null = null;
  private readonly onReady = () => {
    this.readySince = this.now();
  };
  private readonly onDown = () => {
    this.readySince = null;
  };

  constructor(private readonly deps: WatchdogDeps) {
    this.now = deps.now ?? Date.now;
    this.intervalMs = deps.options?.intervalMs ?? 10_000;
    this.stuckAfterMs = deps.options?.stuckAfterMs ?? 30_000;
    this.readySince = deps.redis.status === 'ready' ? this.now() : null;
    deps.redis.on('ready', this.onReady);
    deps.redis.on('close', this.onDown);
    for (const slot of deps.slots) this.observe(slot.current());
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.check().catch((error: unknown) => {
        if (this.deps.errors) this.deps.errors.log(error, 'worker watchdog failed');
        else this.deps.logger.warn({ err: error }, 'worker watchdog failed');
      });
    }, this.intervalMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.deps.redis.off('ready', this.onReady);
    this.deps.redis.off('close', this.onDown);
  }

  /** One look at every worker; returns the names of those replaced. */
  check(): Promise<string[]> {
    this.checking ??= this.look().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async look(): Promise<string[]> {
    const replaced: string[] = [];
    const now = this.now();
    if (this.readySince === null || this.deps.redis.status !== 'ready') return replaced;
    for (const slot of this.deps.slots) {
      const worker = slot.current();
      this.observe(worker);
      if (worker.closing) continue;
      const [waiting, active, ttl, paused] = await Promise.all([
        slot.queue.getWaitingCount(),
        slot.queue.getActiveCount(),
        slot.queue.getRateLimitTtl(),
        slot.queue.isPaused(),
      ]);
      if (waiting === 0 || paused || ttl > 0 || active >= worker.concurrency) {
        // Nothing it could have started: the idle clock starts again.
        this.busySince.set(worker, now);
        continue;
      }
      const idle = now - Math.max(this.busySince.get(worker) ?? now, this.readySince);
      if (idle < this.stuckAfterMs) continue;
      this.deps.logger.warn(
        { queue: worker.name, waiting, active, idleMs: idle, running: worker.isRunning() },
        'worker took no job for too long although it could; replacing it',
      );
      slot.replace();
      this.observe(slot.current());
      replaced.push(worker.name);
    }
    return replaced;
  }

  private observe(worker: AnyWorker): void {
    if (this.busySince.has(worker)) return;
    this.busySince.set(worker, this.now());
    worker.on('active', () => this.busySince.set(worker, this.now()));
  }
}
