import type { RedisClient } from '@gtr/core';
import { cancelChannel, duplicateRedis, type Logger } from '@gtr/core';

/** `parked`: a streamed upload's tool sent nothing for a while; its slot is given back (processor.ts). */
export type StopReason = 'canceled' | 'shutdown' | 'parked';

/**
 * One AbortController per job this process is working on. The relay publishes a job id on the
 * cancel channel when a tool cancels it; shutdown aborts them all (the jobs go back to the queue).
 */
export class CancelRegistry {
  private readonly controllers = new Map<string, AbortController>();
  private subscriber: RedisClient | null = null;
  /** Set by a shutdown: jobs that still arrive (a fetch already in flight) are handed straight back. */
  stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly prefix: string,
  ) {}

  async listen(redis: RedisClient): Promise<void> {
    this.subscriber = duplicateRedis(redis, { connectionName: 'worker-cancel' });
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, id: string) => {
      if (this.abort(id, 'canceled')) this.logger.info({ jobId: id }, 'transfer aborted: job canceled');
    });
    await this.subscriber.subscribe(cancelChannel(this.prefix));
  }

  /** A signal for this job's work; call `release` when done. */
  register(id: string): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    this.controllers.set(id, controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.controllers.get(id) === controller) this.controllers.delete(id);
      },
    };
  }

  abort(id: string, reason: StopReason): boolean {
    const controller = this.controllers.get(id);
    if (!controller) return false;
    controller.abort(reason);
    return true;
  }

  abortAll(reason: StopReason): void {
    if (reason === 'shutdown') this.stopping = true;
    for (const controller of this.controllers.values()) controller.abort(reason);
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => {});
    this.subscriber = null;
  }
}
