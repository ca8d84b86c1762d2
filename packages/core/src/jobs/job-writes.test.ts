import { BatchRepository } from './batches.js';
import { JobStoreFixture, testJob } from './job-fixtures.js';
import { createJob, transitionJob, updateJob } from './job-writes.js';

describe('job writes', () => {
  const store = new JobStoreFixture();
  beforeEach(() => store.reset());
  afterEach(() => store.clear());
  afterAll(() => store.close());

  it('creates a job once, in its indexes, and returns the stored one for the same id', async () => {
    const first = await createJob(store.ctx, testJob('a', { owner: 'cms' }));
    expect(first.created).toBe(true);
    const second = await createJob(store.ctx, testJob('a', { name: 'other' }));
    expect(second).toMatchObject({
      created: false,
      record: { name: 'video a', bytes_received: 0, video: null },
    });
    const { keys } = store.ctx;
    expect(await store.redis.zrange(keys.all, 0, -1, 'WITHSCORES')).toEqual(['a', '1']);
    expect(await store.redis.zrange(keys.state('receiving'), 0, -1)).toEqual(['a']);
    expect(await store.redis.zrange(keys.kind('upload'), 0, -1)).toEqual(['a']);
    expect(await store.redis.zrange(keys.owner('cms'), 0, -1)).toEqual(['a']);
    expect(await store.redis.hget(keys.job('a'), 'search')).toBe(JSON.stringify(['video', 'a', 'mp4']));
  });

  it('publishes the id of every job it changes', async () => {
    const subscriber = store.redis.duplicate();
    const seen: string[] = [];
    await subscriber.subscribe(store.ctx.keys.events);
    subscriber.on('message', (_, id: string) => seen.push(id));
    try {
      await createJob(store.ctx, testJob('a'));
      await updateJob(store.ctx, 'a', { bytes_received: 5 });
      await transitionJob(store.ctx, 'a', 'queued', ['receiving']);
      for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual(['a', 'a', 'a']);
    } finally {
      subscriber.disconnect();
    }
  });

  it('moves a job between state indexes and sets finished_at on final states', async () => {
    await createJob(store.ctx, testJob('a'));
    await transitionJob(store.ctx, 'a', 'queued', ['receiving'], { bytes_received: 100 });
    expect(await store.redis.zrange(store.ctx.keys.state('queued'), 0, -1)).toEqual(['a']);
    expect(await store.redis.zcard(store.ctx.keys.state('receiving'))).toBe(0);
    store.clock += 1_000;
    const done = await transitionJob(store.ctx, 'a', 'failed', ['queued']);
    expect(done?.record).toMatchObject({
      state: 'failed',
      finished_at: '2025-01-01T00:00:01.000Z',
      bytes_received: 100,
    });
    expect(await store.redis.zrange(store.ctx.keys.finished, 0, -1, 'WITHSCORES')).toEqual([
      'a',
      String(store.clock),
    ]);
    const again = await transitionJob(store.ctx, 'a', 'queued', ['failed']);
    expect(again?.record.finished_at).toBeNull();
    expect(await store.redis.zcard(store.ctx.keys.finished)).toBe(0);
  });

  it('refuses a move or an update from a state not allowed, leaving the job as it was', async () => {
    await createJob(store.ctx, testJob('a'));
    await transitionJob(store.ctx, 'a', 'canceled', ['receiving']);
    expect(await transitionJob(store.ctx, 'a', 'uploading', ['queued', 'creating'])).toBeNull();
    expect(await updateJob(store.ctx, 'a', { bytes_forwarded: 5 }, { onlyFrom: ['uploading'] })).toBeNull();
    expect(await updateJob(store.ctx, 'a', { name: 'renamed' })).toMatchObject({
      state: 'canceled',
      name: 'renamed',
    });
    expect(await transitionJob(store.ctx, 'missing', 'queued', ['receiving'])).toBeNull();
    expect(await updateJob(store.ctx, 'missing', { bytes_received: 1 })).toBeNull();
  });

  it('joins an existing batch only, and moves its counts with the job', async () => {
    await expect(createJob(store.ctx, testJob('a', { batch: 'nope' }))).rejects.toMatchObject({
      code: 'BATCH_NOT_FOUND',
    });
    const batches = new BatchRepository(store.redis, store.prefix, () => store.clock);
    const batch = await batches.create({ name: 'b', owner: null });
    await createJob(store.ctx, testJob('a', { batch: batch.id, state: 'processing' }));
    await transitionJob(store.ctx, 'a', 'ready', ['processing']);
    expect(await batches.get(batch.id)).toMatchObject({
      total: 1,
      counts: { processing: 0, ready: 1 },
      bytes: { total: 100, ready: 100 },
      finished_at: '2025-01-01T00:00:00.000Z',
    });
    // A batched job is swept with its batch, not from the index of finished jobs.
    expect(await store.redis.zcard(store.ctx.keys.finished)).toBe(0);
  });

  it('keeps a callback field: null without callback_url, pending with one, updated without a move', async () => {
    const plain = await createJob(store.ctx, testJob('a'));
    expect(plain.record.callback).toBeNull();
    const request = { ...testJob('b').request, callback_url: 'https://tools.example/hook' };
    const { record } = await createJob(store.ctx, testJob('b', { request }));
    expect(record.callback).toEqual({ state: 'pending', attempts: 0, last_error: null, delivered_at: null });
    const refused = { state: 'refused' as const, attempts: 1, last_error: 'not allowed', delivered_at: null };
    expect(await updateJob(store.ctx, 'b', { callback: refused })).toMatchObject({
      state: 'receiving',
      callback: refused,
    });
  });
});
