import { randomUUID } from 'node:crypto';
import {
  type Config,
  createRedis,
  primariesOf,
  type RedisClient,
  type RedisTarget,
  relayKeys,
} from '@gtr/core';
import { NETWORK_TIMEOUT_MS, withTimeout } from './net.js';
import { message, type Report } from './report.js';

/** `redis`, `redis write`, `redis appendonly`, `redis maxmemory-policy`: reachable, a writable primary, durable, never evicting. */
export async function checkRedis(config: Config, target: RedisTarget, report: Report): Promise<void> {
  const where = describeRedis(target);
  const redis = createRedis(target, { role: 'client', connectionName: 'relay-doctor' });
  try {
    let version = '';
    try {
      const started = Date.now();
      // The first connection error, not ioredis's retries: stopping then leaves no reconnect timer.
      const failure = await withTimeout(
        new Promise<Error | null>((resolve) => {
          redis.once('ready', () => resolve(null));
          redis.once('error', (error: Error) => resolve(error));
        }),
        NETWORK_TIMEOUT_MS,
        'connect',
      );
      if (failure) throw failure;
      await withTimeout(redis.ping(), NETWORK_TIMEOUT_MS, 'PING');
      const ms = Date.now() - started;
      const info = await redis.info('server').catch(() => '');
      version = /^redis_version:(.*)$/m.exec(info)?.[1]?.trim() ?? '';
      report('redis', 'ok', `reachable at ${where}${version ? ` (Redis ${version})` : ''}, PING ${ms} ms`);
    } catch (error) {
      report('redis', 'fail', `cannot reach ${where}: ${message(error)}`);
      for (const name of ['redis write', 'redis appendonly', 'redis maxmemory-policy']) {
        report(name, 'skip', 'Redis is not reachable');
      }
      return;
    }

    const key = relayKeys(config.REDIS_PREFIX).doctor(randomUUID());
    const value = randomUUID();
    try {
      await withTimeout(redis.set(key, value, 'PX', 60_000), NETWORK_TIMEOUT_MS, 'SET');
      const read = await withTimeout(redis.get(key), NETWORK_TIMEOUT_MS, 'GET');
      await redis.del(key).catch(() => {});
      if (read !== value) {
        report(
          'redis write',
          'fail',
          `SET then GET of ${key} read back ${JSON.stringify(read)}, not what was written`,
        );
      } else {
        report('redis write', 'ok', `a primary: SET/GET round trip under prefix "${config.REDIS_PREFIX}"`);
      }
    } catch (error) {
      const text = message(error);
      const why = /READONLY/.test(text)
        ? 'this is a read-only replica; point the configuration at the primary'
        : /NOPERM|NOAUTH|WRONGPASS/.test(text)
          ? `the Redis user may not write keys under "${config.REDIS_PREFIX}:"`
          : 'the relay cannot store jobs';
      report('redis write', 'fail', `SET ${key} failed (${text}): ${why}`);
    }

    const primaries = primariesOf(redis);
    const aof: string[] = [];
    const policies: string[] = [];
    let aofOk = true;
    let aofUnknown = false;
    let policyOk = true;
    let policyUnknown = false;
    for (const node of primaries) {
      const label = primaries.length > 1 ? `${node.options.host}:${node.options.port} ` : '';
      const appendonly = await redisSetting(node, 'appendonly', {
        section: 'persistence',
        field: 'aof_enabled',
        map: (v) => (v === '1' ? 'yes' : 'no'),
      });
      if ('error' in appendonly) {
        aofUnknown = true;
        aof.push(`${label}unknown: ${appendonly.error}`);
      } else {
        if (appendonly.value !== 'yes') aofOk = false;
        aof.push(`${label}appendonly ${appendonly.value} (${appendonly.via})`);
      }
      const policy = await redisSetting(node, 'maxmemory-policy', {
        section: 'memory',
        field: 'maxmemory_policy',
      });
      if ('error' in policy) {
        policyUnknown = true;
        policies.push(`${label}unknown: ${policy.error}`);
      } else {
        if (policy.value !== 'noeviction') policyOk = false;
        policies.push(`${label}maxmemory-policy ${policy.value} (${policy.via})`);
      }
    }
    if (!aofOk) {
      report(
        'redis appendonly',
        'fail',
        `${aof.join('; ')}: a Redis restart loses jobs and queued forwards; set "appendonly yes" (redis.conf, or CONFIG SET appendonly yes and CONFIG REWRITE)`,
      );
    } else if (aofUnknown) {
      report('redis appendonly', 'warn', `${aof.join('; ')}; make sure append-only persistence is on`);
    } else {
      report('redis appendonly', 'ok', `${aof.join('; ')}: jobs survive a Redis restart`);
    }
    if (!policyOk) {
      report(
        'redis maxmemory-policy',
        'fail',
        `${policies.join('; ')}: Redis may evict BullMQ's keys when memory runs out; set "maxmemory-policy noeviction"`,
      );
    } else if (policyUnknown) {
      report('redis maxmemory-policy', 'warn', `${policies.join('; ')}; BullMQ needs noeviction`);
    } else {
      report('redis maxmemory-policy', 'ok', `${policies.join('; ')}, as BullMQ requires`);
    }
  } finally {
    redis.disconnect();
  }
}

/** Where Redis is, without credentials. */
export function describeRedis(target: RedisTarget): string {
  switch (target.kind) {
    case 'single': {
      const url = new URL(target.url);
      url.username = '';
      url.password = '';
      return url.toString().replace(/\/$/, '');
    }
    case 'sentinel':
      return `sentinel master "${target.name}" via ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
    case 'cluster':
      return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
}

/** A Redis setting through CONFIG GET, else through INFO (managed Redis often refuses CONFIG). */
async function redisSetting(
  node: RedisClient,
  name: string,
  info: { section: string; field: string; map?: (value: string) => string },
): Promise<{ value: string; via: string } | { error: string }> {
  try {
    const reply = (await node.call('CONFIG', 'GET', name)) as string[];
    if (Array.isArray(reply) && reply.length >= 2) return { value: String(reply[1]), via: 'CONFIG GET' };
  } catch {}
  try {
    const text = await node.info(info.section);
    const match = new RegExp(`^${info.field}:(.*)$`, 'm').exec(text);
    if (match) {
      const raw = match[1]!.trim();
      return { value: info.map ? info.map(raw) : raw, via: `INFO ${info.section}` };
    }
    return { error: `neither CONFIG GET ${name} nor INFO ${info.section} tells` };
  } catch (error) {
    return { error: `CONFIG GET and INFO refused (${message(error)})` };
  }
}
