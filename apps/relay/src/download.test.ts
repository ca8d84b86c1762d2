import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const idOf = (url: string) => url.split('/').pop()!;

const TOKENS = [
  { name: 'tool-a', token: 'token-a', role: 'tool' as const },
  { name: 'tool-b', token: 'token-b', role: 'tool' as const },
  { name: 'ops', token: 'token-ops', role: 'operator' as const },
];

/** Buffers any answer body (supertest leaves video/* and octet-stream unparsed otherwise). */
const asBuffer = (res: request.Response, done: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
};

describe('GET of an upload URL (a download of its stored bytes)', () => {
  let t: TestRelay;
  const bytes = randomBytes(100_000);
  let id: string;

  const get = (path: string, token = 'token-a') =>
    request(t.relay.app).get(path).set('Authorization', `Bearer ${token}`).buffer(true).parse(asBuffer);

  async function upload(body: Buffer | null, length: number, filetype = 'video/mp4'): Promise<string> {
    const req = request(t.relay.app)
      .post('/files')
      .set('Authorization', 'Bearer token-a')
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(length))
      .set('Upload-Metadata', `filename ${b64('clip "one".mp4')},filetype ${b64(filetype)}`);
    const res = body
      ? await req.set('Content-Type', 'application/offset+octet-stream').send(body)
      : await req;
    expect(res.status).toBe(201);
    return idOf(res.headers.location!);
  }

  beforeAll(async () => {
    t = await startTestRelay({ tokens: TOKENS, corsOrigins: ['https://tool.example'] });
    id = await upload(bytes, bytes.length);
  });
  afterAll(() => t.close());

  it('gives the owner the whole file with @tus/server’s content headers, never cached', async () => {
    const res = await get(`/files/${id}`);
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
    expect(res.headers['content-length']).toBe(String(bytes.length));
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.headers['content-disposition']).toBe('inline; filename="clip \\"one\\".mp4"');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['tus-resumable']).toBe('1.0.0');
  });

  it('answers one Range with 206 and Content-Range, in each of its forms', async () => {
    for (const [range, start, end] of [
      ['bytes=10-19', 10, 19],
      ['bytes=99990-', 99_990, 99_999],
      ['bytes=-5', 99_995, 99_999],
      ['bytes=0-0', 0, 0],
      ['bytes=99000-200000', 99_000, 99_999],
      // Overlapping ranges are one.
      ['bytes=0-9,5-14', 0, 14],
    ] as const) {
      const res = await get(`/files/${id}`).set('Range', range);
      expect([range, res.status, res.headers['content-range']]).toEqual([
        range,
        206,
        `bytes ${start}-${end}/100000`,
      ]);
      expect(Buffer.compare(res.body as Buffer, bytes.subarray(start, end + 1))).toBe(0);
    }
  });

  it('answers a range past the end 416 RANGE_NOT_SATISFIABLE with the length, and several ranges the whole file', async () => {
    const past = await request(t.relay.app)
      .get(`/files/${id}`)
      .set('Authorization', 'Bearer token-a')
      .set('Range', 'bytes=100000-');
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */100000');
    expect(past.body.error.code).toBe('RANGE_NOT_SATISFIABLE');

    const several = await get(`/files/${id}`).set('Range', 'bytes=0-1,50000-50001');
    expect(several.status).toBe(200);
    expect((several.body as Buffer).length).toBe(bytes.length);
  });

  it('honours If-Range: a stale validator gets the whole file, the current one the range', async () => {
    const whole = await get(`/files/${id}`);
    const fresh = await get(`/files/${id}`).set('Range', 'bytes=0-3').set('If-Range', whole.headers.etag!);
    expect(fresh.status).toBe(206);
    const stale = await get(`/files/${id}`).set('Range', 'bytes=0-3').set('If-Range', 'W/"1-1"');
    expect(stale.status).toBe(200);
    expect((stale.body as Buffer).length).toBe(bytes.length);
  });

  it('is another tool’s 404 (as if there were no upload) and an operator’s download', async () => {
    const foreign = await request(t.relay.app).get(`/files/${id}`).set('Authorization', 'Bearer token-b');
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('UPLOAD_NOT_FOUND');
    const unauthenticated = await request(t.relay.app).get(`/files/${id}`);
    expect(unauthenticated.status).toBe(401);
    const ops = await get(`/files/${id}`, 'token-ops');
    expect(ops.status).toBe(200);
    expect(Buffer.compare(ops.body as Buffer, bytes)).toBe(0);
  });

  it('is 404 for an upload still receiving its bytes (as @tus/server), and takes no spelling but one', async () => {
    const unfinished = await upload(bytes.subarray(0, 10), 1000);
    const res = await request(t.relay.app).get(`/files/${unfinished}`).set('Authorization', 'Bearer token-a');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('UPLOAD_NOT_FOUND');
    for (const path of [`/files/${id}/`, `/FILES/${id}`, `/files//${id}`, `/files/${id.toUpperCase()}`]) {
      const other = await request(t.relay.app).get(path).set('Authorization', 'Bearer token-a');
      expect([path, other.status]).toEqual([path, 404]);
    }
  });

  it('serves any other type as an attachment', async () => {
    const mkv = await upload(bytes.subarray(0, 100), 100, 'video/x-matroska');
    const res = await get(`/files/${mkv}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('video/x-matroska');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename=/);
  });

  it('has the CORS of the other TUS methods: a listed origin reads Content-Range, a preflight may send Range', async () => {
    const res = await get(`/files/${id}`).set('Origin', 'https://tool.example').set('Range', 'bytes=0-9');
    expect(res.status).toBe(206);
    expect(res.headers['access-control-allow-origin']).toBe('https://tool.example');
    const exposed = res.headers['access-control-expose-headers']!.split(/,\s*/);
    expect(exposed).toEqual(
      expect.arrayContaining(['Content-Range', 'Accept-Ranges', 'Content-Disposition']),
    );

    const unlisted = await get(`/files/${id}`).set('Origin', 'https://evil.example');
    expect(unlisted.headers['access-control-allow-origin']).toBeUndefined();

    const preflight = await request(t.relay.app)
      .options(`/files/${id}`)
      .set('Origin', 'https://tool.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization, range');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']!.split(/,\s*/)).toEqual(
      expect.arrayContaining(['Range', 'If-Range', 'Authorization']),
    );
  });
});
