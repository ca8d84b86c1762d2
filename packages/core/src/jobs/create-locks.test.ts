import type { Redis } from 'ioredis';
import { keyPrefixFor } from '../config/redis-target.js';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { CreateLocks } from './create-locks.js';

describe('CreateLocks', () => {
  let redis: Redis;
  let prefix: string;
  let locks: CreateLocks;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    locks = new CreateLocks(redis, prefix);
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('lets one job at a time hold a name, and its own retry take it again', async () => {
    const talk = { name: 'Talk' };
    expect(await locks.take(talk, 'job-a', 60_000)).toBe(true);
    expect(await locks.take(talk, 'job-b', 60_000)).toBe(false);
    expect(await locks.take(talk, 'job-a', 60_000)).toBe(true);
    expect(await locks.holder(talk)).toBe('job-a');
    // Another job cannot free it; its holder can.
    expect(await locks.release(talk, 'job-b')).toBe(false);
    expect(await locks.release(talk, 'job-a')).toBe(true);
    expect(await locks.take(talk, 'job-b', 60_000)).toBe(true);
  });

  it('tells identities apart by name and origin_url, and an upload (no origin) from an import', async () => {
    expect(await locks.take({ name: 'Talk', origin_url: 'https://o/a.mp4' }, 'job-a', 60_000)).toBe(true);
    expect(await locks.take({ name: 'Talk', origin_url: 'https://o/b.mp4' }, 'job-b', 60_000)).toBe(true);
    expect(await locks.take({ name: 'Talk' }, 'job-c', 60_000)).toBe(true);
    expect(await locks.take({ name: 'Talk', origin_url: null }, 'job-d', 60_000)).toBe(false);
    expect(await locks.take({ name: 'Talk ' }, 'job-d', 60_000)).toBe(true);
  });

  it('sets a TTL (so a holder that died frees it) and renews it when its holder takes it again', async () => {
    const talk = { name: 'Talk' };
    await locks.take(talk, 'job-a', 50_000);
    expect(await redis.pttl(locks.key(talk))).toBeGreaterThan(40_000);
    await locks.take(talk, 'job-a', 120_000);
    expect(await redis.pttl(locks.key(talk))).toBeGreaterThan(100_000);
  });

  it('keeps its key under the prefix and its hash tag (one Redis Cluster slot)', () => {
    const tagged = new CreateLocks(redis, keyPrefixFor('gtr', true));
    expect(tagged.key({ name: 'Talk' })).toMatch(/^\{gtr\}:jobs:create-lock:[0-9a-f]{64}$/);
  });
});
