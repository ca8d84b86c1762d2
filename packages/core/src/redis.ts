import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './config/redis-target.js';

/**
 * A connection to the relay's Redis, whatever its topology: one server or a Sentinel-managed
 * primary (`Redis`), or a Redis Cluster (`Cluster`). Everything the relay does works on both: every
 * key shares one hash tag in cluster mode (see `REDIS_PREFIX`), so scripts, MULTI and pipelines
 * never span slots.
 */
export type RedisClient = Redis | Cluster;

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

// Reconnect quickly at first, then every 2 s, forever: outages end and we must carry on.
const retry = (times: number) => Math.min(times * 100, 2_000);

/**
 * One place that decides how the project talks to Redis: a URL (one server), or the target the
 * configuration names (see `redisTargetOf`).
 */
export function createRedis(target: string, options?: RedisConnectionOptions): Redis;
export function createRedis(target: RedisTarget, options?: RedisConnectionOptions): RedisClient;
export function createRedis(target: string | RedisTarget, options: RedisConnectionOptions = {}): RedisClient {
  const role = options.role ?? 'client';
  const common: RedisOptions = {
    lazyConnect: false,
    enableReadyCheck: true,
    retryStrategy: retry,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    ...(role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 2, connectTimeout: 5_000, commandTimeout: 5_000 }),
  };
  const spec: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const credentials = {
    ...(spec.username ? { username: spec.username } : {}),
    ...(spec.password ? { password: spec.password } : {}),
  };
  let redis: RedisClient;
  switch (spec.kind) {
    case 'single': {
      // Credentials in the URL win over REDIS_USERNAME / REDIS_PASSWORD.
      const url = new URL(spec.url);
      redis = new Redis(spec.url, {
        ...common,
        ...(url.username ? {} : credentials.username ? { username: credentials.username } : {}),
        ...(url.password ? {} : credentials.password ? { password: credentials.password } : {}),
      });
      break;
    }
    case 'sentinel':
      redis = new Redis({
        ...common,
        ...credentials,
        sentinels: spec.sentinels.map(({ host, port }) => ({ host, port })),
        name: spec.name,
        role: 'master',
        ...(spec.sentinelPassword ? { sentinelPassword: spec.sentinelPassword } : {}),
        ...(spec.sentinelUsername ? { sentinelUsername: spec.sentinelUsername } : {}),
        sentinelRetryStrategy: retry,
        // After a failover the old primary answers READONLY until the connection moves: reconnect
        // (asking the sentinels for the new primary) and send the command again there.
        reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      });
      break;
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        redisOptions: { ...common, ...credentials },
        enableReadyCheck: true,
        clusterRetryStrategy: retry,
        // Slots move during a failover or a resharding: follow the redirections, retry a while.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 500,
        retryDelayOnTryAgain: 200,
        ...(role === 'worker' ? { maxRedirections: 32 } : {}),
      };
      redis = new Cluster(
        spec.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions,
      );
      break;
    }
  }
  // Without a listener ioredis prints every failed reconnect as an unhandled error.
  redis.on('error', () => {});
  return redis;
}

/** Whether this connection is to a Redis Cluster. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * A second connection like this one (for SUBSCRIBE, which takes a connection for itself), to the
 * same topology, optionally under another connection name.
 */
export function duplicateRedis(redis: RedisClient, options: { connectionName?: string } = {}): RedisClient {
  const named = options.connectionName ? { connectionName: options.connectionName } : {};
  const copy = isCluster(redis)
    ? redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, ...named } })
    : redis.duplicate(named);
  copy.on('error', () => {});
  return copy;
}

/** The primaries of a connection: itself, or every master of a cluster (for SCAN and the like). */
export function primariesOf(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}
