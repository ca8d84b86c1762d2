import { randomBytes } from 'node:crypto';
import { lockKeys } from './keys.js';
import { COMPARE_AND_DELETE, LEASE_ACQUIRE, LEASE_RENEW } from './lua-scripts.js';
import type { RedisClient } from './redis.js';
import type { ManifestLock } from './uploads/manifests.js';

/*
 * Locks and leases in Redis, for several relays and workers on one Redis: `SET key token NX PX`
 * with a random token per holder, renewed while the holder works, released by compare-and-delete.
 * A holder that dies frees its key when the lease runs out. Every script names its one key in
 * KEYS (Redis Cluster), and every key is built from the caller's REDIS_PREFIX (keys.ts).
 */

export const newLockToken = (): string => randomBytes(12).toString('hex');

export interface LeaseOptions {
  /** How long the key lives unrenewed: a dead holder's key is free after this. */
  leaseMs: number;
  /** Default leaseMs / 3. */
  renewEveryMs?: number;
  /**
   * The lease is no longer this holder's (it ran out, or renewals kept failing for a whole
   * lease): stop the work it protects. Called at most once.
   */
  onLost?: (reason: 'taken' | 'unrenewed') => void;
  token?: string;
}

/**
 * One holder's claim on one key. `acquire()` tries once; while held it renews itself every
 * `renewEveryMs`; `release()` compare-and-deletes. Not reusable once released.
 */
export class Lease {
  readonly token: string;
  private timer: NodeJS.Timeout | null = null;
  private renewedAt = 0;
  private state: 'idle' | 'held' | 'released' = 'idle';

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly options: LeaseOptions,
  ) {
    this.token = options.token ?? newLockToken();
  }

  get held(): boolean {
    return this.state === 'held';
  }

  /** One attempt. Returns null when taken, else the token of whoever holds the key ('' if unknown). */
  async acquire(): Promise<string | null> {
    if (this.state !== 'idle') throw new Error(`lease ${this.key} was already used`);
    const [taken, holder] = await LEASE_ACQUIRE.run(
      this.redis,
      [this.key],
      [this.token, String(this.options.leaseMs)],
    );
    if (taken !== 1) return holder;
    this.state = 'held';
    this.renewedAt = Date.now();
    const every = this.options.renewEveryMs ?? Math.max(50, Math.floor(this.options.leaseMs / 3));
    this.timer = setInterval(() => void this.renew(), every);
    this.timer.unref();
    return null;
  }

  private async renew(): Promise<void> {
    if (this.state !== 'held') return;
    try {
      const renewed = await LEASE_RENEW.run(
        this.redis,
        [this.key],
        [this.token, String(this.options.leaseMs)],
      );
      if (this.state !== 'held') return;
      if (renewed === 1) {
        this.renewedAt = Date.now();
        return;
      }
      this.lost('taken');
    } catch {
      // Redis unreachable: the key may still be ours, until a whole lease has gone unrenewed.
      if (this.state === 'held' && Date.now() - this.renewedAt >= this.options.leaseMs)
        this.lost('unrenewed');
    }
  }

  private lost(reason: 'taken' | 'unrenewed'): void {
    this.stopRenewing();
    this.state = 'released';
    this.options.onLost?.(reason);
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Compare-and-delete. Returns whether the key was still this holder's. A Redis error is
   * swallowed (returns false): the key then ends with its lease.
   */
  async release(): Promise<boolean> {
    const wasHeld = this.state === 'held';
    this.stopRenewing();
    this.state = 'released';
    if (!wasHeld) return false;
    try {
      return (await COMPARE_AND_DELETE.run(this.redis, [this.key], [this.token])) === 1;
    } catch {
      return false;
    }
  }

  /** Stops renewing (a holder that died): the key ends with its lease; `release()` still compares. */
  abandon(): void {
    this.stopRenewing();
  }
}

export interface MutexOptions {
  leaseMs?: number;
  /** How long to wait for a held key before giving up. */
  waitMs?: number;
  retryMs?: number;
}

/**
 * Runs `fn` holding `key`, waiting for it while someone else does (no one is asked to let go).
 * Throws `LockUnavailableError` after `waitMs`; a Redis error is thrown as it is.
 */
export async function withRedisLock<T>(
  redis: RedisClient,
  key: string,
  fn: () => Promise<T>,
  options: MutexOptions = {},
): Promise<T> {
  const leaseMs = options.leaseMs ?? 10_000;
  const deadline = Date.now() + (options.waitMs ?? leaseMs + 5_000);
  const retryMs = options.retryMs ?? 20;
  for (;;) {
    const lease = new Lease(redis, key, { leaseMs });
    if ((await lease.acquire()) === null) {
      try {
        return await fn();
      } finally {
        await lease.release();
      }
    }
    if (Date.now() >= deadline) throw new LockUnavailableError(key);
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

export class LockUnavailableError extends Error {
  constructor(readonly key: string) {
    super(`${key} is held by someone else`);
    this.name = 'LockUnavailableError';
  }
}

export interface FleetTaskOptions {
  /** The task's lease: another process takes over this long after the holder died. */
  leaseMs?: number;
  /**
   * After a pass, the other processes' periodic triggers skip theirs for this long, so that the
   * fleet runs the task about once per period rather than once per process per period.
   */
  periodMs: number;
}

/**
 * A maintenance task that one process of the fleet runs at a time (`reconcile`, `expiry`), under
 * a lease renewed while it runs. `run(fn, 'scheduled')` also skips when another process finished
 * a pass less than about a period ago; `run(fn, 'now')` (start, Redis back, an operator) only
 * skips while another process is running it. Resolves with fn's result, or null when skipped.
 */
export class FleetTask {
  private readonly leaseMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly name: string,
    private readonly options: FleetTaskOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 15_000;
  }

  /**
   * `fn` gets the lease's signal (aborted if the lease is lost) and `again()`, which it calls
   * when it left work undone: then the next scheduled trigger, on any process, runs a pass.
   */
  async run<T>(
    fn: (signal: AbortSignal, again: () => void) => Promise<T>,
    when: 'scheduled' | 'now',
  ): Promise<T | null> {
    const doneKey = lockKeys.taskDone(this.prefix, this.name);
    if (when === 'scheduled' && (await this.redis.exists(doneKey)) === 1) return null;
    const stop = new AbortController();
    const lease = new Lease(this.redis, lockKeys.task(this.prefix, this.name), {
      leaseMs: this.leaseMs,
      onLost: () => stop.abort(new Error(`lost the ${this.name} lease`)),
    });
    if ((await lease.acquire()) !== null) return null;
    try {
      let due = false;
      const result = await fn(stop.signal, () => {
        due = true;
      });
      if (!due) {
        await this.redis
          .set(doneKey, lease.token, 'PX', Math.max(1, Math.floor(this.options.periodMs * 0.9)))
          .catch(() => {});
      }
      return result;
    } finally {
      await lease.release();
    }
  }
}

/**
 * The cross-process lock of `UploadManifests.update`/`remove` (relays and workers): the
 * manifest's own key, held for the milliseconds of one read-modify-write (not the upload's
 * lock, which a PATCH holds for minutes and which would make a worker wait for a client).
 * When Redis cannot be asked, the write goes ahead unlocked with a warning: the manifest is the
 * copy that must survive a Redis outage (a finished upload is marked complete there first), and
 * workers, which write Redis before the manifest, are waiting for Redis then anyway.
 */
export function redisManifestLock(
  redis: RedisClient,
  prefix: string,
  warn: (error: unknown, id: string) => void = () => {},
  options: MutexOptions = {},
): ManifestLock {
  return async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const leaseMs = options.leaseMs ?? 10_000;
    const deadline = Date.now() + (options.waitMs ?? leaseMs + 5_000);
    for (;;) {
      const lease = new Lease(redis, lockKeys.manifest(prefix, id), { leaseMs });
      let holder: string | null;
      try {
        holder = await lease.acquire();
      } catch (error) {
        warn(error, id);
        return fn();
      }
      if (holder === null) {
        try {
          return await fn();
        } finally {
          await lease.release();
        }
      }
      if (Date.now() >= deadline) throw new LockUnavailableError(lease.key);
      await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 20));
    }
  };
}
