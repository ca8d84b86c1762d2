import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const metadata = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `${k} ${b64(v)}`)
    .join(',');
const mode = async (file: string) => (await fs.stat(file)).mode & 0o777;

/** Redis keys of job records and indexes under the relay's prefix (the queues have none yet). */
async function jobKeys(t: TestRelay): Promise<string[]> {
  const keys = await t.redis.keys(`${t.prefix}:job*`);
  const withMembers: string[] = [];
  for (const key of keys) {
    const type = await t.redis.type(key);
    const size =
      type === 'hash'
        ? await t.redis.hlen(key)
        : type === 'zset'
          ? await t.redis.zcard(key)
          : type === 'set'
            ? await t.redis.scard(key)
            : 1;
    if (size > 0 && !key.endsWith(':jobs:seq')) withMembers.push(key);
  }
  return withMembers;
}

describe('upload storage', () => {
  let t: TestRelay;
  let umask: number;
  beforeAll(async () => {
    // A permissive umask, as a container's default may be: the modes must not depend on it.
    umask = process.umask(0o000);
    t = await startTestRelay({ maxUploadSize: 1_000_000 });
  });
  afterAll(async () => {
    process.umask(umask);
    await t.close();
  });

  const create = (length: number | string, meta: Record<string, string> | null, body?: Buffer) => {
    let req = request(t.relay.app)
      .post('/files/')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(length));
    if (meta) req = req.set('Upload-Metadata', metadata(meta));
    if (body) req = req.set('Content-Type', 'application/offset+octet-stream').send(body);
    return req;
  };

  it('keeps uploads 0600 in a 0700 directory, whatever the umask', async () => {
    expect(await mode(t.relay.uploadDir)).toBe(0o700);
    const res = await create(
      10,
      { filename: 'a.mp4', callback_url: 'https://tool.example/hook' },
      Buffer.alloc(4),
    );
    expect(res.status).toBe(201);
    const id = res.headers.location!.split('/').pop()!;
    for (const name of [id, `${id}.json`, `${id}.relay.json`]) {
      expect([name, await mode(path.join(t.relay.uploadDir, name))]).toEqual([name, 0o600]);
    }
    // Still so after more bytes and the manifest's rewrite on completion.
    const patch = await request(t.relay.app)
      .patch(`/files/${id}`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Offset', '4')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(6));
    expect(patch.status).toBe(204);
    expect((await t.relay.manifests.read(id))?.completed_at).not.toBeNull();
    for (const name of [id, `${id}.json`, `${id}.relay.json`]) {
      expect([name, await mode(path.join(t.relay.uploadDir, name))]).toEqual([name, 0o600]);
    }
  });

  // Each case starts from an empty upload dir and no jobs.
  afterEach(async () => {
    for (const job of (await t.relay.jobs.list()).items) await t.relay.jobs.remove(job.id);
    for (const name of await fs.readdir(t.relay.uploadDir)) await fs.rm(path.join(t.relay.uploadDir, name));
  });

  it.each([
    [
      '400: a bad field',
      1_000,
      { filename: 'a.mp4', priority: 'abc' },
      Buffer.alloc(10),
      400,
      'INVALID_FIELD',
    ],
    ['400: no filename', 1_000, { name: 'x' }, Buffer.alloc(10), 400, 'MISSING_FILENAME'],
    ['415: not a video', 1_000, { filename: 'notes.txt' }, Buffer.alloc(10), 415, 'UNSUPPORTED_FORMAT'],
    ['413: over MAX_UPLOAD_SIZE', 1_000_001, { filename: 'a.mp4' }, undefined, 413, 'UPLOAD_TOO_LARGE'],
    [
      '413: a body longer than Upload-Length (creation-with-upload)',
      10,
      { filename: 'a.mp4', callback_url: 'https://tool.example/hook' },
      Buffer.alloc(100),
      413,
      null,
    ],
  ] as const)(
    'leaves no file, manifest or job after a refused creation — %s',
    async (_what, length, meta, body, status, code) => {
      const res = await create(length, meta, body);
      expect(res.status).toBe(status);
      if (code) expect(res.body.error.code).toBe(code);
      expect(res.headers.location).toBeUndefined();
      expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
      expect((await t.relay.jobs.list()).items).toEqual([]);
      expect(await jobKeys(t)).toEqual([]);
    },
  );

  it('leaves nothing after 507 either (more than the free disk space)', async () => {
    const big = await startTestRelay();
    try {
      const res = await request(big.relay.app)
        .post('/files/')
        .set('Authorization', `Bearer ${big.token}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', String(2 ** 52))
        .set('Upload-Metadata', metadata({ filename: 'huge.mp4' }));
      expect(res.status).toBe(507);
      expect(res.body.error.code).toBe('INSUFFICIENT_STORAGE');
      expect(await fs.readdir(big.relay.uploadDir)).toEqual([]);
      expect(await jobKeys(big)).toEqual([]);
    } finally {
      await big.close();
    }
  });
});
