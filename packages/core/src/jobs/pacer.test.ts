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

  it('spaces requests from several callers so no second holds more than the ceiling', async () => {
    const a = new ApiPacer(redis, 20, `${prefix}:pace`);
    const b = new ApiPacer(redis, 20, `${prefix}:pace`);
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take().then(() => times.push(Date.now()))),
    );
    times.sort((x, y) => x - y);
    const peak = Math.max(...times.map((t) => times.filter((u) => u > t - 1000 && u <= t).length));
    expect(peak).toBeLessThanOrEqual(20);
    // 30 requests at 20/s take about 1.5 s, not 0.
    expect(times[29]! - times[0]!).toBeGreaterThanOrEqual(1_300);
  });

  it('pushes every later slot back after a 429', async () => {
    const pacer = new ApiPacer(redis, 100, `${prefix}:pace`);
    await pacer.take();
    await pacer.pushBack(400);
    const started = Date.now();
    await pacer.take();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });
});
