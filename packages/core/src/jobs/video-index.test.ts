import { JobStoreFixture, testJob } from './job-fixtures.js';
import { listJobs } from './job-list.js';
import { createJob } from './job-writes.js';
import type { NewJob } from './record.js';
import {
  indexVideo,
  jobOfVideo,
  jobsOfVideos,
  noteWebhook,
  unindexVideo,
  webhooksArriving,
} from './video-index.js';

const newJob = (id: string): NewJob => testJob(id, { state: 'processing' });

describe('the video index', () => {
  const store = new JobStoreFixture();
  beforeEach(() => store.reset());
  afterEach(() => store.clear());
  afterAll(() => store.close());

  it('names the job of a Gcore video, and makes the video id one of its search words once', async () => {
    await createJob(store.ctx, newJob('a'));
    await indexVideo(store.ctx, 4301, 'a');
    await indexVideo(store.ctx, 4301, 'a');
    expect(await jobOfVideo(store.ctx, 4301)).toBe('a');
    expect(await jobsOfVideos(store.ctx, [4301, 9])).toEqual(['a', null]);
    expect(await jobsOfVideos(store.ctx, [])).toEqual([]);
    expect(JSON.parse((await store.redis.hget(store.ctx.keys.job('a'), 'search'))!)).toContain('4301');
    expect((await listJobs(store.ctx, { q: '430' })).items.map((j) => j.id)).toEqual(['a']);
  });

  it('forgets a video only for the job it names', async () => {
    await indexVideo(store.ctx, 7, 'a');
    await unindexVideo(store.ctx, 7, 'b');
    expect(await jobOfVideo(store.ctx, 7)).toBe('a');
    await unindexVideo(store.ctx, 7, 'a');
    expect(await jobOfVideo(store.ctx, 7)).toBeNull();
  });

  it('says webhooks arrive for a while after one did', async () => {
    expect(await webhooksArriving(store.ctx)).toBe(false);
    await noteWebhook(store.ctx, 60_000);
    expect(await webhooksArriving(store.ctx)).toBe(true);
    expect(await store.redis.pttl(store.ctx.keys.webhooksSeen)).toBeGreaterThan(50_000);
  });
});
