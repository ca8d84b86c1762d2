import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { callbackKey, clearCallback, pendingCallbacks } from './callback-outbox.js';
import { type JobContext, jobContext } from './context.js';
import { createJob, transitionJob } from './job-writes.js';
import type { NewJob } from './record.js';
import { emptyProgress } from './types.js';

const newJob = (id: string, callback_url: string | null): NewJob => ({
  id,
  kind: 'upload',
  state: 'processing',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: null,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url, via: 'gcore' },
  progress: emptyProgress(),
});

describe('the callback outbox', () => {
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

  it('holds a job that reached a final state with a callback_url, as it was then, until cleared', async () => {
    await createJob(ctx, newJob('a', 'https://tools.example/hook'));
    await createJob(ctx, newJob('b', null));
    const moved = await transitionJob(ctx, 'a', 'ready', ['processing']);
    expect(moved?.outbox).toBe(callbackKey('a', 'ready', clock));
    expect((await transitionJob(ctx, 'b', 'ready', ['processing']))?.outbox).toBe(
      callbackKey('b', 'ready', clock),
    );
    // Written just now: not due yet for a reader that waits 5 s for the writer to queue it.
    expect(await pendingCallbacks(ctx, 5_000)).toEqual([]);
    clock += 5_000;
    const due = await pendingCallbacks(ctx, 5_000);
    expect(due.map((d) => [d.key, d.job.id, d.job.state])).toEqual([
      [`notify-a-ready-${clock - 5_000}`, 'a', 'ready'],
    ]);
    await clearCallback(ctx, due[0]!.key);
    expect(await pendingCallbacks(ctx, 0)).toEqual([]);
  });

  it('forgets an entry whose snapshot is gone', async () => {
    await redis.zadd(ctx.keys.callbacksDue, clock - 10_000, 'notify-x-ready-1');
    expect(await pendingCallbacks(ctx, 0)).toEqual([]);
    expect(await redis.zcard(ctx.keys.callbacksDue)).toBe(0);
  });
});
