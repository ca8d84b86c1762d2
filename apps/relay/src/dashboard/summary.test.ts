import { emptyProgress, type JobState, StatsCounters } from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import request from 'supertest';
import { startTestRelay, type TestRelay } from '../testing.js';

describe('GET /api/dashboard/summary', () => {
  let t: TestRelay;
  afterEach(() => t.close());

  const seed = (id: string, state: JobState) =>
    t.relay.jobs
      .create({
        id,
        kind: 'import',
        state: 'queued',
        name: id,
        filename: null,
        size: null,
        origin_url: `https://media.example/${id}.mp4`,
        request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
        progress: { ...emptyProgress(), token: 'gcore-tus-secret' },
      })
      .then(() => (state === 'queued' ? null : setJobState(t.relay.jobs, id, state)));

  it('counts jobs per state, the forward queue, live stats and the upstream', async () => {
    t = await startTestRelay({
      tokens: ['summary-token'],
      upstream: { url: 'http://admin:hunter2@127.0.0.1:8090/?key=abc', emulator: true },
    });
    await Promise.all([
      seed('q1', 'queued'),
      seed('q2', 'queued'),
      seed('u1', 'uploading'),
      seed('f1', 'failed'),
      seed('r1', 'ready'),
      seed('r2', 'ready'),
      seed('r3', 'ready'),
    ]);
    await t.queues.forward.add('import', { id: 'q1' }, { jobId: 'q1' });
    await t.queues.forward.add('import', { id: 'q2' }, { jobId: 'q2', priority: 5 });
    await t.queues.forward.add('import', { id: 'later' }, { jobId: 'later', delay: 60_000 });
    const stats = new StatsCounters(t.redis, t.prefix);
    await stats.recordForwarded(4_000_000);
    await stats.recordForwarded(1_000_000);
    for (let i = 0; i < 3; i++) await stats.recordRateLimited();

    const res = await request(t.relay.app)
      .get('/api/dashboard/summary')
      .set('Authorization', 'Bearer summary-token');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      counts: {
        receiving: 0,
        queued: 2,
        creating: 0,
        uploading: 1,
        processing: 0,
        ready: 3,
        failed: 1,
        canceled: 0,
      },
      total: 7,
      // 5 MB in the current second, averaged over 10 s.
      stats: { forward_bytes_per_sec: 500_000, rate_limited_last_minute: 3 },
      queue: { waiting: 2, active: 0, delayed: 1, depth: 3 },
      upstream: { url: 'http://127.0.0.1:8090', emulator: true },
    });
    // Neither the upstream's credentials nor any job's Gcore token or the relay token show.
    expect(res.text).not.toMatch(/hunter2|admin|key=abc|gcore-tus-secret|summary-token/);
  });

  it('says when it does not know the upstream', async () => {
    t = await startTestRelay();
    const res = await request(t.relay.app)
      .get('/api/dashboard/summary')
      .set('Authorization', `Bearer ${t.token}`);
    expect(res.body).toMatchObject({ total: 0, upstream: null, queue: { depth: 0 } });
  });
});
