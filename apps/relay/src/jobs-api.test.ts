import fs from 'node:fs/promises';
import path from 'node:path';
import { emptyProgress } from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import request from 'supertest';
import { expectSpec } from '../../../test/src/support/openapi.js';
import { startTestRelay, type TestRelay } from './testing.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('jobs API', () => {
  let t: TestRelay;
  let auth: Record<string, string>;
  beforeEach(async () => {
    t = await startTestRelay();
    auth = { Authorization: `Bearer ${t.token}` };
  });
  afterEach(() => t.close());

  /** A complete upload of `body` through TUS (creation-with-upload); returns its id. */
  async function upload(filename: string, body = Buffer.from('0123456789')): Promise<string> {
    const res = await request(t.relay.app)
      .post('/files/')
      .set(auth)
      .expect(expectSpec)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(body.length))
      .set('Upload-Metadata', `filename ${b64(filename)}`)
      .set('Content-Type', 'application/offset+octet-stream')
      .send(body);
    expect(res.status).toBe(201);
    return res.headers.location!.split('/').pop()!;
  }

  // Born queued, as imports are; a later state is a fixture's move.
  const importJob = async (id: string, state: 'queued' | 'ready' | 'failed' = 'queued') => {
    await t.relay.jobs.create({
      id,
      kind: 'import',
      state: 'queued',
      name: id,
      filename: null,
      size: null,
      origin_url: `https://media.example/${id}.mp4`,
      request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
      progress: emptyProgress(),
    });
    if (state !== 'queued') await setJobState(t.relay.jobs, id, state);
  };

  it('gets a job, and 404s an unknown or malformed id', async () => {
    const id = await upload('a.mp4');
    expect((await request(t.relay.app).get(`/api/jobs/${id}`).set(auth).expect(expectSpec)).body.id).toBe(id);
    const unknown = await request(t.relay.app).get('/api/jobs/nope').set(auth).expect(expectSpec);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('JOB_NOT_FOUND');
    expect(
      (await request(t.relay.app).get('/api/jobs/..%2F..%2Fetc').set(auth).expect(expectSpec)).status,
    ).toBe(404);
  });

  it('lists newest first, filters by state and kind, and pages with a cursor', async () => {
    const u1 = await upload('1.mp4');
    await importJob('imp1');
    const u2 = await upload('2.mp4');
    await importJob('imp2', 'ready');
    const all = await request(t.relay.app).get('/api/jobs').set(auth).expect(expectSpec);
    expect(all.body.items.map((j: { id: string }) => j.id)).toEqual(['imp2', u2, 'imp1', u1]);
    expect(all.body.next).toBeNull();
    const page1 = await request(t.relay.app).get('/api/jobs?limit=3').set(auth).expect(expectSpec);
    expect(page1.body.items).toHaveLength(3);
    const page2 = await request(t.relay.app)
      .get(`/api/jobs?limit=3&cursor=${page1.body.next}`)
      .set(auth)
      .expect(expectSpec);
    expect(page2.body.items.map((j: { id: string }) => j.id)).toEqual([u1]);
    const queuedImports = await request(t.relay.app)
      .get('/api/jobs?state=queued&kind=import')
      .set(auth)
      .expect(expectSpec);
    expect(queuedImports.body.items.map((j: { id: string }) => j.id)).toEqual(['imp1']);
    const bad = await request(t.relay.app).get('/api/jobs?state=done').set(auth).expect(expectSpec);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^state must be one of/);
    expect((await request(t.relay.app).get('/api/jobs?limit=0').set(auth).expect(expectSpec)).status).toBe(
      400,
    );
    // No internal fields (forwarding progress, TUS token) in what the API shows.
    expect(all.body.items[0]).not.toHaveProperty('progress');
    expect(all.body.items[0]).not.toHaveProperty('request');
  });

  it('retries only failed jobs and puts them back on the forward queue', async () => {
    const id = await upload('r.mp4');
    const notFailed = await request(t.relay.app).post(`/api/jobs/${id}/retry`).set(auth).expect(expectSpec);
    expect(notFailed.status).toBe(409);
    expect(notFailed.body.error.code).toBe('JOB_NOT_FAILED');

    // A forward that failed for good: BullMQ holds it as failed.
    const bull = await t.queues.forward.getJob(id);
    await bull!.remove();
    await setJobState(t.relay.jobs, id, 'failed', {
      error: { code: 'GCORE_UNAUTHORIZED', message: 'wrong key', retryable: false },
    });
    const retried = await request(t.relay.app).post(`/api/jobs/${id}/retry`).set(auth).expect(expectSpec);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id, state: 'queued', error: null, finished_at: null });
    expect(await (await t.queues.forward.getJob(id))?.getState()).toBe('waiting');
  });

  it('refuses to retry an upload whose file is gone', async () => {
    const id = await upload('gone.mp4');
    await setJobState(t.relay.jobs, id, 'failed', { error: { code: 'X', message: 'x', retryable: true } });
    await fs.rm(path.join(t.relay.uploadDir, id));
    const res = await request(t.relay.app).post(`/api/jobs/${id}/retry`).set(auth).expect(expectSpec);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('FILE_GONE');
  });

  it('cancels a queued upload: removes the file and the queued work, idempotently', async () => {
    const id = await upload('c.mp4');
    expect(await t.queues.forward.getJob(id)).toBeDefined();
    const res = await request(t.relay.app).delete(`/api/jobs/${id}`).set(auth).expect(expectSpec);
    expect(res.status).toBe(202);
    expect(res.body.state).toBe('canceled');
    expect(await fs.readdir(t.relay.uploadDir)).toEqual([]);
    expect(await t.queues.forward.getJob(id)).toBeUndefined();
    expect((await request(t.relay.app).delete(`/api/jobs/${id}`).set(auth).expect(expectSpec)).status).toBe(
      202,
    );
  });

  it('answers bad JSON bodies with a JSON 400', async () => {
    const res = await request(t.relay.app)
      .post('/api/jobs/x/retry')
      .set(auth)
      .expect(expectSpec)
      .set('Content-Type', 'application/json')
      .send('{"nope":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
  });

  it('refuses every jobs route without a valid token with the documented 401', async () => {
    const id = await upload('secret.mp4');
    for (const pending of [
      request(t.relay.app).get('/api/jobs'),
      request(t.relay.app).get(`/api/jobs/${id}`).set('Authorization', 'Bearer wrong'),
      request(t.relay.app).post(`/api/jobs/${id}/retry`),
      request(t.relay.app).delete(`/api/jobs/${id}`),
    ]) {
      const res = await pending.expect(expectSpec);
      expect([res.status, res.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    }
    expect((await request(t.relay.app).get(`/api/jobs/${id}`).set(auth).expect(expectSpec)).body.state).toBe(
      'queued',
    );
  });

  it('serves Prometheus metrics with upload and job counts', async () => {
    await upload('m.mp4');
    const res = await request(t.relay.app).get('/metrics').set(auth).expect(expectSpec);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/relay_uploads_created_total\{owner="tool-[0-9a-f]{8}"\} 1/);
    expect(res.text).toMatch(/relay_uploads_finished_total\{owner="tool-[0-9a-f]{8}"\} 1/);
    expect(res.text).toMatch(/relay_bytes_received_total 10/);
    expect(res.text).toMatch(/relay_jobs\{state="queued"\} 1/);
    expect(res.text).toMatch(/relay_http_request_duration_seconds_bucket/);
  });
});
