import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { waitFor } from '@gtr/core/testing';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const MB = 1024 * 1024;
const digest = (algorithm: string, bytes: Buffer) => createHash(algorithm).update(bytes).digest('base64');
// Compared by digest: Jest's toEqual walks a megabyte Buffer byte by byte, for seconds.
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
function bytesOf(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * seed + (i >> 10)) & 255;
  return bytes;
}

describe('TUS checksum extension', () => {
  let t: TestRelay;
  // The relay's clock: moved on before a PATCH so that its first chunk writes bytes_received (the
  // throttled progress) and a refused PATCH has something to take back.
  let clockOffset = 0;
  beforeEach(async () => {
    clockOffset = 0;
    t = await startTestRelay({ now: () => Date.now() + clockOffset });
  });
  afterEach(() => t.close());

  const auth = () => ({ Authorization: `Bearer ${t.token}`, 'Tus-Resumable': '1.0.0' });
  const create = async (length: number) => {
    const res = await request(t.relay.app)
      .post('/files/')
      .set(auth())
      .set('Upload-Length', String(length))
      .set('Upload-Metadata', `filename ${Buffer.from('sum.mp4').toString('base64')}`);
    expect(res.status).toBe(201);
    return res.headers.location!.split('/').pop()!;
  };
  const patch = (id: string, offset: number, body: Buffer, checksum?: string) => {
    const req = request(t.relay.app)
      .patch(`/files/${id}`)
      .set(auth())
      .set('Upload-Offset', String(offset))
      .set('Content-Type', 'application/offset+octet-stream');
    return (checksum === undefined ? req : req.set('Upload-Checksum', checksum)).send(body);
  };
  const offsetOf = async (id: string) => {
    const head = await request(t.relay.app).head(`/files/${id}`).set(auth());
    expect(head.status).toBe(200);
    return Number(head.headers['upload-offset']);
  };
  const fileOf = (id: string) => path.join(t.relay.uploadDir, id);

  it('advertises checksum, checksum-trailer and its algorithms on OPTIONS', async () => {
    const res = await request(t.relay.app).options('/files/').set('Origin', 'http://tool.example');
    expect(res.status).toBe(204);
    expect(res.headers['tus-extension']!.split(',')).toEqual(
      expect.arrayContaining(['creation', 'checksum', 'checksum-trailer']),
    );
    expect(res.headers['tus-checksum-algorithm']).toBe('sha1,md5,sha256,sha384,sha512');
    const exposed = (
      await request(t.relay.app).head('/files/x').set(auth()).set('Origin', 'http://tool.example')
    ).headers['access-control-expose-headers']!;
    expect(exposed.split(/,\s*/)).toContain('Tus-Checksum-Algorithm');
  });

  it.each(['sha1', 'md5', 'sha256', 'sha512'])(
    'takes a PATCH whose %s checksum matches',
    async (algorithm) => {
      const id = await create(3 * MB);
      const first = bytesOf(MB, 7);
      const res = await patch(id, 0, first, `${algorithm} ${digest(algorithm, first)}`);
      expect(res.status).toBe(204);
      expect(res.headers['upload-offset']).toBe(String(MB));
      expect(await offsetOf(id)).toBe(MB);
      expect(sha256(await fs.readFile(fileOf(id)))).toBe(sha256(first));
    },
  );

  it('answers 460 to a wrong checksum and keeps the upload exactly as it was, then takes the right bytes', async () => {
    const id = await create(2 * MB);
    const first = bytesOf(MB, 3);
    const second = bytesOf(MB, 5);
    expect((await patch(id, 0, first, `sha1 ${digest('sha1', first)}`)).status).toBe(204);
    const old = new Date('2020-01-02T03:04:05Z');
    await fs.utimes(fileOf(id), old, old);
    clockOffset = 60_000;

    const corrupted = Buffer.from(second);
    corrupted[1234] = corrupted[1234]! ^ 1;
    const refused = await patch(id, MB, corrupted, `sha1 ${digest('sha1', second)}`);
    expect(refused.status).toBe(460);
    expect(refused.body).toEqual({
      error: {
        code: 'CHECKSUM_MISMATCH',
        message: expect.stringContaining('Upload-Checksum'),
        retryable: true,
      },
    });
    expect(await offsetOf(id)).toBe(MB);
    const stat = await fs.stat(fileOf(id));
    expect(stat.size).toBe(MB);
    expect(stat.mtime).toEqual(old);
    expect(await t.relay.jobs.get(id)).toMatchObject({ state: 'receiving', bytes_received: MB });

    const accepted = await patch(id, MB, second, `sha256 ${digest('sha256', second)}`);
    expect(accepted.status).toBe(204);
    expect(accepted.headers['upload-offset']).toBe(String(2 * MB));
    expect(sha256(await fs.readFile(fileOf(id)))).toBe(sha256(Buffer.concat([first, second])));
    expect(await t.relay.jobs.get(id)).toMatchObject({ state: 'queued', bytes_received: 2 * MB });
  });

  it('refuses an algorithm it does not offer with 400 before storing anything', async () => {
    const id = await create(MB);
    const body = bytesOf(MB, 9);
    for (const header of [`crc32 ${Buffer.alloc(4).toString('base64')}`, `SHA1 ${digest('sha1', body)}`]) {
      const res = await patch(id, 0, body, header);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('CHECKSUM_ALGORITHM_UNSUPPORTED');
      expect(res.body.error.message).toContain('sha1, md5, sha256');
    }
    expect(await offsetOf(id)).toBe(0);
    expect((await fs.stat(fileOf(id))).size).toBe(0);
  });

  it('refuses a malformed Upload-Checksum with 400 before storing anything', async () => {
    const id = await create(MB);
    const body = bytesOf(MB, 9);
    const good = digest('sha1', body);
    for (const header of [
      `sha1${good}`,
      'sha1 ',
      `sha1 ${good.slice(0, -1)}`,
      `sha1 ${good.replace(/.$/, '!')}`,
      `sha1 ${digest('sha256', body)}`,
      `sha1 ${good}, sha1 ${good}`,
    ]) {
      const res = await patch(id, 0, body, header);
      expect([header, res.status, res.body.error?.code]).toEqual([header, 400, 'INVALID_CHECKSUM']);
    }
    expect(await offsetOf(id)).toBe(0);
    expect((await fs.stat(fileOf(id))).size).toBe(0);
  });

  it('checks a PATCH sent as POST with X-HTTP-Method-Override', async () => {
    const id = await create(MB);
    const body = bytesOf(MB, 11);
    const send = (checksum: string) =>
      request(t.relay.app)
        .post(`/files/${id}`)
        .set(auth())
        .set('X-HTTP-Method-Override', 'PATCH')
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .set('Upload-Checksum', checksum)
        .send(body);
    expect((await send(`sha1 ${digest('sha1', Buffer.alloc(MB))}`)).status).toBe(460);
    expect((await fs.stat(fileOf(id))).size).toBe(0);
    const ok = await send(`md5 ${digest('md5', body)}`);
    expect(ok.status).toBe(204);
    expect(sha256(await fs.readFile(fileOf(id)))).toBe(sha256(body));
  });

  it('checks the body of a creation-with-upload: a mismatch creates nothing', async () => {
    const body = bytesOf(MB, 13);
    const post = (checksum: string) =>
      request(t.relay.app)
        .post('/files/')
        .set(auth())
        .set('Upload-Length', String(2 * MB))
        .set('Upload-Metadata', `filename ${Buffer.from('with-body.mp4').toString('base64')}`)
        .set('Content-Type', 'application/offset+octet-stream')
        .set('Upload-Checksum', checksum)
        .send(body);
    const refused = await post(`sha256 ${digest('sha256', Buffer.alloc(MB))}`);
    expect(refused.status).toBe(460);
    expect(refused.headers.location).toBeUndefined();
    expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);

    const created = await post(`sha256 ${digest('sha256', body)}`);
    expect(created.status).toBe(201);
    expect(created.headers['upload-offset']).toBe(String(MB));
    expect(sha256(await fs.readFile(fileOf(created.headers.location!.split('/').pop()!)))).toBe(sha256(body));
  });

  it('keeps none of a checksummed PATCH whose connection was cut before its end', async () => {
    const id = await create(4 * MB);
    const full = bytesOf(4 * MB, 17);
    const req = http.request(`${t.url}/files/${id}`, {
      method: 'PATCH',
      headers: {
        ...auth(),
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(full.length),
        'Upload-Checksum': `sha1 ${digest('sha1', full)}`,
      },
    });
    req.on('error', () => {});
    req.write(full.subarray(0, 2 * MB));
    // Cut only once bytes of it are on the relay's disk: they are what must not stay.
    await waitFor(async () => ((await fs.stat(fileOf(id))).size > 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the first bytes on disk',
    });
    req.destroy();
    // HEAD takes the upload's lock: it answers once the cut PATCH has let go of it.
    expect(await offsetOf(id)).toBe(0);
    expect((await fs.stat(fileOf(id))).size).toBe(0);
    expect(await t.relay.jobs.get(id)).toMatchObject({ bytes_received: 0 });
  });

  describe('checksum-trailer', () => {
    /** A chunked PATCH with `Trailer: Upload-Checksum`, the checksum (if any) sent after the body. */
    const patchWithTrailer = (id: string, offset: number, body: Buffer, trailer?: string) =>
      new Promise<{ status: number; body: { error?: { code: string } } }>((resolve, reject) => {
        const req = http.request(`${t.url}/files/${id}`, {
          method: 'PATCH',
          headers: {
            ...auth(),
            'Upload-Offset': String(offset),
            'Content-Type': 'application/offset+octet-stream',
            'Transfer-Encoding': 'chunked',
            Trailer: 'Upload-Checksum',
          },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} });
          });
        });
        req.write(body.subarray(0, body.length / 2));
        req.write(body.subarray(body.length / 2));
        if (trailer !== undefined) req.addTrailers({ 'Upload-Checksum': trailer });
        req.end();
      });

    it('takes a PATCH whose checksum trailer matches', async () => {
      const id = await create(2 * MB);
      const body = bytesOf(MB, 19);
      const res = await patchWithTrailer(id, 0, body, `sha512 ${digest('sha512', body)}`);
      expect(res.status).toBe(204);
      expect(await offsetOf(id)).toBe(MB);
      expect(sha256(await fs.readFile(fileOf(id)))).toBe(sha256(body));
    });

    it('answers 460 to a wrong trailer and 400 to a missing or unsupported one, keeping nothing', async () => {
      const id = await create(2 * MB);
      const body = bytesOf(MB, 23);
      const wrong = await patchWithTrailer(id, 0, body, `sha1 ${digest('sha1', Buffer.alloc(MB))}`);
      expect([wrong.status, wrong.body.error?.code]).toEqual([460, 'CHECKSUM_MISMATCH']);
      const missing = await patchWithTrailer(id, 0, body);
      expect([missing.status, missing.body.error?.code]).toEqual([400, 'INVALID_CHECKSUM']);
      const unsupported = await patchWithTrailer(id, 0, body, `crc32 ${Buffer.alloc(4).toString('base64')}`);
      expect([unsupported.status, unsupported.body.error?.code]).toEqual([
        400,
        'CHECKSUM_ALGORITHM_UNSUPPORTED',
      ]);
      expect(await offsetOf(id)).toBe(0);
      expect((await fs.stat(fileOf(id))).size).toBe(0);
      const ok = await patchWithTrailer(id, 0, body, `sha1 ${digest('sha1', body)}`);
      expect(ok.status).toBe(204);
    });
  });
});
