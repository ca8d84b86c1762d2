import fs from 'node:fs/promises';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const metadata = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `${k} ${b64(v)}`)
    .join(',');

describe('refusing bad uploads at creation', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ maxUploadSize: 1_000_000 });
  });
  afterAll(() => t.close());

  const create = (meta: Record<string, string> | null, length = 1_000, body?: Buffer) => {
    let req = request(t.relay.app)
      .post('/files/')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(length));
    if (meta) req = req.set('Upload-Metadata', metadata(meta));
    if (body) req = req.set('Content-Type', 'application/offset+octet-stream').send(body);
    return req;
  };

  it.each([
    ['no metadata at all', null, 1_000, 400, 'MISSING_FILENAME'],
    ['no filename', { name: 'x', filetype: 'video/mp4' }, 1_000, 400, 'MISSING_FILENAME'],
    ['an HLS manifest', { filename: 'master.m3u8' }, 1_000, 415, 'UNSUPPORTED_FORMAT'],
    ['a DASH manifest', { filename: 'stream.mpd' }, 1_000, 415, 'UNSUPPORTED_FORMAT'],
    ['a .ts segment', { filename: 'seg-001.ts' }, 1_000, 415, 'UNSUPPORTED_FORMAT'],
    ['a text file', { filename: 'notes.txt' }, 1_000, 415, 'UNSUPPORTED_FORMAT'],
    [
      'a video name with a text type',
      { filename: 'a.mp4', filetype: 'text/plain' },
      1_000,
      415,
      'UNSUPPORTED_FORMAT',
    ],
    ['a size over MAX_UPLOAD_SIZE', { filename: 'big.mp4' }, 1_000_001, 413, 'UPLOAD_TOO_LARGE'],
    ['priority=abc', { filename: 'a.mp4', priority: 'abc' }, 1_000, 400, 'INVALID_FIELD'],
    [
      'a callback that is not http(s)',
      { filename: 'a.mp4', callback_url: 'file:///etc/passwd' },
      1_000,
      400,
      'INVALID_FIELD',
    ],
    [
      'a callback that is not a URL',
      { filename: 'a.mp4', callback_url: 'hook' },
      1_000,
      400,
      'INVALID_FIELD',
    ],
  ])('refuses %s and stores nothing', async (_what, meta, length, status, code) => {
    const res = await create(meta, length, Buffer.alloc(100));
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.headers.location).toBeUndefined();
    expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
    expect((await t.relay.jobs.list()).items).toEqual([]);
  });

  it('names the problem in the message', async () => {
    const res = await create({ filename: 'a.mp4', priority: '99' });
    expect(res.body.error.message).toBe('priority must be at most 10');
    const callback = await create({ filename: 'a.mp4', callback_url: 'javascript:alert(1)' });
    expect(callback.body.error).toMatchObject({
      code: 'INVALID_FIELD',
      message: 'callback_url must be an http(s) URL',
    });
    const hls = await create({ filename: 'master.m3u8' });
    expect(hls.body.error.message).toMatch(/streaming manifest or segment/);
  });

  it('answers TUS protocol errors as JSON too', async () => {
    const res = await request(t.relay.app).post('/files/').set('Authorization', `Bearer ${t.token}`);
    expect(res.status).toBe(412);
    expect(res.body.error.code).toBe('TUS_VERSION_MISMATCH');
    const missing = await request(t.relay.app)
      .head('/files/0123456789abcdef')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0');
    expect(missing.status).toBe(404);
  });
});

describe('authentication', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: ['first-token', 'second-token'] });
  });
  afterAll(() => t.close());

  /** Every route of the app, read from Express's router so a new one cannot be forgotten. */
  function routes(): Array<{ method: string; path: string }> {
    const out: Array<{ method: string; path: string }> = [];
    const stack = (t.relay.app as unknown as { router: { stack: Layer[] } }).router.stack;
    type Layer = {
      route?: { path: string | string[]; methods: Record<string, boolean> };
      handle?: { stack?: Layer[] };
    };
    const walk = (layers: Layer[]) => {
      for (const layer of layers) {
        if (layer.route) {
          const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
          // app.all() routes list every HTTP verb; the ones tools use are enough.
          const methods = Object.keys(layer.route.methods).filter((m) => VERBS.includes(m));
          for (const p of paths) {
            for (const m of methods) {
              out.push({ method: m, path: p.replace('{*splat}', 'abc123').replace(':id', 'abc123') });
            }
          }
        } else if (layer.handle?.stack) {
          walk(layer.handle.stack);
        }
      }
    };
    walk(stack);
    return out;
  }

  const VERBS = ['get', 'post', 'put', 'patch', 'delete', 'head'];
  const open = new Set(['/healthz', '/readyz']);

  it('refuses every route but health without a token or with a wrong one', async () => {
    const all = routes();
    expect(all.map((r) => r.path)).toEqual(expect.arrayContaining(['/files', '/api/jobs', '/metrics']));
    for (const { method, path } of all) {
      if (open.has(path)) continue;
      const call = (request(t.relay.app) as unknown as Record<string, (p: string) => request.Test>)[method]!(
        path,
      );
      const none = await call.set('Tus-Resumable', '1.0.0');
      expect([method, path, none.status]).toEqual([method, path, 401]);
      const wrong = await (request(t.relay.app) as unknown as Record<string, (p: string) => request.Test>)[
        method
      ]!(path)
        .set('Authorization', 'Bearer not-a-token')
        .set('Tus-Resumable', '1.0.0');
      expect([method, path, wrong.status]).toEqual([method, path, 401]);
      if (method !== 'head') expect(wrong.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('accepts each configured token, and answers health without one', async () => {
    for (const token of ['first-token', 'second-token']) {
      const res = await request(t.relay.app).get('/api/jobs').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
    }
    expect((await request(t.relay.app).get('/healthz')).status).toBe(200);
    expect((await request(t.relay.app).get('/readyz')).body).toEqual({
      ready: true,
      checks: { redis: 'ok', upload_dir: 'ok' },
    });
  });

  it('lets CORS preflights through and exposes the TUS headers to browsers', async () => {
    const pre = await request(t.relay.app)
      .options('/files/')
      .set('Origin', 'https://tool.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, tus-resumable, upload-length, upload-metadata');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/i);
    const created = await request(t.relay.app)
      .post('/files/')
      .set('Origin', 'https://tool.example')
      .set('Authorization', 'Bearer first-token')
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '10')
      .set('Upload-Metadata', `filename ${b64('a.mp4')}`);
    expect(created.status).toBe(201);
    expect(created.headers['access-control-expose-headers']).toMatch(/Location/);
    expect(created.headers['access-control-expose-headers']).toMatch(/Upload-Offset/);
    const apiPre = await request(t.relay.app).options('/api/jobs').set('Origin', 'https://tool.example');
    expect(apiPre.status).toBe(204);
  });
});
