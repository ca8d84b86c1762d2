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

  it('keeps its data 0600 in 0700 folders, whatever the umask', async () => {
    const umask = process.umask(0o000);
    let embedded: Awaited<ReturnType<typeof ensureRedis>> | undefined;
    try {
      embedded = await ensureRedis(undefined, path.join(tmp, 'data'), 'redis://127.0.0.1:1');
      const client = createRedis(embedded.url);
      await client.set('kept', 'yes');
      // A rewrite makes the append-only folder's next files: they must be private too.
      await client.bgrewriteaof();
      await client.quit();
    } finally {
      await embedded?.stop();
      process.umask(umask);
    }
    const wrong: string[] = [];
    const entries = await fs.readdir(path.join(tmp, 'data'), { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      const full = path.join(entry.parentPath, entry.name);
      const mode = (await fs.stat(full)).mode & 0o777;
      if (mode !== (entry.isDirectory() ? 0o700 : 0o600)) wrong.push(`${entry.name} ${mode.toString(8)}`);
    }
    expect(entries.filter((e) => e.isFile()).length).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
    expect((await fs.stat(path.join(tmp, 'data'))).mode & 0o777).toBe(0o700);
  });

  it('says how to get Redis when there is none to find or start', async () => {
    const missing = path.join(tmp, 'no-such-redis-server');
    const attempt = ensureRedis(undefined, tmp, 'redis://127.0.0.1:1', missing);
    await expect(attempt).rejects.toBeInstanceOf(NoRedisError);
    await expect(attempt).rejects.toThrow(/apt-get install -y redis-server/);
  });
});
