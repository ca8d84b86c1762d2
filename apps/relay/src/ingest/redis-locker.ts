import { duplicateRedis, Lease, type Logger, lockKeys, newLockToken, type RedisClient } from '@gtr/core';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';

/** Release requests of every relay on one prefix: the message is the token of the holder asked. */
export const lockReleaseChannel = (prefix: string): string => lockKeys.releases(prefix);

export interface RedisLockerOptions {
  /** The relay's command connection; a subscriber is duplicated from it on first use. */
  redis: RedisClient;
  prefix: string;
  /** How long `lock()` waits for a held upload before failing (ERR_LOCK_TIMEOUT). Default 30 s, as MemoryLocker. */
  acquireLockTimeout?: number;
  /** A holder that died frees the lock after this. Default 10 s; renewed every third of it. */
  leaseMs?: number;
  /** How often a waiting request tries again. Default 50 ms. */
  retryMs?: number;
  /** How often a waiting request asks the same holder again to let go. Default 500 ms. */
  askAgainMs?: number;
  logger?: Logger;
}

/**
 * @tus/server's `Locker` across processes: MemoryLocker's semantics for relays that share Redis
 * and the upload dir, with no sticky sessions.
 *
 * - One lock per upload: `SET <prefix>:lock:upload:<id> <token> NX PX <lease>`, a random token per
 *   holder, renewed while the request runs, released by compare-and-delete (never another
 *   holder's lock).
 * - A request for a held upload publishes the holder's token on the release channel; the relay
 *   holding it — whichever — calls that request's `requestRelease` (which makes @tus/server end
 *   it after `lockDrainTimeout`), as MemoryLocker does in one process. It asks again every
 *   `askAgainMs` while it waits, so a message lost to a reconnect costs half a second.
 * - The wait is bounded by `acquireLockTimeout` and by the request's own signal; then
 *   `ERRORS.ERR_LOCK_TIMEOUT`, as MemoryLocker fails.
 * - Requests on the same relay see each other's locks in memory first (and ask each other
 *   directly). With Redis unreachable that is all there is — the relay's own requests still
 *   exclude each other, so uploads go on through an outage as they did with MemoryLocker — and a
 *   warning says so.
 * - A holder that died (SIGKILL, a lost machine) frees the lock when its lease ends. A holder
 *   whose lease was lost (renewals failed for a whole lease, or the key is someone else's now)
 *   is told through `requestRelease` too: it must stop writing.
 */
export class RedisLocker implements Locker {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly leaseMs: number;
  readonly retryMs: number;
  readonly askAgainMs: number;
  readonly logger: Logger | undefined;
  /** This relay's holders by token (release requests name a token)... */
  private readonly holders = new Map<string, { lease: Lease | null; requestRelease: RequestRelease }>();
  /** ...and by upload: the token holding each upload here. */
  private readonly local = new Map<string, string>();
  private subscriber: RedisClient | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: RedisLockerOptions) {
    this.prefix = options.prefix;
    this.timeoutMs = options.acquireLockTimeout ?? 30_000;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.retryMs = options.retryMs ?? 50;
    this.askAgainMs = options.askAgainMs ?? 500;
    this.logger = options.logger;
  }

  get redis(): RedisClient {
    return this.options.redis;
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
  }

  /**
   * For maintenance (expiry, the reconciler): the upload's lock if it is free right now, else
   * null. Nobody is asked to let go: an upload being written is skipped, not stopped.
   */
  async tryLock(id: string): Promise<Lease | null> {
    if (this.local.has(id)) return null;
    const lease = new Lease(this.redis, lockKeys.upload(this.prefix, id), { leaseMs: this.leaseMs });
    return (await lease.acquire()) === null ? lease : null;
  }

  /** Subscribes once, on first use; failures are retried by the next lock. */
  listen(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.listening ??= (async () => {
      const subscriber = duplicateRedis(this.redis, { connectionName: 'relay-locker' });
      subscriber.on('error', () => {});
      subscriber.on('message', (_channel: string, token: string) => {
        const requestRelease = this.holders.get(token)?.requestRelease;
        if (!requestRelease) return;
        this.logger?.debug({ token }, 'upload lock: release requested');
        void Promise.resolve()
          .then(requestRelease)
          .catch(() => {});
      });
      this.subscriber = subscriber;
      await subscriber.subscribe(lockReleaseChannel(this.prefix));
    })().catch((error: unknown) => {
      this.listening = null;
      this.logger?.warn({ err: error }, 'upload lock: could not subscribe to release requests');
    });
    return this.listening;
  }

  /** @internal */
  register(id: string, token: string, lease: Lease | null, requestRelease: RequestRelease): void {
    this.holders.set(token, { lease, requestRelease });
    this.local.set(id, token);
  }

  /** @internal */
  unregister(id: string, token: string): void {
    this.holders.delete(token);
    if (this.local.get(id) === token) this.local.delete(id);
  }

  /** @internal The token of this relay's request holding `id`, if any. */
  localHolder(id: string): string | undefined {
    return this.local.get(id);
  }

  /** @internal Asks this relay's holder of `id` to end its request. */
  askLocal(id: string): void {
    const token = this.local.get(id);
    const requestRelease = token ? this.holders.get(token)?.requestRelease : undefined;
    if (!requestRelease) return;
    void Promise.resolve()
      .then(requestRelease)
      .catch(() => {});
  }

  /** @internal Asks the holder of `token`, on whatever relay, to end its request. */
  async askToRelease(token: string): Promise<void> {
    await this.redis.publish(lockReleaseChannel(this.prefix), token).catch(() => 0);
  }

  /**
   * Test hook: this relay "dies" — its locks are no longer renewed nor released by it, and it no
   * longer hears release requests — without closing its Redis connection.
   */
  async simulateDeath(): Promise<void> {
    for (const { lease } of this.holders.values()) lease?.abandon();
    this.holders.clear();
    this.local.clear();
    await this.close();
  }

  /** Stops listening. Locks still held end with their requests (or their lease). */
  async close(): Promise<void> {
    this.closed = true;
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.listening = null;
    await subscriber?.quit().catch(() => {});
  }
}

class RedisLock implements Lock {
  private held: { lease: Lease | null; token: string } | null = null;

  constructor(
    private readonly locker: RedisLocker,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { locker } = this;
    await locker.listen();
    const deadline = Date.now() + locker.timeoutMs;
    let asked = { holder: '', at: 0 };
    for (;;) {
      const now = Date.now();
      // Held by a request of this relay: ask it directly, as MemoryLocker does.
      const local = locker.localHolder(this.id);
      if (local) {
        if (signal.aborted || now >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
        if (local !== asked.holder || now - asked.at >= locker.askAgainMs) {
          asked = { holder: local, at: now };
          locker.askLocal(this.id);
        }
        await pause(Math.min(locker.retryMs, Math.max(1, deadline - now)), signal);
        continue;
      }
      const lease = new Lease(locker.redis, lockKeys.upload(locker.prefix, this.id), {
        leaseMs: locker.leaseMs,
        onLost: (reason) => {
          locker.logger?.warn(
            { uploadId: this.id, reason },
            'upload lock lost while held: stopping the request',
          );
          void Promise.resolve()
            .then(requestRelease)
            .catch(() => {});
        },
      });
      let holder: string | null;
      try {
        holder = await lease.acquire();
      } catch (error) {
        // Redis unreachable: this relay's requests still exclude each other (MemoryLocker's
        // guarantee), so that uploads go on through an outage; other relays are not asked.
        if (locker.localHolder(this.id)) continue;
        locker.logger?.warn(
          { err: error, uploadId: this.id },
          'upload locked on this relay only: Redis unreachable',
        );
        this.hold(null, requestRelease);
        return;
      }
      if (holder === null) {
        if (locker.localHolder(this.id)) {
          // Another request of this relay got in while we asked Redis (its degraded lock).
          await lease.release();
          continue;
        }
        this.hold(lease, requestRelease);
        return;
      }
      if (signal.aborted || now >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      if (holder && (holder !== asked.holder || now - asked.at >= locker.askAgainMs)) {
        asked = { holder, at: now };
        await locker.askToRelease(holder);
      }
      await pause(Math.min(locker.retryMs, Math.max(1, deadline - now)), signal);
    }
  }

  private hold(lease: Lease | null, requestRelease: RequestRelease): void {
    this.held = { lease, token: lease?.token ?? newLockToken() };
    this.locker.register(this.id, this.held.token, lease, requestRelease);
  }

  async unlock(): Promise<void> {
    const held = this.held;
    if (!held) throw new Error('Releasing an unlocked lock!');
    this.held = null;
    this.locker.unregister(this.id, held.token);
    if (held.lease && !(await held.lease.release())) {
      this.locker.logger?.warn(
        { uploadId: this.id },
        'upload lock was no longer held at release (lease ran out)',
      );
    }
  }
}

/** Waits `ms`, or less if the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
