import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256File, writeVideoFile } from '@gtr/core/testing';
import request from 'supertest';
import { startTestRelay, type TestRelay, tusUpload } from './testing.js';

const MB = 1024 * 1024;

describe('TUS ingest', () => {
  let t: TestRelay;
  let tmp: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-src-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  beforeEach(async () => {
    t = await startTestRelay({ maxUploadSize: 200 * MB });
  });
  afterEach(() => t.close());

  const idOf = (uploadUrl: string) => uploadUrl.split('/').pop()!;

  it('takes a 50 MB upload in 5 MB chunks and queues a job with the upload id', async () => {
    const file = path.join(tmp, 'fifty.mp4');
    const { sha256 } = await writeVideoFile(file, 50 * MB, 7);
    const uploadUrl = await tusUpload({
      endpoint: `${t.url}/files/`,
      token: t.token,
      file,
      chunkSize: 5 * MB,
      metadata: {
        filename: 'fifty.mp4',
        filetype: 'video/mp4',
        name: 'Fifty megabytes',
        description: 'a test upload',
        priority: '5',
        directory_id: '12',
        callback_url: 'http://127.0.0.1:9/hook',
      },
    });
    const id = idOf(uploadUrl);
    const job = await request(t.relay.app).get(`/api/jobs/${id}`).set('Authorization', `Bearer ${t.token}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({
      id,
      kind: 'upload',
      state: 'queued',
      name: 'Fifty megabytes',
      filename: 'fifty.mp4',
      size: 50 * MB,
      bytes_received: 50 * MB,
      bytes_forwarded: 0,
      video: null,
      error: null,
    });
    const record = await t.relay.jobs.get(id);
    expect(record?.request).toEqual({
      description: 'a test upload',
      filetype: 'video/mp4',
      fields: { priority: 5, directory_id: 12 },
      callback_url: 'http://127.0.0.1:9/hook',
      via: 'gcore',
    });
    expect(await sha256File(path.join(t.relay.uploadDir, id))).toBe(sha256);
    const queued = await t.queues.forward.getJob(id);
    expect(queued?.data).toEqual({ id });
    expect(queued?.name).toBe('upload');
    expect((await t.relay.manifests.read(id))?.completed_at).not.toBeNull();
  });

  it.each([
    ['store', false],
    ['stream', true],
  ] as const)(
    'shows the job as receiving, with bytes_received, while the upload runs (FORWARD_MODE=%s)',
    async (mode, forwardsWhileReceiving) => {
      const r = await startTestRelay({ forward: { mode, chunkSize: MB } });
      try {
        const auth = { Authorization: `Bearer ${r.token}`, 'Tus-Resumable': '1.0.0' };
        const create = await request(r.relay.app)
          .post('/files/')
          .set(auth)
          .set('Upload-Length', String(3 * MB))
          .set('Upload-Metadata', `filename ${Buffer.from('partial.mp4').toString('base64')}`);
        const id = idOf(create.headers.location!);
        expect(await r.relay.jobs.get(id)).toMatchObject({
          state: 'receiving',
          bytes_received: 0,
          size: 3 * MB,
        });
        const patch = await request(r.relay.app)
          .patch(`/files/${id}`)
          .set(auth)
          .set('Upload-Offset', '0')
          .set('Content-Type', 'application/offset+octet-stream')
          .send(Buffer.alloc(MB, 1));
        expect(patch.status).toBe(204);
        const job = await request(r.relay.app).get(`/api/jobs/${id}`).set(auth);
        expect(job.body).toMatchObject({ state: 'receiving', bytes_received: MB });
        if (forwardsWhileReceiving) {
          // A chunk is in: its forward is queued while the rest arrives.
          await waitFor(async () => (await r.queues.forward.getJob(id)) !== undefined);
          expect((await r.relay.jobs.get(id))?.state).toBe('receiving');
        } else {
          expect(await r.queues.forward.getJob(id)).toBeUndefined();
        }
      } finally {
        await r.close();
      }
    },
  );

  it('resumes an upload whose connection was cut, from the offset the relay kept', async () => {
    const file = path.join(tmp, 'cut.mp4');
    const { sha256 } = await writeVideoFile(file, 12 * MB, 3);
    let firstUrl: string | undefined;
    await new Promise<void>((resolve, reject) => {
      tusUpload({
        endpoint: `${t.url}/files/`,
        token: t.token,
        file,
        chunkSize: 2 * MB,
        metadata: { filename: 'cut.mp4' },
        onStart: (upload) => {
          const abortAfterHalf = setInterval(() => {
            if (upload.url && upload.url !== firstUrl) firstUrl = upload.url;
          }, 5);
          upload.options.onProgress = (sent) => {
            if (sent >= 5 * MB) {
              clearInterval(abortAfterHalf);
              firstUrl = upload.url ?? firstUrl;
              // abort() destroys the socket mid-PATCH, as a dropped connection would.
              upload.abort().then(resolve, reject);
            }
          };
        },
      }).catch(reject);
    });
    expect(firstUrl).toBeDefined();
    const id = idOf(firstUrl!);
    const head = await request(t.relay.app)
      .head(`/files/${id}`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0');
    const offset = Number(head.headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(12 * MB);
    expect((await t.relay.jobs.get(id))?.state).toBe('receiving');

    const resumedUrl = await tusUpload({
      endpoint: `${t.url}/files/`,
      uploadUrl: firstUrl!,
      token: t.token,
      file,
      chunkSize: 2 * MB,
      metadata: { filename: 'cut.mp4' },
    });
    expect(resumedUrl).toBe(firstUrl);
    expect(await sha256File(path.join(t.relay.uploadDir, id))).toBe(sha256);
    expect((await t.relay.jobs.get(id))?.state).toBe('queued');
  });

  it('lets a client terminate its unfinished upload, canceling the job and removing the file', async () => {
    const create = await request(t.relay.app)
      .post('/files/')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '1000')
      .set('Upload-Metadata', `filename ${Buffer.from('a.mp4').toString('base64')}`);
    expect(create.status).toBe(201);
    const id = idOf(create.headers.location!);
    expect((await t.relay.jobs.get(id))?.state).toBe('receiving');
    const del = await request(t.relay.app)
      .delete(`/files/${id}`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0');
    expect(del.status).toBe(204);
    expect((await t.relay.jobs.get(id))?.state).toBe('canceled');
    expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
  });

  describe('X-HTTP-Method-Override', () => {
    const auth = () => ({ Authorization: `Bearer ${t.token}`, 'Tus-Resumable': '1.0.0' });
    const create = async (length: number) => {
      const res = await request(t.relay.app)
        .post('/files/')
        .set(auth())
        .set('Upload-Length', String(length))
        .set('Upload-Metadata', `filename ${Buffer.from('o.mp4').toString('base64')}`);
      expect(res.status).toBe(201);
      return idOf(res.headers.location!);
    };

    it('takes tus-js-client uploads whose PATCHes are sent as POST', async () => {
      const file = path.join(tmp, 'override.mp4');
      const { sha256 } = await writeVideoFile(file, 3 * MB, 11);
      const uploadUrl = await tusUpload({
        endpoint: `${t.url}/files/`,
        token: t.token,
        file,
        chunkSize: MB,
        overridePatchMethod: true,
        metadata: { filename: 'override.mp4' },
      });
      const id = idOf(uploadUrl);
      expect((await t.relay.jobs.get(id))?.state).toBe('queued');
      expect(await sha256File(path.join(t.relay.uploadDir, id))).toBe(sha256);
      // No upload was created by the overridden PATCHes.
      expect((await fs.readdir(t.relay.uploadDir)).filter((f) => !f.includes('.'))).toEqual([id]);
    });

    it('answers a POST overridden to HEAD as a HEAD', async () => {
      const id = await create(1000);
      const head = await request(t.relay.app)
        .post(`/files/${id}`)
        .set(auth())
        .set('X-HTTP-Method-Override', 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers['upload-offset']).toBe('0');
      expect(head.headers['upload-length']).toBe('1000');
      expect(head.headers['cache-control']).toBe('no-store');
    });

    it('terminates an upload on a POST overridden to DELETE', async () => {
      const id = await create(1000);
      const del = await request(t.relay.app)
        .post(`/files/${id}`)
        .set(auth())
        .set('X-HTTP-Method-Override', 'DELETE');
      expect(del.status).toBe(204);
      expect((await t.relay.jobs.get(id))?.state).toBe('canceled');
      expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
    });

    it('applies the PATCH checks to an overridden PATCH', async () => {
      const id = await create(10);
      const patch = await request(t.relay.app)
        .post(`/files/${id}`)
        .set(auth())
        .set('X-HTTP-Method-Override', 'PATCH')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(Buffer.alloc(10));
      expect(patch.status).toBe(400);
      expect(patch.body.error.code).toBe('MISSING_UPLOAD_OFFSET');
      expect((await fs.readdir(t.relay.uploadDir)).filter((f) => !f.startsWith(id))).toEqual([]);
    });

    it('refuses an override it does not take, creating nothing', async () => {
      const res = await request(t.relay.app)
        .post('/files/')
        .set(auth())
        .set('X-HTTP-Method-Override', 'GET')
        .set('Upload-Length', '10');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
      expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
    });
  });

  describe('CORS on /files', () => {
    it('lets browsers send the TUS and client headers in a preflight', async () => {
      const res = await request(t.relay.app)
        .options('/files/')
        .set('Origin', 'https://app.example')
        .set('Access-Control-Request-Method', 'POST');
      expect(res.status).toBe(204);
      const allowed = res.headers['access-control-allow-headers']!.split(/,\s*/).map((h: string) =>
        h.toLowerCase(),
      );
      for (const header of [
        'authorization',
        'content-type',
        'tus-resumable',
        'upload-length',
        'upload-metadata',
        'upload-offset',
        'x-request-id',
        'upload-checksum',
        'upload-concat',
        'upload-defer-length',
        'x-http-method-override',
      ]) {
        expect(allowed).toContain(header);
      }
      expect(res.headers['access-control-allow-methods']).toMatch(/PATCH/);
      expect(res.headers['access-control-allow-origin']).toBeDefined();
    });

    it('lets browsers read Upload-Expires, Upload-Offset, Location and Tus-* on a response', async () => {
      const res = await request(t.relay.app)
        .post('/files/')
        .set('Origin', 'https://app.example')
        .set('Authorization', `Bearer ${t.token}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', '10')
        .set('Upload-Metadata', `filename ${Buffer.from('c.mp4').toString('base64')}`);
      expect(res.status).toBe(201);
      expect(res.headers['upload-expires']).toBeDefined();
      const exposed = res.headers['access-control-expose-headers']!.split(/,\s*/).map((h: string) =>
        h.toLowerCase(),
      );
      for (const header of [
        'upload-expires',
        'upload-offset',
        'upload-length',
        'upload-concat',
        'location',
        'tus-resumable',
        'tus-version',
        'tus-extension',
        'tus-max-size',
      ]) {
        expect(exposed).toContain(header);
      }
    });

    it('with CORS_ORIGINS, answers only a listed origin, on /files and on the JSON API', async () => {
      const listed = await startTestRelay({ corsOrigins: ['https://app.example'] });
      try {
        const preflight = (origin: string, route: string) =>
          request(listed.relay.app)
            .options(route)
            .set('Origin', origin)
            .set('Access-Control-Request-Method', 'POST');
        for (const route of ['/files/', '/api/jobs']) {
          const ok = await preflight('https://app.example', route);
          expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
          expect(ok.headers.vary).toMatch(/Origin/i);
          const other = await preflight('https://evil.example', route);
          expect(other.headers['access-control-allow-origin']).toBeUndefined();
        }
        const upload = await request(listed.relay.app)
          .post('/files/')
          .set('Origin', 'https://evil.example')
          .set('Authorization', `Bearer ${listed.token}`)
          .set('Tus-Resumable', '1.0.0')
          .set('Upload-Length', '10')
          .set('Upload-Metadata', `filename ${Buffer.from('c.mp4').toString('base64')}`);
        // Not a browser: the request itself is served, but no page of that origin may read it.
        expect(upload.status).toBe(201);
        expect(upload.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await listed.close();
      }
    });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
