import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { testJob } from './job-fixtures.js';
import { JobRepository } from './repository.js';
import { emptyProgress, toPublicJob } from './types.js';

describe('JobRepository', () => {
  // Each concept behind it has its own tests (record, job-writes, job-list, callback-outbox,
  // video-index, retention): these are of the door itself.
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

  it('never shows the forwarding progress (and its token) in the public view', async () => {
    const { record } = await store.create(
      testJob('a', { progress: { ...emptyProgress(), token: 'secret-token', video_id: 5 } }),
    );
    expect(JSON.stringify(toPublicJob(record))).not.toContain('secret-token');
    expect(toPublicJob(record)).not.toHaveProperty('progress');
  });

  it('opens every concept on the same keys: a job made, moved, listed, counted and removed', async () => {
    const request = { ...testJob('a').request, callback_url: 'https://tools.example/hook' };
    await store.create(testJob('a', { request }));
    await store.create(testJob('b'));
    expect(await store.ownerOf('a')).toBeNull();
    expect(await store.transition('a', 'failed', ['receiving'])).toMatchObject({
      record: { state: 'failed' },
    });
    expect(await store.countByState()).toMatchObject({ receiving: 1, failed: 1 });
    expect(await store.idsInState('receiving')).toEqual(['b']);
    expect((await store.getMany(['a', 'missing', 'b'])).map((j) => j.id)).toEqual(['a', 'b']);
    expect((await store.pendingCallbacks(-1)).map((p) => p.job.id)).toEqual(['a']);
    expect(await store.finishedBefore(Date.now() + 1)).toEqual(['a']);
    expect((await store.list()).items.map((j) => j.id)).toEqual(['b', 'a']);
    expect(await store.remove('a')).toBe(true);
    expect(await store.get('a')).toBeNull();
    expect(store.eventsChannel).toBe(`${prefix}:job-events`);
  });
});
