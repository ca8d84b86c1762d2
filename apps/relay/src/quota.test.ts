import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testPrefix } from '@gtr/core/testing';
import type { Express } from 'express';
import request from 'supertest';
import { startTestRelay, type TestRelay, type TestRelayOptions } from './testing.js';

const MB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const idOf = (url: string) => url.split('/').pop()!;

// With an operator configured, tools see only their own.
const TOKENS = [
  { name: 'tool-a', token: 'token-a', role: 'tool' as const },
  { name: 'tool-b', token: 'token-b', role: 'tool' as const },
  { name: 'ops', token: 'token-ops', role: 'operator' as const },
];

interface Creation {
  token?: string;
  /** Upload-Length; undefined: Upload-Defer-Length: 1. */
  length?: number | undefined;
  /** Sent in the creation (creation-with-upload). */
  body?: Buffer;
  partial?: boolean;
}

/** A TUS creation as a tool sends it. */
function create(app: Express, { token = 'token-a', length, body, partial }: Creation = {}) {
  const req = request(app)
    .post('/files/')
    .set('Authorization', `Bearer ${token}`)
    .set('Tus-Resumable', '1.0.0');
  if (length === undefined) req.set('Upload-Defer-Length', '1');
  else req.set('Upload-Length', String(length));
  if (partial) req.set('Upload-Concat', 'partial');
  else req.set('Upload-Metadata', `filename ${b64('clip.mp4')}`);
  if (body) req.set('Content-Type', 'application/offset+octet-stream').send(body);
  return req;
}

const final = (app: Express, urls: string[], token = 'token-a') =>
  request(app)
    .post('/files/')
    .set('Authorization', `Bearer ${token}`)
    .set('Tus-Resumable', '1.0.0')
    .set('Upload-Concat', `final;${urls.join(' ')}`)
    .set('Upload-Metadata', `filename ${b64('joined.mp4')}`);

const patch = (
  app: Express,
  id: string,
  offset: number,
  body: Buffer,
  headers: Record<string, string> = {},
) =>
  request(app)
    .patch(`/files/${id}`)
    .set('Authorization', 'Bearer token-a')
    .set('Tus-Resumable', '1.0.0')
    .set('Content-Type', 'application/offset+octet-stream')
    .set('Upload-Offset', String(offset))
    .set(headers)
    .send(body);

/** What a refused creation must not change: files, jobs, quota places, the created counter. */
async function footprint(t: TestRelay) {
  const created = (await t.relay.metrics.uploadsCreated.get()).values.reduce((sum, v) => sum + v.value, 0);
  return {
    files: (await fs.readdir(t.relay.uploadDir)).sort(),
    jobs: (await t.relay.jobs.list({ limit: 500 })).items.map((job) => job.id).sort(),
    open: await t.relay.quota.open(),
    created,
  };
}

describe('per-tool upload quotas', () => {
  let t: TestRelay;
  const others: TestRelay[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const relay of others.splice(0)) await relay.close();
    await t.close();
    for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
  });

  /** Relays of one fleet: one Redis prefix, one upload dir. */
  async function fleet(...options: TestRelayOptions[]): Promise<TestRelay[]> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-quota-'));
    dirs.push(dataDir);
    const prefix = testPrefix();
    const relays: TestRelay[] = [];
    for (const o of options) relays.push(await startTestRelay({ tokens: TOKENS, dataDir, prefix, ...o }));
    [t] = relays as [TestRelay];
    others.push(...relays.slice(1));
    return relays;
  }

  it('refuses a tool its 201st open upload by default (TOOL_MAX_OPEN_UPLOADS=200) and writes nothing', async () => {
    t = await startTestRelay({ tokens: ['tool-a:token-a-0123456789abcdef'] });
    const post = () =>
      request(t.relay.app)
        .post('/files')
        .set('Authorization', 'Bearer token-a-0123456789abcdef')
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', String(10 * MB))
        .set('Upload-Metadata', `filename ${b64('a.mp4')}`);
    for (let i = 0; i < 200; i++) expect((await post()).status).toBe(201);
    const before = (await fs.readdir(t.relay.uploadDir)).sort();
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('UPLOAD_QUOTA_EXCEEDED');
    expect(refused.body.error.message).toBe('tool tool-a has 200 open uploads (TOOL_MAX_OPEN_UPLOADS=200)');
    expect((await fs.readdir(t.relay.uploadDir)).sort()).toEqual(before);
  }, 60_000);

  it('defaults TOOL_MAX_OPEN_BYTES to a quarter of the disk and DISK_RESERVE_BYTES to 5 % of it, at most 1 GiB', async () => {
    t = await startTestRelay({ tokens: TOKENS });
    const stats = await fs.statfs(t.relay.uploadDir);
    const disk = stats.blocks * stats.bsize;
    expect(t.relay.quota.limits).toEqual({
      maxOpenUploads: 200,
      maxOpenBytes: Math.floor(disk / 4),
      diskReserveBytes: Math.min(1024 ** 3, Math.floor(disk / 20)),
    });
  });

  it('refuses every kind of creation past TOOL_MAX_OPEN_UPLOADS with nothing left behind, and still lets the tool concatenate', async () => {
    t = await startTestRelay({ tokens: TOKENS, quota: { maxOpenUploads: 2, diskReserveBytes: 0 } });
    const app = t.relay.app;
    // Finished partials still take the disk: they hold their places until a final upload takes them.
    const parts = [];
    for (const byte of [1, 2]) {
      const res = await create(app, { partial: true, length: 4, body: Buffer.alloc(4, byte) });
      expect(res.status).toBe(201);
      parts.push(res.headers.location!);
    }
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 2, bytes: 8 }]);
    const before = await footprint(t);
    for (const creation of [
      { length: 100 },
      { length: 100, body: Buffer.alloc(100, 3) },
      { length: 4, partial: true },
      { length: undefined },
    ]) {
      const res = await create(app, creation);
      expect({ creation: Object.keys(creation), status: res.status, body: res.body }).toEqual({
        creation: Object.keys(creation),
        status: 429,
        body: {
          error: {
            code: 'UPLOAD_QUOTA_EXCEEDED',
            message: 'tool tool-a has 2 open uploads (TOOL_MAX_OPEN_UPLOADS=2)',
            retryable: true,
          },
        },
      });
      expect(await footprint(t)).toEqual(before);
    }
    // Another tool's places are its own.
    expect((await create(app, { token: 'token-b', length: 10 })).status).toBe(201);
    // The final upload takes its partials' places: the tool ends with nothing open.
    const joined = await final(app, parts);
    expect(joined.status).toBe(201);
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-b', uploads: 1, bytes: 10 }]);
    expect((await create(app, { length: 100 })).status).toBe(201);
  });

  it('counts declared bytes against TOOL_MAX_OPEN_BYTES, a deferred length from its declaration', async () => {
    t = await startTestRelay({ tokens: TOKENS, quota: { maxOpenBytes: 1_000, diskReserveBytes: 0 } });
    const app = t.relay.app;
    expect((await create(app, { length: 600 })).status).toBe(201);
    const before = await footprint(t);
    const refused = await create(app, { length: 500 });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'UPLOAD_QUOTA_EXCEEDED',
      message:
        'tool tool-a has 600 bytes declared in open uploads; 500 more would pass TOOL_MAX_OPEN_BYTES=1000',
    });
    expect(await footprint(t)).toEqual(before);

    const deferred = await create(app, { length: undefined });
    expect(deferred.status).toBe(201);
    const id = idOf(deferred.headers.location!);
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 2, bytes: 600 }]);
    // Declaring too much is refused, and the upload stays as it was: deferred, nothing written.
    const tooMuch = await patch(app, id, 0, Buffer.alloc(10, 1), { 'Upload-Length': '500' });
    expect(tooMuch.status).toBe(429);
    expect(tooMuch.body.error.code).toBe('UPLOAD_QUOTA_EXCEEDED');
    const head = await request(app)
      .head(`/files/${id}`)
      .set('Authorization', 'Bearer token-a')
      .set('Tus-Resumable', '1.0.0');
    expect(head.headers).toMatchObject({ 'upload-offset': '0', 'upload-defer-length': '1' });
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 2, bytes: 600 }]);
    const fits = await patch(app, id, 0, Buffer.alloc(10, 1), { 'Upload-Length': '400' });
    expect(fits.status).toBe(204);
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 2, bytes: 1_000 }]);
  });

  it('answers 507 INSUFFICIENT_STORAGE when an upload would leave less than DISK_RESERVE_BYTES free, final uploads included', async () => {
    const [roomy, tight] = (await fleet(
      { quota: { diskReserveBytes: 0 } },
      { quota: { diskReserveBytes: 2 ** 52 } },
    )) as [TestRelay, TestRelay];
    const parts = [];
    for (const byte of [1, 2]) {
      const res = await create(roomy.relay.app, { partial: true, length: 4, body: Buffer.alloc(4, byte) });
      parts.push(res.headers.location!);
    }
    const before = await footprint(roomy);
    for (const res of [await create(tight.relay.app, { length: 10 }), await final(tight.relay.app, parts)]) {
      expect(res.status).toBe(507);
      expect(res.body.error).toMatchObject({
        code: 'INSUFFICIENT_STORAGE',
        message: expect.stringContaining(`DISK_RESERVE_BYTES=${2 ** 52}`),
      });
      // The partials are untouched and keep their places.
      expect(await footprint(roomy)).toEqual(before);
    }
    expect((await final(roomy.relay.app, parts)).status).toBe(201);

    // A deferred length is checked against the reserve when it is declared.
    const deferred = await create(roomy.relay.app, { length: undefined });
    const id = idOf(deferred.headers.location!);
    const declared = await patch(tight.relay.app, id, 0, Buffer.alloc(10, 1), { 'Upload-Length': '10' });
    expect(declared.status).toBe(507);
    expect(declared.body.error.code).toBe('INSUFFICIENT_STORAGE');
    expect(await roomy.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 1, bytes: 0 }]);
    expect((await patch(roomy.relay.app, id, 0, Buffer.alloc(10, 1), { 'Upload-Length': '10' })).status).toBe(
      204,
    );
    expect(await roomy.relay.quota.open()).toEqual([]);
  });

  it('lets exactly TOOL_MAX_OPEN_UPLOADS of 20 parallel creations through, across two relays sharing Redis', async () => {
    const relays = await fleet(...[1, 2].map(() => ({ quota: { maxOpenUploads: 5, diskReserveBytes: 0 } })));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => create(relays[i % 2]!.relay.app, { length: 1_000 })),
    );
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses).toEqual([...Array(5).fill(201), ...Array(15).fill(429)]);
    for (const relay of relays) {
      expect(await relay.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 5, bytes: 5_000 }]);
    }
    const created = answers.filter((res) => res.status === 201).map((res) => idOf(res.headers.location!));
    const infos = (await fs.readdir(t.relay.uploadDir)).filter(
      (n) => n.endsWith('.json') && !n.endsWith('.relay.json'),
    );
    expect(infos.map((n) => n.slice(0, -'.json'.length)).sort()).toEqual(created.sort());
    expect((await t.relay.jobs.list({ limit: 100 })).items.map((job) => job.id).sort()).toEqual(
      created.sort(),
    );
  });

  it('frees the place when an upload finishes, is terminated, is cancelled or expires', async () => {
    let clock = Date.now();
    t = await startTestRelay({
      tokens: TOKENS,
      uploadExpiryMs: 60_000,
      now: () => clock,
      quota: { maxOpenUploads: 1, diskReserveBytes: 0 },
    });
    const app = t.relay.app;
    const refusedNow = async () => expect((await create(app, { length: 10 })).status).toBe(429);
    const next = async () => {
      const res = await create(app, { length: 10 });
      expect(res.status).toBe(201);
      await refusedNow();
      return idOf(res.headers.location!);
    };

    const finished = await next();
    expect((await patch(app, finished, 0, Buffer.alloc(10, 1))).status).toBe(204);
    const terminated = await next();
    const deleted = await request(app)
      .delete(`/files/${terminated}`)
      .set('Authorization', 'Bearer token-a')
      .set('Tus-Resumable', '1.0.0');
    expect(deleted.status).toBe(204);
    const canceled = await next();
    expect(
      (await request(app).delete(`/api/jobs/${canceled}`).set('Authorization', 'Bearer token-a')).status,
    ).toBe(202);
    await next();
    clock += 120_000;
    expect(await t.relay.expire()).toBe(1);
    expect(await t.relay.quota.open()).toEqual([]);
    await next();
  });

  it('reconciles the places with the upload dir: a place no upload took is freed after its grace, a lost one is counted again', async () => {
    let clock = Date.now();
    t = await startTestRelay({ tokens: TOKENS, now: () => clock, quota: { diskReserveBytes: 0 } });
    // A relay that held a place and died before writing the upload's files.
    await t.relay.quota.reserve({ id: 'never-written', owner: 'tool-a', size: 100 });
    const res = await create(t.relay.app, { length: 300 });
    const id = idOf(res.headers.location!);
    // Redis lost the upload's entry.
    await t.redis.hdel(`${t.prefix}:quota:uploads`, id);
    await t.relay.reconcile();
    // The reservation is young (its files may be on their way): kept.
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 2, bytes: 400 }]);
    clock += 31_000;
    await t.relay.reconcile();
    expect(await t.relay.quota.open()).toEqual([{ owner: 'tool-a', uploads: 1, bytes: 300 }]);
  });

  it('shows every owner its open uploads to operators (summary, /api/open-uploads, /metrics) and a tool only its own', async () => {
    t = await startTestRelay({
      tokens: TOKENS,
      quota: { maxOpenUploads: 50, maxOpenBytes: 10_000, diskReserveBytes: 0 },
    });
    const app = t.relay.app;
    await create(app, { length: 100 });
    await create(app, { length: 200 });
    await create(app, { token: 'token-b', length: 4, partial: true });
    const limits = { max_open_uploads: 50, max_open_bytes: 10_000, disk_reserve_bytes: 0 };
    const everyone = [
      { owner: 'ops', uploads: 0, bytes: 0 },
      { owner: 'tool-a', uploads: 2, bytes: 300 },
      { owner: 'tool-b', uploads: 1, bytes: 4 },
    ];
    const as = (token: string, url: string) => request(app).get(url).set('Authorization', `Bearer ${token}`);

    expect((await as('token-ops', '/api/dashboard/summary')).body.open_uploads).toEqual({
      limits,
      owners: everyone,
    });
    expect((await as('token-ops', '/api/open-uploads')).body).toEqual({ limits, owners: everyone });
    const metrics = (await as('token-ops', '/metrics')).text;
    expect(metrics).toContain('relay_open_uploads{owner="tool-a"} 2');
    expect(metrics).toContain('relay_open_uploads{owner="tool-b"} 1');
    expect(metrics).toContain('relay_open_upload_bytes{owner="tool-a"} 300');
    expect(metrics).toContain('relay_open_upload_bytes{owner="tool-b"} 4');

    expect((await as('token-a', '/api/open-uploads')).body).toEqual({
      limits,
      owners: [{ owner: 'tool-a', uploads: 2, bytes: 300 }],
    });
    expect((await as('token-b', '/api/open-uploads')).body.owners).toEqual([
      { owner: 'tool-b', uploads: 1, bytes: 4 },
    ]);
    expect((await as('token-a', '/api/dashboard/summary')).status).toBe(403);
    expect((await as('token-a', '/metrics')).status).toBe(403);
  });
});
