import { jobKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

export interface LiveStats {
  /** Bytes per second sent to Gcore, averaged over the last 10 s, all workers together. */
  forwardBytesPerSec: number;
  /** 429 answers from Gcore (API and TUS) in the last 60 s. */
  rateLimitedLastMinute: number;
}

/**
 * Per-second counters in Redis, shared by every worker, for the dashboard's "at a glance" line.
 * Each second's key expires after two minutes, so nothing grows.
 */
export class StatsCounters {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'gtr',
    private readonly now: () => number = Date.now,
  ) {}

  private key(name: string, second: number): string {
    return jobKeys(this.prefix).stats(name, second);
  }

  private async add(name: string, amount: number): Promise<void> {
    const key = this.key(name, Math.floor(this.now() / 1000));
    await this.redis.multi().incrby(key, amount).expire(key, 120).exec();
  }

  recordForwarded(bytes: number): Promise<void> {
    return this.add('forwarded', bytes);
  }

  recordRateLimited(): Promise<void> {
    return this.add('429', 1);
  }

  async snapshot(): Promise<LiveStats> {
    const second = Math.floor(this.now() / 1000);
    const keys = (name: string, span: number) =>
      Array.from({ length: span }, (_, i) => this.key(name, second - i - 1)).concat(this.key(name, second));
    const [forwarded, limited] = await Promise.all([
      this.redis.mget(keys('forwarded', 10)),
      this.redis.mget(keys('429', 60)),
    ]);
    const sum = (values: (string | null)[]) => values.reduce((total, v) => total + Number(v ?? 0), 0);
    return { forwardBytesPerSec: Math.round(sum(forwarded) / 10), rateLimitedLastMinute: sum(limited) };
  }
}
