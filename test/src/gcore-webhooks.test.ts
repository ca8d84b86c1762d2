import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PublicJob } from '@gtr/core';
import { writeVideoFile } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { routeTable } from './support/routes.js';
import { startStack } from './support/stack.js';

const SECRET = 'hook-secret-0123456789abcdefXYZ';
const TOKEN = 'tool-token-0123456789abcdef';
const hook = (video: unknown = { id: 1, status: 'ready' }) =>
  JSON.stringify({ type: 'video', message: { video } });

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
  await res.body?.cancel().catch(() => {});
  return res.status;
}

describe("Gcore's webhooks: POST /hooks/gcore/<secret>", () => {
  let t: TestRelay;
  let limited: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: [TOKEN], gcoreWebhooks: { pathSecret: SECRET } });
    limited = await startTestRelay({
      tokens: [TOKEN],
      gcoreWebhooks: { pathSecret: SECRET, sources: ['92.223.112.0/24', '92.223.123.0/24'] },
    });
  });
  afterAll(async () => {
    await t.close();
    await limited.close();
  });

  it('the right secret path takes a webhook without a token; a wrong one answers as any unknown path', async () => {
    expect(await post(`${t.url}/hooks/gcore/${SECRET}`, hook())).toBe(202);
    // An unknown video, a body that is not Gcore's, one too big: 202 and nothing.
    expect(await post(`${t.url}/hooks/gcore/${SECRET}`, hook({ id: 987654 }))).toBe(202);
    expect(await post(`${t.url}/hooks/gcore/${SECRET}`, '{not json')).toBe(202);
    expect(await post(`${t.url}/hooks/gcore/${SECRET}`, hook({ id: 2, pad: 'x'.repeat(100_000) }))).toBe(202);

    for (const wrong of [`${SECRET}x`, SECRET.slice(1), 'abc123']) {
      expect(await post(`${t.url}/hooks/gcore/${wrong}`, hook())).toBe(401);
      expect(await post(`${t.url}/hooks/gcore/${wrong}`, hook(), { Authorization: `Bearer ${TOKEN}` })).toBe(
        404,
      );
      expect(await post(`${t.url}/nowhere/${wrong}`, hook())).toBe(401);
    }
    expect(await post(`${t.url}/hooks/gcore`, hook())).toBe(401);
    // Only POST.
    const get = await fetch(`${t.url}/hooks/gcore/${SECRET}`);
    expect(get.status).toBe(401);
  });

  it('appears in the route table (as the matrix tests probe it) only when configured', async () => {
    const paths = routeTable(t).map((e) => `${e.method} ${e.path}`);
    expect(paths).toContain('post /hooks/gcore/abc123');
    expect(routeTable(limited).map((e) => e.path)).toContain('/hooks/gcore/abc123');
    const plain = await startTestRelay({ tokens: [TOKEN] });
    try {
      expect(routeTable(plain).some((e) => e.path.startsWith('/hooks'))).toBe(false);
      expect(await post(`${plain.url}/hooks/gcore/${SECRET}`, hook())).toBe(401);
    } finally {
      await plain.close();
    }
  });

  it('GCORE_WEBHOOK_SOURCES: another address gets 403 on the right path, 401 on a wrong one', async () => {
    expect(await post(`${limited.url}/hooks/gcore/${SECRET}`, hook())).toBe(403);
    expect(await post(`${limited.url}/hooks/gcore/${SECRET}z`, hook())).toBe(401);
  });

  it('a webhook marks webhooks as arriving; only its video id is used', async () => {
    const { jobs } = t.relay;
    const before = await jobs.webhooksArriving();
    expect(await post(`${t.url}/hooks/gcore/${SECRET}`, hook({ id: 5 }))).toBe(202);
    await new Promise((r) => setTimeout(r, 200));
    expect([before, await jobs.webhooksArriving()]).toEqual([expect.any(Boolean), true]);
  });
});

describe("Gcore's webhooks end to end: fewer status looks than polling alone", () => {
  let tmp: string;
  let origin: Origin;
  const COUNT = 20;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gcore-hooks-'));
    for (let i = 0; i < COUNT; i++) await writeVideoFile(path.join(tmp, `v${i}.mp4`), 50_000, 100 + i);
    origin = await startOrigin(async (req, res, p) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
      await sendFile(req, res, path.join(tmp, p), 'video/mp4');
    });
  });
  afterAll(async () => {
    await origin?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** A batch of COUNT imports to `ready`; the Gcore API requests it took. */
  const run = async (webhooks: boolean) => {
    const stack = await startStack({
      // 4 s of processing per video.
      faults: { processingStepMs: 2_000 },
      relay: {
        imports: { preflight: true, allowPrivate: true },
        ...(webhooks ? { gcoreWebhooks: { pathSecret: SECRET } } : {}),
      },
      // Polling alone looks every 100 ms. With webhooks the polls are only the fallback, set far
      // apart here (2 s, 4 s; 5× that while webhooks arrive), so the looks come from the
      // webhooks: how few API requests they need does not hang on this machine's timing.
      worker: {
        importAllowPrivate: true,
        trackIntervalMs: webhooks ? { first: 2_000, max: 4_000 } : { first: 50, max: 100 },
      },
    });
    try {
      const res = await fetch(`${stack.relay.url}/api/imports/batch`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.relay.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          items: Array.from({ length: COUNT }, (_, i) => ({ origin_url: `${origin.url}/v${i}.mp4` })),
        }),
      });
      expect(res.status).toBe(202);
      const { jobs } = (await res.json()) as { jobs: PublicJob[] };
      expect(jobs).toHaveLength(COUNT);
      for (const job of jobs) {
        const done = await stack.waitForState(job.id, ['ready', 'failed', 'canceled'], 60_000);
        expect([done.state, done.error]).toEqual(['ready', null]);
        // The worker indexed the video for the webhooks.
        expect(await stack.relay.relay.jobs.jobOfVideo(done.progress.video_id!)).toBe(job.id);
      }
      const stats = stack.emulator.stats();
      if (webhooks) expect(stats.webhooksSent).toBeGreaterThanOrEqual(COUNT * 3);
      return stats.apiRequests;
    } finally {
      await stack.close();
    }
  };

  it(`${COUNT} imports reach ready with fewer Gcore API requests when webhooks arrive`, async () => {
    const polling = await run(false);
    const hooked = await run(true);
    process.stdout.write(
      `Gcore API requests for ${COUNT} imports: polling alone ${polling}, with webhooks ${hooked}\n`,
    );
    expect(hooked).toBeLessThan(polling);
  }, 120_000);
});
