import { callbackKey, clearCallback, pendingCallbacks } from './callback-outbox.js';
import { JobStoreFixture, testJob } from './job-fixtures.js';
import { createJob, transitionJob } from './job-writes.js';
import type { NewJob } from './record.js';

const newJob = (id: string, callback_url: string | null): NewJob =>
  testJob(id, {
    state: 'processing',
    request: { description: null, filetype: 'video/mp4', fields: {}, callback_url, via: 'gcore' },
  });

describe('the callback outbox', () => {
  const store = new JobStoreFixture();
  beforeEach(() => store.reset());
  afterEach(() => store.clear());
  afterAll(() => store.close());

  it('holds a job that reached a final state with a callback_url, as it was then, until cleared', async () => {
    await createJob(store.ctx, newJob('a', 'https://tools.example/hook'));
    await createJob(store.ctx, newJob('b', null));
    const moved = await transitionJob(store.ctx, 'a', 'ready', ['processing']);
    expect(moved?.outbox).toBe(callbackKey('a', 'ready', store.clock));
    expect((await transitionJob(store.ctx, 'b', 'ready', ['processing']))?.outbox).toBe(
      callbackKey('b', 'ready', store.clock),
    );
    // Written just now: not due yet for a reader that waits 5 s for the writer to queue it.
    expect(await pendingCallbacks(store.ctx, 5_000)).toEqual([]);
    store.clock += 5_000;
    const due = await pendingCallbacks(store.ctx, 5_000);
    expect(due.map((d) => [d.key, d.job.id, d.job.state])).toEqual([
      [`notify-a-ready-${store.clock - 5_000}`, 'a', 'ready'],
    ]);
    await clearCallback(store.ctx, due[0]!.key);
    expect(await pendingCallbacks(store.ctx, 0)).toEqual([]);
  });

  it('forgets an entry whose snapshot is gone', async () => {
    await store.redis.zadd(store.ctx.keys.callbacksDue, store.clock - 10_000, 'notify-x-ready-1');
    expect(await pendingCallbacks(store.ctx, 0)).toEqual([]);
    expect(await store.redis.zcard(store.ctx.keys.callbacksDue)).toBe(0);
  });
});
