import { relayKeys } from '../keys.js';
import { BatchRepository } from './batches.js';
import { JobStoreFixture, testJob } from './job-fixtures.js';
import { listJobs } from './job-list.js';
import { createJob, transitionJob } from './job-writes.js';
import type { NewJob } from './record.js';
import { finishedBefore, removeJob } from './retention.js';
import { emptyProgress, JOB_KINDS, JOB_STATES } from './types.js';
import { indexVideo, jobOfVideo } from './video-index.js';

const newJob = (id: string, overrides: Partial<NewJob> = {}): NewJob =>
  testJob(id, { kind: 'import', state: 'queued', ...overrides });

describe('job retention', () => {
  const store = new JobStoreFixture();
  beforeEach(() => store.reset());
  afterEach(() => store.clear());
  afterAll(() => store.close());

  it('lists jobs outside batches by when they finished, oldest first', async () => {
    await createJob(store.ctx, newJob('a'));
    await createJob(store.ctx, newJob('b'));
    await transitionJob(store.ctx, 'b', 'failed', ['queued']);
    store.clock += 1_000;
    await transitionJob(store.ctx, 'a', 'canceled', ['queued']);
    expect(await finishedBefore(store.ctx, store.clock)).toEqual(['b', 'a']);
    expect(await finishedBefore(store.ctx, store.clock - 1)).toEqual(['b']);
  });

  it('removes a job with every index entry, its video, its own claim and its batch count', async () => {
    const batches = new BatchRepository(store.redis, store.prefix, () => store.clock);
    const batch = await batches.create({ name: 'b', owner: 'cms' });
    const claim = relayKeys(store.prefix).importClaim('h');
    await store.redis.set(claim, 'a');
    await createJob(
      store.ctx,
      newJob('a', { owner: 'cms', batch: batch.id, claim, progress: { ...emptyProgress(), video_id: 9 } }),
    );
    await indexVideo(store.ctx, 9, 'a');
    expect(await removeJob(store.ctx, 'a')).toBe(true);
    expect(await store.redis.exists(store.ctx.keys.job('a'), claim)).toBe(0);
    expect(await jobOfVideo(store.ctx, 9)).toBeNull();
    const { keys } = store.ctx;
    const indexes = [keys.all, keys.owner('cms'), ...JOB_STATES.map(keys.state), ...JOB_KINDS.map(keys.kind)];
    for (const index of indexes) expect([index, await store.redis.zcard(index)]).toEqual([index, 0]);
    expect(await store.redis.zlexcount(keys.search, '-', '+')).toBe(0);
    expect(await batches.get(batch.id)).toMatchObject({ total: 0, bytes: { total: 0 } });
    expect((await listJobs(store.ctx)).items).toEqual([]);
    expect(await removeJob(store.ctx, 'a')).toBe(false);
  });

  it('leaves a claim alone that names another job, or that is not a key of its prefix', async () => {
    const claim = relayKeys(store.prefix).importClaim('h');
    await store.redis.set(claim, 'someone-else');
    const foreign = `${store.prefix}-other:imports:url:h`;
    await store.redis.set(foreign, 'b');
    await createJob(store.ctx, newJob('a', { claim }));
    await createJob(store.ctx, newJob('b', { claim: foreign }));
    await removeJob(store.ctx, 'a');
    await removeJob(store.ctx, 'b');
    expect(await store.redis.get(claim)).toBe('someone-else');
    expect(await store.redis.get(foreign)).toBe('b');
    await store.redis.del(foreign);
  });

  it('drops an entry left in the index of finished jobs when the record is gone', async () => {
    await store.redis.zadd(store.ctx.keys.finished, store.clock, 'lost');
    expect(await removeJob(store.ctx, 'lost')).toBe(false);
    expect(await store.redis.zcard(store.ctx.keys.finished)).toBe(0);
  });
});
