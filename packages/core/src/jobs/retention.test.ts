import type { Redis } from 'ioredis';
import { relayKeys } from '../keys.js';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { BatchRepository } from './batches.js';
import { type JobContext, jobContext } from './context.js';
import { listJobs } from './job-list.js';
import { createJob, transitionJob } from './job-writes.js';
import type { NewJob } from './record.js';
import { finishedBefore, removeJob } from './retention.js';
import { emptyProgress, JOB_KINDS, JOB_STATES } from './types.js';
import { indexVideo, jobOfVideo } from './video-index.js';

const newJob = (id: string, overrides: Partial<NewJob> = {}): NewJob => ({
  id,
  kind: 'import',
  state: 'queued',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: null,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: emptyProgress(),
  ...overrides,
});

describe('job retention', () => {
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

  it('lists jobs outside batches by when they finished, oldest first', async () => {
    await createJob(ctx, newJob('a'));
    await createJob(ctx, newJob('b'));
    await transitionJob(ctx, 'b', 'failed', ['queued']);
    clock += 1_000;
    await transitionJob(ctx, 'a', 'canceled', ['queued']);
    expect(await finishedBefore(ctx, clock)).toEqual(['b', 'a']);
    expect(await finishedBefore(ctx, clock - 1)).toEqual(['b']);
  });

  it('removes a job with every index entry, its video, its own claim and its batch count', async () => {
    const batches = new BatchRepository(redis, prefix, () => clock);
    const batch = await batches.create({ name: 'b', owner: 'cms' });
    const claim = relayKeys(prefix).importClaim('h');
    await redis.set(claim, 'a');
    await createJob(
      ctx,
      newJob('a', { owner: 'cms', batch: batch.id, claim, progress: { ...emptyProgress(), video_id: 9 } }),
    );
    await indexVideo(ctx, 9, 'a');
    expect(await removeJob(ctx, 'a')).toBe(true);
    expect(await redis.exists(ctx.keys.job('a'), claim)).toBe(0);
    expect(await jobOfVideo(ctx, 9)).toBeNull();
    const { keys } = ctx;
    const indexes = [keys.all, keys.owner('cms'), ...JOB_STATES.map(keys.state), ...JOB_KINDS.map(keys.kind)];
    for (const index of indexes) expect([index, await redis.zcard(index)]).toEqual([index, 0]);
    expect(await redis.zlexcount(keys.search, '-', '+')).toBe(0);
    expect(await batches.get(batch.id)).toMatchObject({ total: 0, bytes: { total: 0 } });
    expect((await listJobs(ctx)).items).toEqual([]);
    expect(await removeJob(ctx, 'a')).toBe(false);
  });

  it('leaves a claim alone that names another job, or that is not a key of its prefix', async () => {
    const claim = relayKeys(prefix).importClaim('h');
    await redis.set(claim, 'someone-else');
    const foreign = `${prefix}-other:imports:url:h`;
    await redis.set(foreign, 'b');
    await createJob(ctx, newJob('a', { claim }));
    await createJob(ctx, newJob('b', { claim: foreign }));
    await removeJob(ctx, 'a');
    await removeJob(ctx, 'b');
    expect(await redis.get(claim)).toBe('someone-else');
    expect(await redis.get(foreign)).toBe('b');
    await redis.del(foreign);
  });

  it('drops an entry left in the index of finished jobs when the record is gone', async () => {
    await redis.zadd(ctx.keys.finished, clock, 'lost');
    expect(await removeJob(ctx, 'lost')).toBe(false);
    expect(await redis.zcard(ctx.keys.finished)).toBe(0);
  });
});
