import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { ensureRedis, NoRedisError, pingRedis } from './redis.js';

describe('ensureRedis (pnpm start)', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'embedded-redis-'));
  });
  afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

  it('uses REDIS_URL as given', async () => {
    const redis = await ensureRedis('redis://example.invalid:6379', tmp);
    expect(redis).toMatchObject({ url: 'redis://example.invalid:6379', source: 'configured' });
  });

  it('starts redis-server with its append-only data under DATA_DIR/redis when nothing answers', async () => {
    const embedded = await ensureRedis(undefined, tmp, 'redis://127.0.0.1:1');
    try {
      expect(embedded.source).toBe('embedded');
      expect(await pingRedis(embedded.url)).toBe(true);
      const client = createRedis(embedded.url);
      await client.set('kept', 'yes');
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      await client.quit();
    } finally {
      await embedded.stop();
    }
    expect(await pingRedis(embedded.url, 300)).toBe(false);
    expect((await fs.readdir(path.join(tmp, 'redis'))).length).toBeGreaterThan(0);
  });

  it('says how to get Redis when there is none to find or start', async () => {
    const missing = path.join(tmp, 'no-such-redis-server');
    const attempt = ensureRedis(undefined, tmp, 'redis://127.0.0.1:1', missing);
    await expect(attempt).rejects.toBeInstanceOf(NoRedisError);
    await expect(attempt).rejects.toThrow(/apt-get install -y redis-server/);
  });
});
