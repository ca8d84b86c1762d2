import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@gtr/core/testing';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

// Each accepted PATCH moves an unfinished upload's expiry on: it runs from the last byte.
const EXPIRY_MS = 4_000;
const CHUNK = 1_000;
const CHUNKS = 10;

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('UPLOAD_EXPIRY slides from the last accepted byte', () => {
  let t: TestRelay;
  beforeEach(async () => {
    t = await startTestRelay({ uploadExpiryMs: EXPIRY_MS });
  });
  afterEach(() => t.close());

  const tus = () => ({ Authorization: `Bearer ${t.token}`, 'Tus-Resumable': '1.0.0' });
  const create = async (length: number): Promise<string> => {
    const res = await request(t.relay.app)
      .post('/files/')
      .set(tus())
      .set('Upload-Length', String(length))
      .set('Upload-Metadata', `filename ${b64('slide.mp4')}`);
    expect(res.status).toBe(201);
    return res.headers.location!.split('/').pop()!;
  };
  const patch = (id: string, offset: number, body: Buffer) =>
    request(t.relay.app)
      .patch(`/files/${id}`)
      .set(tus())
      .set('Content-Type', 'application/offset+octet-stream')
      .set('Upload-Offset', String(offset))
      .send(body);
  const head = (id: string) => request(t.relay.app).head(`/files/${id}`).set(tus());
  const job = async (id: string) =>
    (await request(t.relay.app).get(`/api/jobs/${id}`).set('Authorization', `Bearer ${t.token}`)).body;

  it('never cuts off an upload that keeps sending past UPLOAD_EXPIRY, and it finishes', async () => {
    const id = await create(CHUNK * CHUNKS);
    const started = Date.now();
    for (let n = 0; n < CHUNKS; n++) {
      const res = await patch(id, n * CHUNK, Buffer.alloc(CHUNK, n));
      expect({ n, status: res.status, body: res.body }).toMatchObject({ n, status: 204 });
      if (n === CHUNKS - 1) break;
      // Every place that expires uploads agrees it is alive: TUS, the jobs API and the sweep.
      expect((await head(id)).status).toBe(200);
      expect(await job(id)).toMatchObject({ state: 'receiving', bytes_received: (n + 1) * CHUNK });
      expect(await t.relay.expire()).toBe(0);
      await sleep(1_000);
    }
    // It ran well past the expiry counted from its creation.
    expect(Date.now() - started).toBeGreaterThan(2 * EXPIRY_MS);
    expect(await job(id)).toMatchObject({ state: 'queued', bytes_received: CHUNK * CHUNKS });
    const done = await head(id);
    expect(done.status).toBe(200);
    expect(done.headers['upload-offset']).toBe(String(CHUNK * CHUNKS));
    // A finished upload does not expire.
    expect(done.headers['upload-expires']).toBeUndefined();
  }, 60_000);

  it('moves Upload-Expires on HEAD forward with each PATCH, and the PATCH answer carries it', async () => {
    const id = await create(3 * CHUNK);
    const before = await head(id);
    expect(before.status).toBe(200);
    expect(before.headers['upload-expires']).toBeDefined();
    // Upload-Expires is in whole seconds: the next PATCH comes a second later or more.
    await sleep(1_100);
    const patched = await patch(id, 0, Buffer.alloc(CHUNK, 1));
    expect(patched.status).toBe(204);
    const after = await head(id);
    expect(after.headers['upload-expires']).toBe(patched.headers['upload-expires']);
    expect(Date.parse(after.headers['upload-expires']!)).toBeGreaterThan(
      Date.parse(before.headers['upload-expires']!),
    );
    // A HEAD takes no byte: it does not move the expiry.
    await sleep(1_100);
    expect((await head(id)).headers['upload-expires']).toBe(after.headers['upload-expires']);
  });

  it('expires an upload that stopped sending: 410 on HEAD and PATCH, job failed UPLOAD_EXPIRED', async () => {
    const id = await create(3 * CHUNK);
    expect((await patch(id, 0, Buffer.alloc(CHUNK, 1))).status).toBe(204);
    const gone = await waitFor(
      async () => {
        const res = await head(id);
        return res.status === 200 ? undefined : res;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the stopped upload to expire' },
    );
    expect(gone.status).toBe(410);
    const late = await patch(id, CHUNK, Buffer.alloc(CHUNK, 2));
    expect(late.status).toBe(410);
    expect(late.body.error.code).toBe('UPLOAD_EXPIRED');
    expect(await job(id)).toMatchObject({
      state: 'failed',
      error: { code: 'UPLOAD_EXPIRED', retryable: false },
    });
  }, 60_000);

  it('expires a stopped upload first seen through the jobs API or the sweep, as TUS would', async () => {
    const seenByApi = await create(3 * CHUNK);
    const swept = await create(3 * CHUNK);
    await patch(seenByApi, 0, Buffer.alloc(CHUNK, 1));
    await patch(swept, 0, Buffer.alloc(CHUNK, 1));
    await waitFor(async () => ((await job(seenByApi)).state === 'failed' ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the jobs API to show the upload expired',
    });
    expect(await job(seenByApi)).toMatchObject({ error: { code: 'UPLOAD_EXPIRED' } });
    expect((await head(seenByApi)).status).toBe(410);
    expect(await t.relay.expire()).toBe(1);
    expect((await t.relay.jobs.get(swept))?.error?.code).toBe('UPLOAD_EXPIRED');
    expect((await head(swept)).status).toBe(410);
  }, 60_000);
});
