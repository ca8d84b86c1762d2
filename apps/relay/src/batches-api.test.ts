import type { PublicBatch } from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import request from 'supertest';
import { expectSpec } from '../../../test/src/support/openapi.js';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const RETENTION_MS = 60_000;

describe('batches API', () => {
  let t: TestRelay;
  let clock: number;
  let auth: Record<string, string>;
  beforeEach(async () => {
    clock = Date.parse('2025-03-01T00:00:00Z');
    t = await startTestRelay({
      imports: { preflight: false, allowPrivate: false },
      now: () => clock,
      jobRetentionMs: RETENTION_MS,
    });
    auth = { Authorization: `Bearer ${t.token}` };
  });
  afterEach(() => t.close());

  const importBatch = async (urls: string[], name?: string) => {
    const res = await request(t.relay.app)
      .post('/api/imports/batch')
      .set(auth)
      .send({ ...(name ? { name } : {}), items: urls.map((origin_url) => ({ origin_url })) })
      .expect(expectSpec);
    expect(res.status).toBe(202);
    return res.body as { jobs: Array<{ id: string; batch: string }>; batch: PublicBatch };
  };

  /**
   * Every key of the relay's records under its prefix that names `needle`, or holds it in a member
   * or field. BullMQ's own keys are left out: its finished jobs go by its removeOnComplete, and
   * this test moves jobs without a worker.
   */
  async function mentions(needle: string): Promise<string[]> {
    const found: string[] = [];
    const queues = new RegExp(`^${t.prefix}:(forward|import|track|notify):`);
    for (const key of await t.redis.keys(`${t.prefix}:*`)) {
      if (queues.test(key)) continue;
      const type = await t.redis.type(key);
      const content =
        type === 'zset'
          ? await t.redis.zrange(key, 0, -1)
          : type === 'hash'
            ? [...(await t.redis.hkeys(key)), ...(await t.redis.hvals(key))]
            : type === 'string'
              ? [await t.redis.get(key)]
              : [];
      if (key.includes(needle) || JSON.stringify(content).includes(needle)) found.push(key);
    }
    return found;
  }

  it('names the batch, and cancels what has not finished with DELETE, leaving the finished', async () => {
    const { jobs, batch } = await importBatch(
      ['https://media.example/a.mp4', 'https://media.example/b.mp4', 'https://media.example/c.mp4'],
      'spring catalogue',
    );
    expect(batch).toMatchObject({ name: 'spring catalogue', total: 3, counts: { queued: 3 } });
    await setJobState(t.relay.jobs, jobs[0]!.id, 'ready');
    const got = await request(t.relay.app).get(`/api/batches/${batch.id}`).set(auth).expect(expectSpec);
    expect(got.body.counts).toMatchObject({ queued: 2, ready: 1 });

    const deleted = await request(t.relay.app)
      .delete(`/api/batches/${batch.id}`)
      .set(auth)
      .expect(expectSpec);
    expect(deleted.status).toBe(202);
    expect(deleted.body.canceled).toBe(2);
    expect(deleted.body.batch.counts).toMatchObject({ queued: 0, ready: 1, canceled: 2 });
    expect(deleted.body.batch.finished_at).not.toBeNull();
    const page = await request(t.relay.app).get('/api/batches').set(auth).expect(expectSpec);
    expect(page.body.items.map((b: PublicBatch) => b.id)).toEqual([batch.id]);

    const unknown = await request(t.relay.app).get('/api/batches/nope').set(auth).expect(expectSpec);
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'BATCH_NOT_FOUND']);
  });

  it('lets an upload join a batch through Upload-Metadata, and refuses one that does not exist', async () => {
    const made = await request(t.relay.app)
      .post('/api/batches')
      .set(auth)
      .send({ name: 'folder /media/2024' })
      .expect(expectSpec);
    expect(made.status).toBe(201);
    const create = (batch: string) =>
      request(t.relay.app)
        .post('/files/')
        .set(auth)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', '10')
        .set('Upload-Metadata', `filename ${b64('clip.mp4')},batch ${b64(batch)}`);
    const joined = await create(made.body.id);
    expect(joined.status).toBe(201);
    const id = joined.headers.location!.split('/').pop()!;
    expect((await request(t.relay.app).get(`/api/jobs/${id}`).set(auth)).body.batch).toBe(made.body.id);
    const batch = await request(t.relay.app).get(`/api/batches/${made.body.id}`).set(auth);
    expect(batch.body).toMatchObject({ total: 1, counts: { receiving: 1 }, bytes: { total: 10 } });

    const refused = await create('0123456789abcdef');
    expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([400, 'INVALID_FIELD']);
  });

  it('removes a job JOB_RETENTION after it finished, with its indexes; a batch goes with its jobs once it has finished that long', async () => {
    const single = await request(t.relay.app)
      .post('/api/imports')
      .set(auth)
      .send({ origin_url: 'https://media.example/single.mp4', name: 'Retained single' });
    const singleId = single.body.id as string;
    const { jobs, batch } = await importBatch(['https://media.example/x.mp4', 'https://media.example/y.mp4']);
    const open = await request(t.relay.app)
      .post('/api/imports')
      .set(auth)
      .send({ origin_url: 'https://media.example/open.mp4' });

    await request(t.relay.app).delete(`/api/jobs/${singleId}`).set(auth).expect(202);
    await setJobState(t.relay.jobs, jobs[0]!.id, 'ready');
    clock += RETENTION_MS / 2;
    await setJobState(t.relay.jobs, jobs[1]!.id, 'failed');

    // Not yet: nothing has been final for JOB_RETENTION.
    clock += RETENTION_MS / 2 - 1;
    expect(await t.relay.retain()).toBe(0);
    expect((await request(t.relay.app).get(`/api/jobs/${singleId}`).set(auth)).status).toBe(200);

    // The single job is due; the batch's first job too, but the batch finished later: it stays whole.
    clock += 2;
    expect(await t.relay.retain()).toBe(1);
    expect((await request(t.relay.app).get(`/api/jobs/${singleId}`).set(auth)).status).toBe(404);
    expect(await mentions(singleId)).toEqual([]);
    const search = await request(t.relay.app).get('/api/jobs?q=retained').set(auth);
    expect(search.body.items).toEqual([]);
    expect((await request(t.relay.app).get(`/api/batches/${batch.id}`).set(auth)).body.total).toBe(2);

    // The same URL again is a new import: its claim went with the job.
    const again = await request(t.relay.app)
      .post('/api/imports')
      .set(auth)
      .send({ origin_url: 'https://media.example/single.mp4' });
    expect([again.status, again.body.id === singleId]).toEqual([202, false]);

    clock += RETENTION_MS / 2;
    expect(await t.relay.retain()).toBe(2);
    expect((await request(t.relay.app).get(`/api/batches/${batch.id}`).set(auth)).status).toBe(404);
    for (const id of [batch.id, ...jobs.map((j) => j.id)]) expect([id, await mentions(id)]).toEqual([id, []]);
    // What has not finished stays, whatever its age.
    expect((await request(t.relay.app).get(`/api/jobs/${open.body.id}`).set(auth)).status).toBe(200);
  });
});
