import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl } from '@gtr/core/testing';
import { startRelayProcess } from './support/processes.js';

const TOKEN = 'dist-dashboard-token-0123456789abcdef';

describe('the built relay (apps/relay/dist)', () => {
  const prefix = testPrefix();
  const redis = createRedis(testRedisUrl());
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-dist-dashboard-'));
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('serves the dashboard and its assets, and stops cleanly with a live stream open', async () => {
    const relay = await startRelayProcess({
      DATA_DIR: dataDir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      RELAY_API_TOKENS: TOKEN,
      GCORE_API_URL: 'https://api.gcore.example',
    });
    let exited = false;
    try {
      const basic = `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}`;
      for (const url of [
        '/dashboard',
        '/dashboard/assets/js/main.js',
        '/dashboard/assets/dashboard.css',
        '/dashboard/assets/contract/index.js',
      ]) {
        const res = await fetch(`${relay.url}${url}`, { headers: { Authorization: basic } });
        expect({ url, status: res.status }).toEqual({ url, status: 200 });
      }
      const summary = await fetch(`${relay.url}/api/dashboard/summary`, {
        headers: { Authorization: basic },
      });
      expect(await summary.json()).toMatchObject({
        upstream: { url: 'https://api.gcore.example', emulator: false },
      });

      const events = await fetch(`${relay.url}/api/events`, { headers: { Authorization: basic } });
      const reader = events.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('retry:');
      const drained = (async () => {
        while (!(await reader.read()).done) {
          // the stream ends when the relay stops
        }
      })();
      expect(await relay.stop('SIGTERM')).toBe(0);
      exited = true;
      await drained;
    } finally {
      if (!exited) await relay.stop('SIGKILL');
    }
  });
});
