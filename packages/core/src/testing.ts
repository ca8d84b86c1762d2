import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from './redis.js';

/** The Redis the tests use: REDIS_URL, else the local default. */
export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix per test, as BullMQ's own suite does, and a way to wipe it afterwards. */
export function testPrefix(): string {
  return `test-${randomUUID()}`;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export function testRedis(): Redis {
  return createRedis(testRedisUrl(), { role: 'worker' });
}
