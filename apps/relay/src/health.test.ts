import { createRedis } from '@gtr/core';
import { type RedisServerHandle, redisCommand, startRedisServer, waitFor } from '@gtr/core/testing';
import { probeRedis } from './health.js';

// Starts redis-server itself (a primary and its replica), so it runs with the e2e tests.
describe('/readyz Redis check', () => {
  let primary: RedisServerHandle;
  let replica: RedisServerHandle;

  beforeAll(async () => {
    [primary, replica] = await Promise.all([startRedisServer(), startRedisServer()]);
    await redisCommand(replica.port, 'REPLICAOF', '127.0.0.1', primary.port);
    await waitFor(async () =>
      String(await redisCommand(replica.port, 'INFO', 'replication')).includes('master_link_status:up')
        ? true
        : undefined,
    );
  });
  afterAll(async () => {
    await Promise.all([primary?.stop(), replica?.stop()]);
  });

  it('is ok only where a job can be written: a primary, not a read-only replica (which answers PING)', async () => {
    const onPrimary = createRedis(primary.url);
    const onReplica = createRedis(replica.url);
    try {
      await Promise.all([onPrimary.ping(), onReplica.ping()]);
      expect(await probeRedis(onPrimary, 'readyz-test')).toBe('ok');
      expect(await probeRedis(onReplica, 'readyz-test')).toBe('read-only');
      // The probe key expires by itself.
      const [key] = await onPrimary.keys('readyz-test:readyz:*');
      expect(Number(await onPrimary.pttl(key!))).toBeGreaterThan(0);
    } finally {
      onPrimary.disconnect();
      onReplica.disconnect();
    }
  });

  it('is unreachable when Redis is down', async () => {
    const stopped = await startRedisServer();
    const redis = createRedis(stopped.url);
    await redis.ping();
    await stopped.stop();
    expect(await probeRedis(redis, 'readyz-test')).toBe('unreachable');
    redis.disconnect();
  });
});
