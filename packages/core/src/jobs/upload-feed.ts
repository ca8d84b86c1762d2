import { feedKeys } from '../keys.js';
import { duplicateRedis, type RedisClient } from '../redis.js';
import { cancelChannel, QUEUE_PREFIX } from './queues.js';

/** An upload's offset outlives any pause a tool may take (UPLOAD_EXPIRY removes the upload first). */
const RECEIVED_TTL_S = 30 * 24 * 3600;

/** The message telling forwards to look at the job again (finished, terminated, expired). */
const STATE_CHANGED = 'state';

/**
 * The relay's side of streaming (FORWARD_MODE=stream): what it has received of an upload, for a
 * forward that sends bytes while they arrive — on any machine that shares the upload volume.
 */
export class UploadFeed {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string = QUEUE_PREFIX,
  ) {}

  /**
   * `offset` bytes of the upload are in its file, written by a PATCH the relay accepts. Forwards
   * never send past the last offset announced here.
   */
  async received(id: string, offset: number): Promise<void> {
    const key = feedKeys.received(this.prefix, id);
    await this.redis.set(key, String(offset), 'EX', RECEIVED_TTL_S);
    await this.redis.publish(key, String(offset));
  }

  /** The upload's job changed state (finished, terminated, expired): waiting forwards look again. */
  async changed(id: string): Promise<void> {
    await this.redis.publish(feedKeys.received(this.prefix, id), STATE_CHANGED);
  }

  /** The upload is gone (terminated, expired): a forward in progress anywhere stops at once. */
  async stopped(id: string): Promise<void> {
    await this.redis.publish(cancelChannel(this.prefix), id);
    await this.changed(id);
  }

  /** The last offset announced, or null when none was (store mode, or the key expired). */
  async offset(id: string): Promise<number | null> {
    const value = await this.redis.get(feedKeys.received(this.prefix, id));
    return value === null ? null : Number(value);
  }

  async forget(id: string): Promise<void> {
    await this.redis.del(feedKeys.received(this.prefix, id), feedKeys.parked(this.prefix, id));
  }

  /** The worker parked the upload's forward (its tool sends nothing): the next announcement resumes it. */
  async park(id: string): Promise<void> {
    await this.redis.set(feedKeys.parked(this.prefix, id), '1', 'EX', RECEIVED_TTL_S);
  }

  /** Whether the forward was parked, taking the mark: exactly one caller resumes it. */
  async unpark(id: string): Promise<boolean> {
    return (await this.redis.del(feedKeys.parked(this.prefix, id))) > 0;
  }

  async isParked(id: string): Promise<boolean> {
    return (await this.redis.exists(feedKeys.parked(this.prefix, id))) > 0;
  }
}

/**
 * A worker's subscription to the uploads it streams: `until` waits, without polling, for a
 * condition on an upload — looked at again on every message of its channel, and on every
 * reconnect of the subscriber (messages sent while it was away are lost, the condition is not).
 */
export class UploadWatcher {
  private subscriber: RedisClient | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string = QUEUE_PREFIX,
  ) {}

  async start(): Promise<void> {
    const subscriber = duplicateRedis(this.redis, { connectionName: 'worker-uploads' });
    subscriber.on('message', (channel: string) => {
      for (const wake of this.waiters.get(channel) ?? []) wake();
    });
    // ioredis subscribes again after a reconnect; whatever was announced meanwhile is re-read.
    subscriber.on('ready', () => {
      for (const set of this.waiters.values()) for (const wake of set) wake();
    });
    this.subscriber = subscriber;
  }

  /**
   * Resolves with the first value `check` gives that is not `undefined`. `check` runs at once,
   * then after each announcement for the upload. Rejects when `signal` aborts.
   */
  async until<T>(id: string, check: () => Promise<T | undefined>, signal: AbortSignal): Promise<T> {
    const subscriber = this.subscriber;
    if (!subscriber) throw new Error('UploadWatcher.start() was not called');
    const channel = feedKeys.received(this.prefix, id);
    let dirty = false;
    let wake: () => void = () => {};
    const waiter = () => {
      dirty = true;
      wake();
    };
    let set = this.waiters.get(channel);
    if (!set) {
      set = new Set();
      this.waiters.set(channel, set);
    }
    set.add(waiter);
    const onAbort = () => wake();
    signal.addEventListener('abort', onAbort);
    try {
      // Subscribed before the first look, so nothing announced after it is missed.
      if (set.size === 1) await subscriber.subscribe(channel);
      for (;;) {
        signal.throwIfAborted();
        dirty = false;
        const value = await check();
        if (value !== undefined) return value;
        if (dirty) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (dirty || signal.aborted) resolve();
        });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      set.delete(waiter);
      if (set.size === 0) {
        this.waiters.delete(channel);
        await subscriber.unsubscribe(channel).catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    for (const set of this.waiters.values()) for (const wake of set) wake();
    await subscriber?.quit().catch(() => {});
  }
}
