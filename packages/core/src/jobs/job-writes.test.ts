import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { BatchRepository } from './batches.js';
import { type JobContext, jobContext } from './context.js';
import { createJob, transitionJob, updateJob } from './job-writes.js';
import type { NewJob } from './record.js';
import { emptyProgress } from './types.js';

const newJob = (id: string, overrides: Partial<NewJob> = {}): NewJob => ({
  id,
  kind: 'upload',
  state: 'receiving',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: null,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: emptyProgress(),
  ...overrides,
});

describe('job writes', () => {
  let redis: Redis;
  let prefix: string;
  let ctx: JobContext;
  let clock: number;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    clock = Date.parse('2025-01-01T00:00:00Z');
    ctx = jobContext(redis, prefix, () => clock);
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('creates a job once, in its indexes, and returns the stored one for the same id', async () => {
    const first = await createJob(ctx, newJob('a', { owner: 'cms' }));
    expect(first.created).toBe(true);
    const second = await createJob(ctx, newJob('a', { name: 'other' }));
    expect(second).toMatchObject({
      created: false,
      record: { name: 'video a', bytes_received: 0, video: null },
    });
    const { keys } = ctx;
    expect(await redis.zrange(keys.all, 0, -1, 'WITHSCORES')).toEqual(['a', '1']);
    expect(await redis.zrange(keys.state('receiving'), 0, -1)).toEqual(['a']);
    expect(await redis.zrange(keys.kind('upload'), 0, -1)).toEqual(['a']);
    expect(await redis.zrange(keys.owner('cms'), 0, -1)).toEqual(['a']);
    expect(await redis.hget(keys.job('a'), 'search')).toBe(JSON.stringify(['video', 'a', 'mp4']));
  });

  it('publishes the id of every job it changes', async () => {
    const subscriber = redis.duplicate();
    const seen: string[] = [];
    await subscriber.subscribe(ctx.keys.events);
    subscriber.on('message', (_, id: string) => seen.push(id));
    try {
      await createJob(ctx, newJob('a'));
      await updateJob(ctx, 'a', { bytes_received: 5 });
      await transitionJob(ctx, 'a', 'queued', ['receiving']);
      for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual(['a', 'a', 'a']);
    } finally {
      subscriber.disconnect();
    }
  });

  it('moves a job between state indexes and sets finished_at on final states', async () => {
    await createJob(ctx, newJob('a'));
    await transitionJob(ctx, 'a', 'queued', ['receiving'], { bytes_received: 100 });
    expect(await redis.zrange(ctx.keys.state('queued'), 0, -1)).toEqual(['a']);
    expect(await redis.zcard(ctx.keys.state('receiving'))).toBe(0);
    clock += 1_000;
    const done = await transitionJob(ctx, 'a', 'failed', ['queued']);
    expect(done?.record).toMatchObject({
      state: 'failed',
      finished_at: '2025-01-01T00:00:01.000Z',
      bytes_received: 100,
    });
    expect(await redis.zrange(ctx.keys.finished, 0, -1, 'WITHSCORES')).toEqual(['a', String(clock)]);
    const again = await transitionJob(ctx, 'a', 'queued', ['failed']);
    expect(again?.record.finished_at).toBeNull();
    expect(await redis.zcard(ctx.keys.finished)).toBe(0);
  });

  it('refuses a move or an update from a state not allowed, leaving the job as it was', async () => {
    await createJob(ctx, newJob('a'));
    await transitionJob(ctx, 'a', 'canceled', ['receiving']);
    expect(await transitionJob(ctx, 'a', 'uploading', ['queued', 'creating'])).toBeNull();
    expect(await updateJob(ctx, 'a', { bytes_forwarded: 5 }, { onlyFrom: ['uploading'] })).toBeNull();
    expect(await updateJob(ctx, 'a', { name: 'renamed' })).toMatchObject({
      state: 'canceled',
      name: 'renamed',
    });
    expect(await transitionJob(ctx, 'missing', 'queued', ['receiving'])).toBeNull();
    expect(await updateJob(ctx, 'missing', { bytes_received: 1 })).toBeNull();
  });

  it('joins an existing batch only, and moves its counts with the job', async () => {
    await expect(createJob(ctx, newJob('a', { batch: 'nope' }))).rejects.toMatchObject({
      code: 'BATCH_NOT_FOUND',
    });
    const batches = new BatchRepository(redis, prefix, () => clock);
    const batch = await batches.create({ name: 'b', owner: null });
    await createJob(ctx, newJob('a', { batch: batch.id, state: 'processing' }));
    await transitionJob(ctx, 'a', 'ready', ['processing']);
    expect(await batches.get(batch.id)).toMatchObject({
      total: 1,
      counts: { processing: 0, ready: 1 },
      bytes: { total: 100, ready: 100 },
      finished_at: '2025-01-01T00:00:00.000Z',
    });
    // A batched job is swept with its batch, not from the index of finished jobs.
    expect(await redis.zcard(ctx.keys.finished)).toBe(0);
  });

  it('keeps a callback field: null without callback_url, pending with one, updated without a move', async () => {
    const plain = await createJob(ctx, newJob('a'));
    expect(plain.record.callback).toBeNull();
    const request = { ...newJob('b').request, callback_url: 'https://tools.example/hook' };
    const { record } = await createJob(ctx, newJob('b', { request }));
    expect(record.callback).toEqual({ state: 'pending', attempts: 0, last_error: null, delivered_at: null });
    const refused = { state: 'refused' as const, attempts: 1, last_error: 'not allowed', delivered_at: null };
    expect(await updateJob(ctx, 'b', { callback: refused })).toMatchObject({
      state: 'receiving',
      callback: refused,
    });
  });
});
