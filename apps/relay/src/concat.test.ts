import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Upload } from '@tus/utils';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const idOf = (url: string) => url.split('/').pop()!;

// With an operator configured, tools see only their own uploads.
const TOOLS = [
  { name: 'tool-a', token: 'token-a', role: 'tool' as const },
  { name: 'tool-b', token: 'token-b', role: 'tool' as const },
  { name: 'ops', token: 'token-ops', role: 'operator' as const },
];

describe('TUS concatenation (parallel uploads)', () => {
  let t: TestRelay;
  beforeEach(async () => {
    t = await startTestRelay({ tokens: TOOLS, maxUploadSize: 10_000 });
  });
  afterEach(() => t.close());

  const tus = (token = 'token-a') => ({ Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0' });

  /** A partial upload with `body` sent in its creation; `length` larger leaves it unfinished. */
  async function partial(body: Buffer, length = body.length, token = 'token-a'): Promise<string> {
    const res = await request(t.relay.app)
      .post('/files/')
      .set(tus(token))
      .set('Upload-Concat', 'partial')
      .set('Upload-Length', String(length))
      .set('Content-Type', 'application/offset+octet-stream')
      .send(body);
    expect(res.status).toBe(201);
    return res.headers.location!;
  }

  const final = (urls: string[], metadata = `filename ${b64('joined.mp4')},name ${b64('Joined')}`) =>
    request(t.relay.app)
      .post('/files/')
      .set(tus())
      .set('Upload-Concat', `final;${urls.join(' ')}`)
      .set('Upload-Metadata', metadata);

  const files = async () => (await fs.readdir(t.relay.uploadDir)).sort();
  const allJobs = async () =>
    (await request(t.relay.app).get('/api/jobs').set('Authorization', 'Bearer token-ops')).body.items as {
      id: string;
    }[];

  it('advertises concatenation in Tus-Extension', async () => {
    const res = await request(t.relay.app).options('/files/');
    expect(res.headers['tus-extension']?.split(',')).toContain('concatenation');
  });

  it('stores a partial upload without a filename, resumable with PATCH and HEAD, and no job', async () => {
    const create = await request(t.relay.app)
      .post('/files/')
      .set(tus())
      .set('Upload-Concat', 'partial')
      .set('Upload-Length', '10');
    expect(create.status).toBe(201);
    const id = idOf(create.headers.location!);
    const patch = await request(t.relay.app)
      .patch(`/files/${id}`)
      .set(tus())
      .set('Upload-Offset', '0')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(4, 1));
    expect(patch.status).toBe(204);
    const head = await request(t.relay.app).head(`/files/${id}`).set(tus());
    expect(head.status).toBe(200);
    expect(head.headers).toMatchObject({
      'upload-concat': 'partial',
      'upload-offset': '4',
      'upload-length': '10',
    });
    const done = await request(t.relay.app)
      .patch(`/files/${id}`)
      .set(tus())
      .set('Upload-Offset', '4')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(6, 2));
    expect(done.status).toBe(204);

    expect(await t.relay.jobs.get(id)).toBeNull();
    expect(await t.relay.manifests.read(id)).toBeNull();
    expect(await t.queues.forward.getJob(id)).toBeUndefined();
    expect(await allJobs()).toEqual([]);
    const job = await request(t.relay.app).get(`/api/jobs/${id}`).set('Authorization', 'Bearer token-a');
    expect(job.status).toBe(404);
  });

  it('assembles finished partials in order into one queued job and removes the partials', async () => {
    const parts = [Buffer.alloc(1_000, 1), Buffer.alloc(10, 2), Buffer.alloc(2_345, 3)];
    const urls: string[] = [];
    for (const body of parts) urls.push(await partial(body));
    // An absolute URL and a path, as the spec allows.
    urls[1] = new URL(urls[1]!).pathname;

    const res = await final(urls);
    expect(res.status).toBe(201);
    const id = idOf(res.headers.location!);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);

    const expected = Buffer.concat(parts);
    expect((await fs.readFile(path.join(t.relay.uploadDir, id))).equals(expected)).toBe(true);
    expect(await t.relay.jobs.get(id)).toMatchObject({
      state: 'queued',
      name: 'Joined',
      filename: 'joined.mp4',
      size: expected.length,
      bytes_received: expected.length,
      owner: 'tool-a',
      sha256: createHash('sha256').update(expected).digest('hex'),
    });
    expect((await t.queues.forward.getJob(id))?.data).toEqual({ id });
    expect((await t.relay.manifests.read(id))?.completed_at).not.toBeNull();
    expect((await allJobs()).map((j) => j.id)).toEqual([id]);

    // The partials are gone: files, info, answers.
    expect(await files()).toEqual([id, `${id}.json`, `${id}.relay.json`]);
    for (const url of urls) {
      const head = await request(t.relay.app)
        .head(`/files/${idOf(url)}`)
        .set(tus());
      expect(head.status).toBe(404);
    }

    const head = await request(t.relay.app).head(`/files/${id}`).set(tus());
    expect(head.status).toBe(200);
    expect(head.headers['upload-length']).toBe(String(expected.length));
    expect(head.headers['upload-offset']).toBe(String(expected.length));
    const named = head.headers['upload-concat']!;
    expect(named.startsWith('final;')).toBe(true);
    expect(named.slice('final;'.length).split(' ').map(idOf)).toEqual(urls.map(idOf));
  });

  it('refuses a PATCH of a final upload with 403, as tusd', async () => {
    const res = await final([await partial(Buffer.alloc(100, 1)), await partial(Buffer.alloc(100, 2))]);
    const id = idOf(res.headers.location!);
    const patch = await request(t.relay.app)
      .patch(`/files/${id}`)
      .set(tus())
      .set('Upload-Offset', '200')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(1));
    expect(patch.status).toBe(403);
    expect(patch.body.error.code).toBe('CONCAT_FINAL_IMMUTABLE');
    expect((await fs.stat(path.join(t.relay.uploadDir, id))).size).toBe(200);
  });

  it('refuses a final upload with an unfinished partial (400) and creates nothing', async () => {
    const done = await partial(Buffer.alloc(100, 1));
    const unfinished = await partial(Buffer.alloc(50, 2), 100);
    const before = await files();
    const res = await final([done, unfinished]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('CONCAT_PARTIAL_UNFINISHED');
    expect(await files()).toEqual(before);
    expect(await allJobs()).toEqual([]);
  });

  it('answers 404 for an unknown partial and for another tool’s', async () => {
    const mine = await partial(Buffer.alloc(100, 1));
    const theirs = await partial(Buffer.alloc(100, 2), 100, 'token-b');
    const unknown = await final([mine, `${new URL(mine).origin}/files/0123456789abcdef`]);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('UPLOAD_NOT_FOUND');
    const foreign = await final([mine, theirs]);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('UPLOAD_NOT_FOUND');
    // Nor may the other tool look at it: it is answered as if it did not exist.
    const head = await request(t.relay.app)
      .head(`/files/${idOf(theirs)}`)
      .set(tus('token-a'));
    expect(head.status).toBe(404);
    const own = await request(t.relay.app)
      .head(`/files/${idOf(theirs)}`)
      .set(tus('token-b'));
    expect(own.status).toBe(200);
    expect(await allJobs()).toEqual([]);
  });

  it('refuses an ordinary upload named in a final upload (400)', async () => {
    const ordinary = await request(t.relay.app)
      .post('/files/')
      .set(tus())
      .set('Upload-Length', '100')
      .set('Upload-Metadata', `filename ${b64('plain.mp4')}`)
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(100, 1));
    const res = await final([await partial(Buffer.alloc(100, 2)), ordinary.headers.location!]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('CONCAT_NOT_PARTIAL');
    expect((await allJobs()).map((j) => j.id)).toEqual([idOf(ordinary.headers.location!)]);
  });

  it('refuses partials adding up to more than MAX_UPLOAD_SIZE (413), keeping them', async () => {
    const urls = [await partial(Buffer.alloc(6_000, 1)), await partial(Buffer.alloc(6_000, 2))];
    const res = await final(urls);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('UPLOAD_TOO_LARGE');
    for (const url of urls) {
      expect(
        (
          await request(t.relay.app)
            .head(`/files/${idOf(url)}`)
            .set(tus())
        ).status,
      ).toBe(200);
    }
  });

  it('validates the final upload’s metadata and refuses a body or a malformed header', async () => {
    const urls = [await partial(Buffer.alloc(10, 1))];
    const noName = await final(urls, `name ${b64('no filename')}`);
    expect(noName.status).toBe(400);
    expect(noName.body.error.code).toBe('MISSING_FILENAME');
    const withBody = await final(urls)
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(5));
    expect(withBody.status).toBe(403);
    expect(withBody.body.error.code).toBe('CONCAT_FINAL_IMMUTABLE');
    for (const header of ['final;', 'final; ', 'whole']) {
      const bad = await request(t.relay.app).post('/files/').set(tus()).set('Upload-Concat', header);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('CONCAT_INVALID');
    }
    expect(await allJobs()).toEqual([]);
    // The partial is still there for a correct final upload.
    expect((await final(urls)).status).toBe(201);
  });

  it('leaves nothing of a final upload whose assembly failed midway, and keeps the partials', async () => {
    const first = idOf(await partial(Buffer.alloc(300, 1)));
    const second = idOf(await partial(Buffer.alloc(300, 2)));
    const before = await files();
    const parts = [await t.relay.tus.store.getUpload(first), await t.relay.tus.store.getUpload(second)];
    // The second partial's file disappears after the first was copied: the read fails midway.
    await fs.rm(path.join(t.relay.uploadDir, second));
    const upload = new Upload({ id: 'f0f0f0f0f0f0f0f0', size: 600, offset: 0, metadata: {} });
    await expect(
      t.relay.tus.concatenation.assemble(upload, parts, new AbortController().signal),
    ).rejects.toThrow(/ENOENT/);
    expect(await files()).toEqual(before.filter((name) => name !== second));
    expect(await allJobs()).toEqual([]);
    expect((await request(t.relay.app).head(`/files/${first}`).set(tus())).status).toBe(200);
  });

  it('never makes a job of a finished partial when reconciling', async () => {
    const id = idOf(await partial(Buffer.alloc(100, 1)));
    expect(await t.relay.reconcile()).toEqual({ restored: 0, enqueued: 0 });
    expect(await t.relay.jobs.get(id)).toBeNull();
    expect(await t.queues.forward.getJob(id)).toBeUndefined();
  });
});

describe('TUS concatenation and expiry', () => {
  let t: TestRelay;
  beforeEach(async () => {
    t = await startTestRelay({ uploadExpiryMs: 1_500 });
  });
  afterEach(() => t.close());

  it('expires partial uploads, finished ones too, and a final upload its relay never recorded', async () => {
    const create = (body: Buffer, length: number) =>
      request(t.relay.app)
        .post('/files/')
        .set('Authorization', `Bearer ${t.token}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Concat', 'partial')
        .set('Upload-Length', String(length))
        .set('Content-Type', 'application/offset+octet-stream')
        .send(body);
    const finished = idOf((await create(Buffer.alloc(100, 1), 100)).headers.location!);
    const unfinished = idOf((await create(Buffer.alloc(10, 1), 100)).headers.location!);
    // A relay that died between assembling a final upload and recording it (no manifest, no job).
    const parts = [await t.relay.tus.store.getUpload(finished)];
    const orphan = new Upload({
      id: 'e0e0e0e0e0e0e0e0',
      size: 100,
      offset: 0,
      metadata: { filename: 'orphan.mp4', relay_concat: `final;${finished}` },
    });
    await t.relay.tus.concatenation.assemble(orphan, parts, new AbortController().signal);
    expect(await t.relay.expire()).toBe(0);
    await new Promise((r) => setTimeout(r, 1_700));
    expect(await t.relay.expire()).toBe(3);
    expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
    for (const id of [finished, unfinished]) {
      const head = await request(t.relay.app)
        .head(`/files/${id}`)
        .set('Authorization', `Bearer ${t.token}`)
        .set('Tus-Resumable', '1.0.0');
      expect(head.status).toBe(404);
    }
  });
});
