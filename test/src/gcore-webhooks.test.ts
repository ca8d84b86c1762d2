import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PublicJob } from '@gtr/core';
import { writeVideoFile } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { rawRequest } from './support/raw-http.js';
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

const MB = 1024 * 1024;

interface Sent {
  status: number;
  body: string;
  /** Body bytes the socket took before the answer (or the close). */
  written: number;
  /** Whether the relay closed the connection (within 10 s of its answer). */
  closed: boolean;
}

/**
 * A POST whose body is written 64 KiB at a time (as fast as the relay reads it) until `total`
 * bytes went out or an answer came: `contentLength` null sends it chunked. Then waits for the
 * relay to answer (or close) — a body that stops short stays open from this side.
 */
function sendBody(url: string, options: { contentLength: number | null; total?: number }): Promise<Sent> {
  const { hostname, port, pathname } = new URL(url);
  const total = options.total ?? options.contentLength ?? 0;
  const length =
    options.contentLength === null
      ? 'Transfer-Encoding: chunked'
      : `Content-Length: ${options.contentLength}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let written = 0;
    let answered = false;
    let closed = false;
    const finish = () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      resolve({
        status: Number(raw.split(' ')[1] ?? 0),
        body: end < 0 ? '' : raw.slice(end + 4),
        written,
        closed,
      });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      answered = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!error.code?.startsWith('E')) reject(error);
    });
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      finish();
    });
    socket.on('connect', async () => {
      socket.write(
        `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n${length}\r\n\r\n`,
      );
      const piece = Buffer.alloc(64 * 1024, 'x');
      while (written < total && !answered && !socket.destroyed) {
        const part = piece.subarray(0, Math.min(piece.length, total - written));
        const framed =
          options.contentLength === null
            ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')])
            : part;
        written += part.length;
        if (!socket.write(framed)) {
          await new Promise<void>((drained) => {
            const done = () => {
              socket.off('drain', done);
              socket.off('close', done);
              socket.off('data', done);
              drained();
            };
            socket.on('drain', done).on('close', done).on('data', done);
          });
        }
      }
    });
  });
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

  it('GCORE_WEBHOOK_SOURCES: another address gets exactly the answer of a wrong secret (no oracle)', async () => {
    const answer = async (secret: string, headers: Record<string, string> = {}) => {
      const res = await rawRequest(limited.url, {
        method: 'POST',
        target: `/hooks/gcore/${secret}`,
        headers: { 'Content-Type': 'application/json', ...headers },
        body: Buffer.from(hook()),
      });
      const { date: _date, ...rest } = res.headers;
      return { status: res.status, headers: rest, body: res.body.toString() };
    };
    const wrongSource = await answer(SECRET);
    expect(wrongSource.status).toBe(401);
    expect(wrongSource).toEqual(await answer(`${SECRET}z`));
    expect(wrongSource).toEqual(await answer('abc123'));
    const withToken = await answer(SECRET, { Authorization: `Bearer ${TOKEN}` });
    expect(withToken.status).toBe(404);
    expect(withToken).toEqual(await answer(`${SECRET}z`, { Authorization: `Bearer ${TOKEN}` }));
  });

  it('WEBHOOK_MAX_BODY: a declared body over it is 413 at once, unread, and the connection closed', async () => {
    const huge = await sendBody(`${t.url}/hooks/gcore/${SECRET}`, { contentLength: 100 * MB });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).error.code).toBe('BODY_TOO_LARGE');
    expect(huge.closed).toBe(true);
    // What the socket buffers took before the answer, never the 100 MB.
    expect(huge.written).toBeLessThan(16 * MB);
  });

  it('WEBHOOK_MAX_BODY: a chunked body is cut at the limit with 413', async () => {
    const chunked = await sendBody(`${t.url}/hooks/gcore/${SECRET}`, {
      contentLength: null,
      total: 100 * MB,
    });
    expect(chunked.status).toBe(413);
    expect(chunked.closed).toBe(true);
    expect(chunked.written).toBeGreaterThan(MB);
    expect(chunked.written).toBeLessThan(16 * MB);
    // A body at the limit is taken.
    const small = await startTestRelay({
      tokens: [TOKEN],
      gcoreWebhooks: { pathSecret: SECRET, maxBody: 2048 },
    });
    try {
      expect(await post(`${small.url}/hooks/gcore/${SECRET}`, hook({ id: 3, pad: 'x'.repeat(1900) }))).toBe(
        202,
      );
      expect(await post(`${small.url}/hooks/gcore/${SECRET}`, hook({ id: 3, pad: 'x'.repeat(2100) }))).toBe(
        413,
      );
    } finally {
      await small.close();
    }
  });

  it('a body that does not arrive in time is 408 and the connection closed', async () => {
    const slow = await startTestRelay({
      tokens: [TOKEN],
      gcoreWebhooks: { pathSecret: SECRET, bodyTimeoutMs: 300 },
    });
    try {
      // 10 of 1000 bytes, then nothing.
      const stalled = await sendBody(`${slow.url}/hooks/gcore/${SECRET}`, { contentLength: 1000, total: 10 });
      expect(stalled.status).toBe(408);
      expect(JSON.parse(stalled.body).error.code).toBe('REQUEST_TIMEOUT');
      expect(stalled.closed).toBe(true);
      // The route still works.
      expect(await post(`${slow.url}/hooks/gcore/${SECRET}`, hook())).toBe(202);
    } finally {
      await slow.close();
    }
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
