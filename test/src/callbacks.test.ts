import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { JobState, PublicJob } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, type StackOptions, startStack } from './support/stack.js';

const MB = 1024 * 1024;

interface Delivery {
  event: string;
  job: PublicJob;
}

/** A tool's callback endpoint on loopback: records every delivery. */
async function startHook(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      deliveries.push({ event: String(req.headers['x-relay-event']), job: JSON.parse(body) as PublicJob });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TUS upload created with `sent` of its `size` bytes, left unfinished. */
async function partialUpload(stack: Stack, metadata: Record<string, string>, size = 1000, sent = 100) {
  const encoded = Object.entries({ filename: 'partial.mp4', ...metadata })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
  const auth = { Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' };
  const created = await fetch(`${stack.relay.url}/files/`, {
    method: 'POST',
    headers: { ...auth, 'Upload-Length': String(size), 'Upload-Metadata': encoded },
  });
  expect(created.status).toBe(201);
  const url = new URL(created.headers.get('location')!, stack.relay.url).toString();
  const patched = await fetch(url, {
    method: 'PATCH',
    headers: { ...auth, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    body: Buffer.alloc(sent, 1),
  });
  expect(patched.status).toBe(204);
  return { url, id: url.split('/').pop()!, auth };
}

async function api(stack: Stack, method: string, route: string, body?: unknown) {
  const res = await fetch(`${stack.relay.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${stack.relay.token}`, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as PublicJob };
}

interface Path {
  name: string;
  stack?: StackOptions;
  /** Drives one job to its end; returns its id. */
  run(ctx: { stack: Stack; hook: string; tmp: string; origin: Origin }): Promise<string>;
  /** The final states the job passes, in order, each of which must be told exactly once. */
  finals: JobState[];
  code?: string;
}

const PATHS: Path[] = [
  {
    name: 'forward and track to ready',
    finals: ['ready'],
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'ready.mp4');
      await writeVideoFile(file, MB, 1);
      return stack.upload(file, { callback_url: hook });
    },
  },
  {
    name: 'an import Gcore pulls, to ready',
    finals: ['ready'],
    stack: { relay: { imports: { preflight: true, allowPrivate: true } } },
    async run({ stack, hook, origin }) {
      const res = await api(stack, 'POST', '/api/imports', {
        origin_url: `${origin.url}/origin.mp4`,
        callback_url: hook,
      });
      expect(res.status).toBe(202);
      return res.body.id;
    },
  },
  {
    name: 'Gcore rejects the file (File Invalid)',
    finals: ['failed'],
    code: 'GCORE_REJECTED',
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'invalid.mp4');
      await fs.writeFile(file, Buffer.alloc(64 * 1024, 0x41));
      return stack.upload(file, { callback_url: hook });
    },
  },
  {
    name: 'processing fails at Gcore (track)',
    finals: ['failed'],
    code: 'GCORE_PROCESSING_FAILED',
    stack: { faults: { processingError: 'Transcoding failed' } },
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'transcode.mp4');
      await writeVideoFile(file, MB, 2);
      return stack.upload(file, { callback_url: hook });
    },
  },
  {
    name: 'the forward fails for good (wrong API key)',
    finals: ['failed'],
    code: 'GCORE_UNAUTHORIZED',
    stack: { apiKey: 'not-the-key' },
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'key.mp4');
      await writeVideoFile(file, MB, 3);
      return stack.upload(file, { callback_url: hook });
    },
  },
  {
    name: 'retries exhausted (every API call 503)',
    finals: ['failed'],
    stack: { faults: { api5xxEveryN: 1 }, forwardAttempts: 2 },
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'exhausted.mp4');
      await writeVideoFile(file, MB, 4);
      return stack.upload(file, { callback_url: hook });
    },
  },
  {
    name: 'the upload expires',
    finals: ['failed'],
    code: 'UPLOAD_EXPIRED',
    stack: { relay: { uploadExpiryMs: 300 } },
    async run({ stack, hook }) {
      const { url, id, auth } = await partialUpload(stack, { callback_url: hook });
      await waitFor(
        async () => ((await fetch(url, { method: 'HEAD', headers: auth })).status === 410 ? true : undefined),
        { what: 'HEAD to answer 410' },
      );
      return id;
    },
  },
  {
    name: 'the tool terminates its upload (TUS DELETE)',
    finals: ['canceled'],
    async run({ stack, hook }) {
      const { url, id, auth } = await partialUpload(stack, { callback_url: hook });
      expect((await fetch(url, { method: 'DELETE', headers: auth })).status).toBe(204);
      return id;
    },
  },
  {
    name: 'the jobs API cancels a job',
    finals: ['canceled'],
    async run({ stack, hook }) {
      const { id } = await partialUpload(stack, { callback_url: hook });
      expect((await api(stack, 'DELETE', `/api/jobs/${id}`)).status).toBe(202);
      return id;
    },
  },
  {
    name: 'a ready job canceled to delete its video',
    finals: ['ready', 'canceled'],
    async run({ stack, hook, tmp }) {
      const file = path.join(tmp, 'delete.mp4');
      await writeVideoFile(file, MB, 5);
      const id = await stack.upload(file, { callback_url: hook });
      await stack.waitForState(id, ['ready']);
      expect((await api(stack, 'DELETE', `/api/jobs/${id}?delete_video=true`)).status).toBe(202);
      return id;
    },
  },
];

describe('callbacks: every way into a final state tells the tool exactly once', () => {
  let tmp: string;
  let origin: Origin;
  let hook: Awaited<ReturnType<typeof startHook>>;
  let stack: Stack | undefined;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'callbacks-'));
    await writeVideoFile(path.join(tmp, 'origin.mp4'), MB, 9);
    origin = await startOrigin(async (req, res, p) => {
      await sendFile(req, res, path.join(tmp, p), 'video/mp4');
    });
    hook = await startHook();
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });
  afterAll(async () => {
    await hook.close();
    await origin.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it.each(PATHS.map((p) => [p.name, p] as const))('%s', async (_name, p) => {
    stack = await startStack({ ...p.stack, worker: { importAllowPrivate: true, ...p.stack?.worker } });
    const id = await p.run({ stack, hook: hook.url, tmp, origin });
    const last = p.finals[p.finals.length - 1]!;
    const job = await stack.waitForState(id, [last]);
    if (p.code) expect(job.error?.code).toBe(p.code);

    const mine = () => hook.deliveries.filter((d) => d.job.id === id);
    await waitFor(() => (mine().length >= p.finals.length ? true : undefined), {
      what: `${p.finals.length} callback(s) for ${id}`,
    });
    // Nothing more on its way: the notify queue is idle and the outbox is empty.
    const { relay } = stack;
    await waitFor(
      async () => {
        const counts = await relay.queues.notify.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        const pending = await relay.redis.zcard(`${relay.prefix}:callbacks:due`);
        return Object.values(counts).every((n) => n === 0) && pending === 0 ? true : undefined;
      },
      { what: 'the notify queue to drain' },
    );
    await relay.relay.lifecycle.deliverDueCallbacks(0);
    expect(await relay.queues.notify.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
    expect(mine().map((d) => [d.event, d.job.state])).toEqual(p.finals.map((s) => [`job.${s}`, s]));
    expect(mine().at(-1)!.job).toMatchObject({
      id,
      state: last,
      ...(p.code ? { error: { code: p.code } } : {}),
    });
  });
});

describe('expiry: TUS and the jobs API agree from the moment an upload expires', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('HEAD answers 410 and the job is failed UPLOAD_EXPIRED when that answer arrives', async () => {
    stack = await startStack({ withWorker: false, relay: { uploadExpiryMs: 300 } });
    const { url, id, auth } = await partialUpload(stack, {});
    expect((await stack.job(id)).state).toBe('receiving');
    await waitFor(
      async () => ((await fetch(url, { method: 'HEAD', headers: auth })).status === 410 ? true : undefined),
      { what: 'HEAD to answer 410' },
    );
    // Read from Redis directly (not through the API, which would expire it itself).
    expect(await stack.relay.relay.jobs.get(id)).toMatchObject({
      state: 'failed',
      error: { code: 'UPLOAD_EXPIRED', retryable: false },
    });
    expect((await fetch(url, { method: 'HEAD', headers: auth })).status).toBe(410);
    expect(await fs.readdir(stack.relay.relay.uploadDir)).toEqual([]);
  });

  it('the jobs API shows an expired upload as failed before any TUS request, and TUS then answers 410', async () => {
    stack = await startStack({ withWorker: false, relay: { uploadExpiryMs: 300 } });
    const { url, id, auth } = await partialUpload(stack, {});
    const failed = await waitFor(
      async () => {
        const res = await api(stack!, 'GET', `/api/jobs/${id}`);
        return res.body.state === 'failed' ? res.body : undefined;
      },
      { what: 'the job to show failed' },
    );
    expect(failed.error).toMatchObject({ code: 'UPLOAD_EXPIRED' });
    const head = await fetch(url, { method: 'HEAD', headers: auth });
    expect(head.status).toBe(410);
    const patch = await fetch(url, {
      method: 'PATCH',
      headers: { ...auth, 'Upload-Offset': '100', 'Content-Type': 'application/offset+octet-stream' },
      body: Buffer.alloc(10),
    });
    expect(patch.status).toBe(410);
    expect(((await patch.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_EXPIRED');
  });
});
