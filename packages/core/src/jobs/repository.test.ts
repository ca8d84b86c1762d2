import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { JobRepository, type NewJob } from './repository.js';
import { emptyProgress, toPublicJob } from './types.js';

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

describe('JobRepository', () => {
  let redis: Redis;
  let prefix: string;
  let store: JobRepository;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    store = new JobRepository(redis, prefix);
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('creates a job once and returns the stored one for the same id', async () => {
    const first = await store.create(newJob('a'));
    expect(first.created).toBe(true);
    const second = await store.create(newJob('a', { name: 'other' }));
    expect(second.created).toBe(false);
    expect(second.record.name).toBe('video a');
    expect(await store.get('a')).toMatchObject({
      id: 'a',
      state: 'receiving',
      bytes_received: 0,
      video: null,
    });
  });

  it('moves a job between state indexes and sets finished_at on final states', async () => {
    await store.create(newJob('a'));
    await store.transition('a', 'queued', ['receiving'], { bytes_received: 100 });
    expect(await store.countByState()).toMatchObject({ receiving: 0, queued: 1 });
    const done = await store.transition('a', 'failed', ['queued']);
    expect(done?.record.finished_at).not.toBeNull();
    expect(await store.countByState()).toMatchObject({ queued: 0, failed: 1 });
    const again = await store.transition('a', 'queued', ['failed']);
    expect(again?.record.finished_at).toBeNull();
  });

  it('refuses a move or an update from a state not allowed, leaving the job as it was', async () => {
    await store.create(newJob('a'));
    await store.transition('a', 'canceled', ['receiving']);
    expect(await store.transition('a', 'uploading', ['queued', 'creating'])).toBeNull();
    expect(await store.update('a', { bytes_forwarded: 5 }, { onlyFrom: ['uploading'] })).toBeNull();
    expect(await store.get('a')).toMatchObject({ state: 'canceled', bytes_forwarded: 0 });
    expect(await store.transition('missing', 'queued', ['receiving'])).toBeNull();
    expect(await store.update('missing', { bytes_received: 1 })).toBeNull();
  });

  it('lists newest first with a cursor and filters by state and kind', async () => {
    for (let i = 0; i < 7; i++) {
      await store.create(
        newJob(`j${i}`, { kind: i % 2 === 0 ? 'upload' : 'import', state: i < 4 ? 'queued' : 'ready' }),
      );
    }
    const first = await store.list({ limit: 3 });
    expect(first.items.map((j) => j.id)).toEqual(['j6', 'j5', 'j4']);
    const second = await store.list({ limit: 3, cursor: first.next });
    expect(second.items.map((j) => j.id)).toEqual(['j3', 'j2', 'j1']);
    const third = await store.list({ limit: 3, cursor: second.next });
    expect(third.items.map((j) => j.id)).toEqual(['j0']);
    expect(third.next).toBeNull();

    expect((await store.list({ state: 'ready' })).items.map((j) => j.id)).toEqual(['j6', 'j5', 'j4']);
    expect((await store.list({ kind: 'import' })).items.map((j) => j.id)).toEqual(['j5', 'j3', 'j1']);
    const both = await store.list({ state: 'queued', kind: 'upload', limit: 1 });
    expect(both.items.map((j) => j.id)).toEqual(['j2']);
    expect(
      (await store.list({ state: 'queued', kind: 'upload', cursor: both.next })).items.map((j) => j.id),
    ).toEqual(['j0']);
  });

  it('removes a job from every index', async () => {
    await store.create(newJob('a'));
    expect(await store.remove('a')).toBe(true);
    expect(await store.get('a')).toBeNull();
    expect((await store.list()).items).toHaveLength(0);
    expect(await store.countByState()).toMatchObject({ receiving: 0 });
  });

  it('never shows the forwarding progress (and its token) in the public view', async () => {
    const { record } = await store.create(
      newJob('a', { progress: { ...emptyProgress(), token: 'secret-token', video_id: 5 } }),
    );
    expect(JSON.stringify(toPublicJob(record))).not.toContain('secret-token');
    expect(toPublicJob(record)).not.toHaveProperty('progress');
  });

  it('keeps a callback field: null without callback_url, pending with one, updated without a move', async () => {
    const plain = await store.create(newJob('a'));
    expect(toPublicJob(plain.record).callback).toBeNull();
    const request = { ...newJob('b').request, callback_url: 'https://tools.example/hook' };
    const { record } = await store.create(newJob('b', { request }));
    const pending = { state: 'pending', attempts: 0, last_error: null, delivered_at: null };
    expect(record.callback).toEqual(pending);
    expect((await store.get('b'))?.callback).toEqual(pending);
    const refused = {
      state: 'refused' as const,
      attempts: 1,
      last_error: 'the callback address is not allowed (private or loopback)',
      delivered_at: null,
    };
    const updated = await store.update('b', { callback: refused });
    expect(updated).toMatchObject({ state: 'receiving', callback: refused });
    expect(toPublicJob((await store.get('b'))!).callback).toEqual(refused);
    // A record written before the field existed: pending when it has a callback_url.
    await redis.hdel(`${prefix}:job:b`, 'callback');
    const old = (await store.get('b'))!;
    expect(old.callback).toBeNull();
    expect(toPublicJob(old).callback).toEqual(pending);
  });
});
