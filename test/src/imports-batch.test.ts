import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PublicJob } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const COUNT = 300;
/** Gcore's API ceiling here, and the worker's GCORE_API_RPS: the same 4 requests/s. */
const RPS = 4;

interface BatchAnswer {
  jobs: PublicJob[];
  created: boolean[];
  rejected: Array<{ index: number; error: { code: string; message: string } }>;
}

describe('a batch of 300 imports against a Gcore that allows 4 API requests per second', () => {
  let tmp: string;
  let origin: Origin;
  let stack: Stack;
  const sha256s: string[] = [];

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imports-batch-'));
    // 300 different small videos, so a mix-up between jobs would show in the bytes.
    for (let i = 0; i < COUNT; i++) {
      sha256s.push((await writeVideoFile(path.join(tmp, `${i}.mp4`), 4_096 + i, 1_000 + i)).sha256);
    }
    origin = await startOrigin(async (req, res, p) => {
      const n = /^\/videos\/(\d+)\.mp4$/.exec(p)?.[1];
      if (n === undefined || Number(n) >= COUNT) return void res.writeHead(404).end();
      await sendFile(req, res, path.join(tmp, `${n}.mp4`));
    });
    stack = await startStack({
      faults: { apiRateLimit: RPS },
      rps: RPS,
      relay: { imports: { preflight: true, allowPrivate: true } },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it(
    'takes all 300 to ready with their own bytes, stays under the rate limit, and makes no new video when sent again',
    async () => {
      const items = sha256s.map((_, i) => ({ origin_url: `${origin.url}/videos/${i}.mp4` }));
      const send = async () => {
        const res = await fetch(`${stack.relay.url}/api/imports/batch`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${stack.relay.token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ items }),
        });
        return { status: res.status, body: (await res.json()) as BatchAnswer };
      };
      const started = performance.now();
      const first = await send();
      const acceptedMs = performance.now() - started;
      expect(first.status).toBe(202);
      expect(first.body.rejected).toEqual([]);
      expect(first.body.jobs).toHaveLength(COUNT);
      expect(first.body.created).toEqual(items.map(() => true));

      const counts = await waitFor(
        async () => {
          const c = await stack.relay.relay.jobs.countByState();
          return c.ready + c.failed + c.canceled === COUNT ? c : undefined;
        },
        { timeoutMs: 8 * 60_000, intervalMs: 500, what: `${COUNT} imports to end` },
      );
      const wallMs = performance.now() - started;
      expect(counts).toMatchObject({ ready: COUNT, failed: 0, canceled: 0 });

      const stats = stack.emulator.stats();
      expect(stats.videosCreated).toBe(COUNT);
      expect(stats.api429s).toBeLessThan(10);
      for (const [i, job] of first.body.jobs.entries()) {
        const record = await stack.job(job.id);
        expect(stack.emulator.video(record.progress.video_id!)).toMatchObject({
          status: 'ready',
          originUrl: items[i]!.origin_url,
          sha256: sha256s[i],
        });
      }

      // Idempotent per origin_url: the same jobs back, none created, no call that makes a video.
      const again = await send();
      expect(again.status).toBe(202);
      expect(again.body.jobs.map((j) => j.id)).toEqual(first.body.jobs.map((j) => j.id));
      expect(again.body.created).toEqual(items.map(() => false));
      expect(again.body.jobs.every((j) => j.state === 'ready')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(stack.emulator.stats().videosCreated).toBe(COUNT);

      // A timing is a benchmark, not an assertion: reported for the record.
      process.stdout.write(
        `${COUNT} imports at ${RPS} API requests/s: accepted in ${Math.round(acceptedMs)} ms, all ready in ` +
          `${(wallMs / 1000).toFixed(1)} s; Gcore API requests ${stats.apiRequests}, 429s ${stats.api429s}, ` +
          `peak ${stats.peakApiRps}/s\n`,
      );
    },
    9 * 60_000,
  );
});
