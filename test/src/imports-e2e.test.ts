import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@gtr/cli';
import { captureIo } from '@gtr/cli/testing';
import type { PublicJob } from '@gtr/core';
import { writeVideoFile } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import S3rver from 's3rver';
import { fileVersion, type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1_000_000;

interface BatchAnswer {
  jobs: PublicJob[];
  created: boolean[];
  rejected: Array<{ index: number; error: { code: string; message: string } }>;
}

/** A JSON call to a relay's API, as an internal tool makes it. */
async function api<T>(
  relay: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${relay.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${relay.token}`, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('imports end to end, against the Gcore emulator (which pulls origin_url itself)', () => {
  let tmp: string;
  let stack: Stack;
  let origin: Origin;
  /** sha256 of every file the origin serves, by path. */
  const files = new Map<string, string>();

  const serve = async (name: string, size: number, seed: number) => {
    const { sha256 } = await writeVideoFile(path.join(tmp, name), size, seed);
    files.set(`/${name}`, sha256);
    return sha256;
  };

  /** Waits for each job to end, and expects it ready with the origin's bytes at the emulator. */
  const expectReadyWithBytes = async (jobs: PublicJob[], originPaths: string[]) => {
    for (const [i, job] of jobs.entries()) {
      const done = await stack.waitForState(job.id, ['ready', 'failed', 'canceled']);
      expect([done.state, done.error]).toEqual(['ready', null]);
      const video = stack.emulator.video(done.progress.video_id!);
      expect(video).toMatchObject({ status: 'ready', sha256: files.get(originPaths[i]!) });
    }
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imports-e2e-'));
    origin = await startOrigin(async (req, res, p) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
      if (!files.has(p)) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here');
      await sendFile(req, res, path.join(tmp, p), p.endsWith('.mov') ? 'video/quicktime' : 'video/mp4');
    });
    stack = await startStack({
      // Loopback origins (this file server, s3rver) get past the relay's SSRF guard only so.
      relay: { imports: { preflight: true, allowPrivate: true } },
      worker: { importAllowPrivate: true, chunkSize: 8 * MB },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("imports a file from a loopback server; Gcore pulls it and holds the origin's exact bytes", async () => {
    const sha256 = await serve('launch.mp4', 3 * MB, 1);
    const before = origin.requests.length;
    const res = await api<PublicJob>(stack.relay, 'POST', '/api/imports', {
      origin_url: `${origin.url}/launch.mp4`,
      name: 'Launch',
    });
    expect([res.status, res.body.kind, res.body.state]).toEqual([202, 'import', 'queued']);
    expect(res.body.size).toBe(3 * MB);

    const job = await stack.waitForState(res.body.id, ['ready', 'failed']);
    expect([job.state, job.error]).toEqual(['ready', null]);
    const video = stack.emulator.video(job.progress.video_id!)!;
    expect(video).toMatchObject({
      status: 'ready',
      name: 'Launch',
      originUrl: `${origin.url}/launch.mp4`,
      size: 3 * MB,
      sha256,
      tusUploads: 0,
    });
    // The relay only asked (HEAD); the bytes went from the origin to Gcore directly.
    expect(origin.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /launch.mp4',
      'GET /launch.mp4',
    ]);
    expect(job.bytes_received).toBe(0);
  });

  it('rejects bad batch items by index with a clear error and takes the rest to ready', async () => {
    await serve('one.mp4', 200_000, 11);
    await serve('two.mov', 150_000, 12);
    await serve('three.mp4', 100_000, 13);
    const before = origin.requests.length;
    const res = await api<BatchAnswer>(stack.relay, 'POST', '/api/imports/batch', {
      items: [
        { origin_url: `${origin.url}/one.mp4` },
        { origin_url: `${origin.url}/live/master.m3u8` },
        { origin_url: `ftp://127.0.0.1:${origin.port}/one.mp4` },
        { origin_url: `${origin.url}/two.mov`, name: 'Two' },
        { origin_url: `${origin.url}/notes.txt` },
        { origin_url: `${origin.url}/gone.mp4` },
        { origin_url: `${origin.url}/three.mp4` },
      ],
    });
    expect(res.status).toBe(202);
    const rejected = res.body.rejected.map((r) => [r.index, r.error.code, r.error.message]);
    expect(rejected).toEqual([
      [1, 'INVALID_ORIGIN_URL', expect.stringMatching(/points at an HLS manifest \(\.m3u8\)/)],
      [2, 'INVALID_ORIGIN_URL', 'origin_url must be an http or https URL, not ftp'],
      [4, 'INVALID_ORIGIN_URL', expect.stringMatching(/"\.txt" is not a video format/)],
      [5, 'ORIGIN_UNREACHABLE', expect.stringMatching(/^the origin answered 404 Not Found to HEAD /)],
    ]);
    expect(res.body.jobs.map((j) => j.name)).toEqual(['one', 'Two', 'three']);
    expect(res.body.created).toEqual([true, true, true]);
    // Refused by what the URL says, before anything was fetched; the 404 by its pre-flight.
    expect(
      origin.requests
        .slice(before)
        .filter((r) => r.method === 'HEAD')
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/gone.mp4', '/one.mp4', '/three.mp4', '/two.mov']);

    await expectReadyWithBytes(res.body.jobs, ['/one.mp4', '/two.mov', '/three.mp4']);
  });

  it('refuses loopback origins with the SSRF guard on, without fetching them or queueing anything', async () => {
    await serve('private.mp4', 10_000, 14);
    const guarded: TestRelay = await startTestRelay({ imports: { preflight: true, allowPrivate: false } });
    try {
      const before = origin.requests.length;
      const urls = [
        `${origin.url}/private.mp4`,
        `http://localhost:${origin.port}/private.mp4`,
        `http://[::1]:${origin.port}/private.mp4`,
      ];
      const res = await api<BatchAnswer>(guarded, 'POST', '/api/imports/batch', {
        items: [...urls.map((origin_url) => ({ origin_url })), { origin_url: 'ftp://x.test/a.mp4' }],
      });
      expect(res.status).toBe(202);
      expect(res.body.jobs).toEqual([]);
      expect(res.body.rejected.map((r) => [r.index, r.error.code])).toEqual([
        [0, 'ORIGIN_NOT_ALLOWED'],
        [1, 'ORIGIN_NOT_ALLOWED'],
        [2, 'ORIGIN_NOT_ALLOWED'],
        [3, 'INVALID_ORIGIN_URL'],
      ]);
      for (const r of res.body.rejected.slice(0, 3)) expect(r.error.message).toMatch(/loopback address/);
      const single = await api<{ error: { code: string } }>(guarded, 'POST', '/api/imports', {
        origin_url: urls[0],
      });
      expect([single.status, single.body.error.code]).toEqual([400, 'ORIGIN_NOT_ALLOWED']);
      expect(origin.requests.length).toBe(before);
      expect((await guarded.relay.jobs.list()).items).toEqual([]);
    } finally {
      await guarded.close();
    }
  });

  it('downloads a via "relay" import, resumes it with Range after the origin drops it half way, and forwards it intact', async () => {
    const size = 100 * MB;
    const cut = 50 * MB;
    const file = path.join(tmp, 'big.mp4');
    const { sha256 } = await writeVideoFile(file, size, 4);
    let dropped = false;
    const flaky = await startOrigin(async (req, res) => {
      if (req.method === 'GET' && !req.headers.range && !dropped) {
        dropped = true;
        // The whole file announced (with its validators, as sendFile answers), half of it sent,
        // then the connection is gone.
        const { etag, lastModified } = await fileVersion(file);
        res.writeHead(200, {
          'Content-Type': 'video/mp4',
          'Content-Length': size,
          ETag: etag,
          'Last-Modified': lastModified,
        });
        const stream = createReadStream(file, { end: cut - 1 });
        stream.pipe(res, { end: false });
        stream.on('end', () => res.write('', () => res.socket?.destroy()));
        return;
      }
      await sendFile(req, res, file);
    });
    try {
      const res = await api<PublicJob>(stack.relay, 'POST', '/api/imports', {
        origin_url: `${flaky.url}/big.mp4`,
        via: 'relay',
      });
      expect(res.status).toBe(202);
      const job = await stack.waitForState(res.body.id, ['ready', 'failed'], 60_000);
      expect([job.state, job.error]).toEqual(['ready', null]);
      expect(job).toMatchObject({ size, bytes_received: size, bytes_forwarded: size });
      expect(job.attempts).toBeGreaterThanOrEqual(2);

      const gets = flaky.requests.filter((r) => r.method === 'GET');
      expect(gets).toHaveLength(2);
      expect(gets[0]!.range).toBeNull();
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(cut);
      // Only against the version the first half came from.
      expect(gets[1]!.ifRange).toBe((await fileVersion(file)).etag);

      // The relay uploaded it over TUS (Gcore never saw the origin), byte for byte.
      expect(stack.emulator.video(job.progress.video_id!)).toMatchObject({
        status: 'ready',
        originUrl: null,
        pullAttempts: 0,
        tusUploads: 1,
        size,
        sha256,
      });
    } finally {
      await flaky.close();
    }
  });

  describe('pnpm relay import --s3, against s3rver on loopback', () => {
    let s3: S3rver;
    let env: Record<string, string>;
    const objects: Array<{ key: string; size: number; type: string; sha256?: string }> = [
      { key: 'in/intro.mp4', size: 300_000, type: 'video/mp4' },
      { key: 'in/talks/keynote.mov', size: 200_000, type: 'video/quicktime' },
      { key: 'in/talks/launch day.mkv', size: 250_000, type: 'video/x-matroska' },
      { key: 'in/talks/notes.txt', size: 100, type: 'text/plain' },
      { key: 'other/outside.mp4', size: 50_000, type: 'video/mp4' },
    ];

    beforeAll(async () => {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      s3 = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory: path.join(tmp, 's3rver'),
        configureBuckets: [{ name: 'media', configs: [] }],
      });
      const { port } = await s3.run();
      const endpoint = `http://127.0.0.1:${port}`;
      for (const [i, object] of objects.entries()) {
        const local = path.join(tmp, `s3-object-${i}`);
        object.sha256 = (await writeVideoFile(local, object.size, 100 + i)).sha256;
        // s3rver takes unsigned PUTs: the bucket is filled over its own S3 API.
        const put = await fetch(`${endpoint}/media/${encodeURI(object.key)}`, {
          method: 'PUT',
          headers: { 'Content-Type': object.type },
          body: await fs.readFile(local),
        });
        expect(put.status).toBe(200);
      }
      env = {
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: endpoint,
        RELAY_URL: stack.relay.url,
        RELAY_TOKEN: stack.relay.token,
        XDG_CONFIG_HOME: path.join(tmp, 'config'),
      };
    });
    afterAll(async () => {
      await s3?.close();
    });

    const relayCli = async (argv: string[]) => {
      // Its own cwd and HOME, not the checkout's (where `pnpm start` keeps a token in ./data).
      const cap = captureIo({ env: { HOME: tmp, ...env }, cwd: tmp, pollIntervalMs: 50 });
      const code = await runCli(argv, cap.io);
      return { code, out: cap.stdout(), err: cap.stderr() };
    };

    it('imports every video object under the prefix, which Gcore pulls through presigned URLs, and a re-run makes no second video', async () => {
      const videosBefore = stack.emulator.stats().videosCreated;
      const importIds = async () =>
        (await stack.relay.relay.jobs.list({ kind: 'import', limit: 500 })).items.map((j) => j.id).sort();
      const jobsBefore = await importIds();
      const first = await relayCli(['import', '--s3', 's3://media/in/', '--wait']);
      expect(first.err).toBe('');
      expect(first.out).toContain('s3://media/in/: 3 videos (1 other object skipped)');
      expect(first.out).toContain('imports: 3 created, 0 existing, 0 rejected');
      expect(first.out).toContain('jobs: 3 ready, 0 failed');
      expect(first.code).toBe(0);
      expect(stack.emulator.stats().videosCreated).toBe(videosBefore + 3);
      const jobsAfter = await importIds();
      expect(jobsAfter).toHaveLength(jobsBefore.length + 3);

      const videos = objects.slice(0, 3).map((object) => {
        const title = path.posix.basename(object.key).replace(/\.[^.]+$/, '');
        const matching = stack.emulator.videos().filter((v) => v.name === title);
        expect(matching).toHaveLength(1);
        return { object, video: matching[0]! };
      });
      for (const { object, video } of videos) {
        expect(video).toMatchObject({ status: 'ready', sha256: object.sha256, tusUploads: 0 });
        // Gcore pulled it from s3rver with a presigned URL: no credentials needed by the puller.
        const url = new URL(video.originUrl!);
        expect(url.origin).toBe(env.AWS_ENDPOINT_URL_S3);
        expect(decodeURIComponent(url.pathname)).toBe(`/media/${object.key}`);
        expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(stack.emulator.videos().some((v) => v.name === 'outside' || v.name === 'notes')).toBe(false);

      // Fresh presigned URLs, the same objects: the same jobs, no new Gcore video.
      const again = await relayCli(['import', '--s3', 's3://media/in/', '--wait']);
      expect(again.err).toBe('');
      expect(again.out).toContain('imports: 0 created, 3 existing, 0 rejected');
      expect(again.out).toContain('jobs: 3 ready, 0 failed');
      expect(again.code).toBe(0);
      expect(stack.emulator.stats().videosCreated).toBe(videosBefore + 3);
      expect(await importIds()).toEqual(jobsAfter);
    });
  });
});
