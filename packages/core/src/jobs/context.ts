import { jobKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** What every module of the job store works with: one connection, its keys and a clock. */
export interface JobContext {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly keys: JobKeys;
  readonly now: () => number;
}

export type JobKeys = ReturnType<typeof jobKeys>;

export function jobContext(redis: RedisClient, prefix: string, now: () => number): JobContext {
  return { redis, prefix, keys: jobKeys(prefix), now };
}
