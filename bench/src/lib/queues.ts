import { randomUUID } from 'node:crypto';
import { createQueues, createRedis, type RelayQueues } from '@gtr/core';
import { deleteKeys } from '@gtr/core/testing';
import { redisUrl } from './stack.js';

/** The orchestrator's handle on one run's Redis keys: pause/resume forwarding, and clean up. */
export class BenchRedis {
  readonly prefix = `bench-${randomUUID()}`;
  readonly redis: ReturnType<typeof createRedis>;
  readonly queues: RelayQueues;

  constructor() {
    this.redis = createRedis(redisUrl(), { role: 'worker', connectionName: 'bench' });
    this.queues = createQueues(this.redis, { forwardAttempts: 8, prefix: this.prefix });
  }

  /** Jobs stay queued (the relay still enqueues them) until resume(). */
  pauseForwarding(): Promise<void> {
    return this.queues.forward.pause();
  }

  resumeForwarding(): Promise<void> {
    return this.queues.forward.resume();
  }

  async close(): Promise<void> {
    // A Queue writes its meta key once connected: let that happen before the keys are deleted.
    const { forward, import: imports, track, notify } = this.queues;
    await Promise.all([forward, imports, track, notify].map((q) => q.waitUntilReady().catch(() => {})));
    await this.queues.close().catch(() => {});
    await deleteKeys(this.redis, this.prefix).catch(() => {});
    await this.redis.quit().catch(() => {});
  }
}
