import type { RedisEndpoint } from './parsers.js';
import type { Config } from './schema.js';

/** Where the relay's Redis is, as the configuration names it (see `createRedis`). */
export type RedisTarget = { username?: string | undefined; password?: string | undefined } & (
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisEndpoint[];
      name: string;
      sentinelUsername?: string | undefined;
      sentinelPassword?: string | undefined;
    }
  | { kind: 'cluster'; nodes: RedisEndpoint[] }
);

/** The local default when nothing names a Redis (`pnpm start` may start one there). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis the configuration names: REDIS_URL (or the local default), Sentinel, or Cluster. */
export function redisTargetOf(config: Config): RedisTarget {
  const credentials = {
    ...(config.REDIS_USERNAME ? { username: config.REDIS_USERNAME } : {}),
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
  };
  if (config.REDIS_CLUSTER_NODES)
    return { kind: 'cluster', nodes: config.REDIS_CLUSTER_NODES, ...credentials };
  if (config.REDIS_SENTINELS) {
    return {
      kind: 'sentinel',
      sentinels: config.REDIS_SENTINELS,
      name: config.REDIS_SENTINEL_NAME ?? '',
      ...(config.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: config.REDIS_SENTINEL_PASSWORD } : {}),
      ...credentials,
    };
  }
  return { kind: 'single', url: config.REDIS_URL ?? DEFAULT_REDIS_URL, ...credentials };
}

/**
 * The key prefix a topology needs: in a cluster every key of the relay and of BullMQ must hash to
 * one slot (Lua scripts, MULTI and pipelines may not span slots), so a prefix without a hash tag
 * is wrapped in braces (`gtr` → `{gtr}`); one that has a tag is kept as it is.
 */
export function keyPrefixFor(prefix: string, cluster: boolean): string {
  if (!cluster || /\{[^}]+\}/.test(prefix)) return prefix;
  return `{${prefix}}`;
}
