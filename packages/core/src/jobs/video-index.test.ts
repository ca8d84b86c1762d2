import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { type JobContext, jobContext } from './context.js';
import { listJobs } from './job-list.js';
import { createJob } from './job-writes.js';
import type { NewJob } from './record.js';
import { emptyProgress } from './types.js';
import {
  indexVideo,
  jobOfVideo,
  jobsOfVideos,
  noteWebhook,
  unindexVideo,
  webhooksArriving,
} from './video-index.js';

const newJob = (id: string): NewJob => ({
  id,
  kind: 'upload',
  state: 'processing',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: null,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: emptyProgress(),
});

describe('the video index', () => {
  let redis: Redis;
  let prefix: string;
  let ctx: JobContext;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    ctx = jobContext(redis, prefix, Date.now);
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('names the job of a Gcore video, and makes the video id one of its search words once', async () => {
    await createJob(ctx, newJob('a'));
    await indexVideo(ctx, 4301, 'a');
    await indexVideo(ctx, 4301, 'a');
    expect(await jobOfVideo(ctx, 4301)).toBe('a');
    expect(await jobsOfVideos(ctx, [4301, 9])).toEqual(['a', null]);
    expect(await jobsOfVideos(ctx, [])).toEqual([]);
    expect(JSON.parse((await redis.hget(ctx.keys.job('a'), 'search'))!)).toContain('4301');
    expect((await listJobs(ctx, { q: '430' })).items.map((j) => j.id)).toEqual(['a']);
  });

  it('forgets a video only for the job it names', async () => {
    await indexVideo(ctx, 7, 'a');
    await unindexVideo(ctx, 7, 'b');
    expect(await jobOfVideo(ctx, 7)).toBe('a');
    await unindexVideo(ctx, 7, 'a');
    expect(await jobOfVideo(ctx, 7)).toBeNull();
  });

  it('says webhooks arrive for a while after one did', async () => {
    expect(await webhooksArriving(ctx)).toBe(false);
    await noteWebhook(ctx, 60_000);
    expect(await webhooksArriving(ctx)).toBe(true);
    expect(await redis.pttl(ctx.keys.webhooksSeen)).toBeGreaterThan(50_000);
  });
});
