import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { ApiPacer } from './pacer.js';

describe('ApiPacer', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('gives callers of several processes evenly spaced slots, so no second holds more than the ceiling', async () => {
    const a = new ApiPacer(redis, 20, `${prefix}:pace`);
    const b = new ApiPacer(redis, 20, `${prefix}:pace`);
    // The slots Redis hands out (its own clock), not how late this machine's timers fire.
    const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take()));
    waits.sort((x, y) => x - y);
    // 20/s with 10 % slack: one slot every 55 ms, 30 slots over at least 29 × 55 ms.
    for (let i = 1; i < waits.length; i++) expect(waits[i]! - waits[i - 1]!).toBeGreaterThanOrEqual(50);
    expect(waits.filter((w) => w < 1_000).length).toBeLessThanOrEqual(20);
  });

  it('pushes every later slot back after a 429', async () => {
    const pacer = new ApiPacer(redis, 100, `${prefix}:pace`);
    await pacer.take();
    await pacer.pushBack(400);
    expect(await pacer.ahead()).toBeGreaterThan(300);
    expect(await pacer.take()).toBeGreaterThan(300);
    expect(await pacer.ahead()).toBeLessThanOrEqual(11);
  });
});
