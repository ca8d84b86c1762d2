import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  /**
   * `worker`: BullMQ workers and anything that blocks; commands wait through outages
   * (`maxRetriesPerRequest: null`, as BullMQ requires).
   * `client`: request paths (the relay's API, enqueueing on upload finish); commands fail after a
   * few seconds of outage instead of hanging a user's request.
   */
  role?: 'worker' | 'client';
  connectionName?: string;
}

/** One place that decides how the project talks to Redis. */
export function createRedis(url: string, options: RedisConnectionOptions = {}): Redis {
  const role = options.role ?? 'client';
  const redisOptions: RedisOptions = {
    lazyConnect: false,
    enableReadyCheck: true,
    // Reconnect quickly at first, then every 2 s, forever: outages end and we must carry on.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    ...(role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 2, connectTimeout: 5_000, commandTimeout: 5_000 }),
  };
  const redis = new Redis(url, redisOptions);
  // Without a listener ioredis prints every failed reconnect as an unhandled error.
  redis.on('error', () => {});
  return redis;
}
