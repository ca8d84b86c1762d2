import { createLogger, createRedis } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl, waitFor } from '@gtr/core/testing';
import { Queue, Worker } from 'bullmq';
import { WorkerWatchdog } from './watchdog.js';

describe('the worker watchdog', () => {
  const redis = createRedis(testRedisUrl(), { role: 'worker' });
  const logger = createLogger({ level: 'silent' });
  let prefix: string;
  let queue: Queue;
  let workers: Worker[];
  let watchdog: WorkerWatchdog | null;
  let clock: number;

  beforeEach(() => {
    prefix = testPrefix();
    queue = new Queue('w', { connection: redis, prefix });
    workers = [];
    watchdog = null;
    clock = Date.now();
  });
  afterEach(async () => {
    watchdog?.stop();
    await Promise.all(workers.map((w) => w.close(true)));
    await queue.obliterate({ force: true });
    await queue.close();
    await deleteKeys(redis, prefix);
  });
  afterAll(() => redis.quit());

  const processed: string[] = [];
  const newWorker = (processor: (id: string) => Promise<void> = async () => {}, concurrency = 1) => {
    const worker = new Worker(
      'w',
      async (job) => {
        await processor(String(job.id));
        processed.push(String(job.id));
      },
      { connection: redis, prefix, concurrency },
    );
    workers.push(worker);
    return worker;
  };

  /** A watchdog over one slot, on a clock the test moves. */
  const watch = (first: Worker, replacement: () => Worker) => {
    let current = first;
    watchdog = new WorkerWatchdog({
      slots: [
        {
          current: () => current,
          queue,
          replace: () => {
            const old = current;
            current = replacement();
            void old.close();
          },
        },
      ],
      redis,
      logger,
      options: { stuckAfterMs: 30_000 },
      now: () => clock,
    });
    return { current: () => current };
  };

  it('replaces a worker that takes no job while jobs wait, and the new one takes them', async () => {
    // A worker that stopped consuming, as after a lost blocking connection.
    const stuck = newWorker();
    await stuck.pause(true);
    const slot = watch(stuck, () => newWorker());
    await queue.add('x', {}, { jobId: 'one' });
    expect(await watchdog!.check()).toEqual([]);
    clock += 20_000;
    expect(await watchdog!.check()).toEqual([]);
    clock += 15_000;
    expect(await watchdog!.check()).toEqual(['w']);
    expect(slot.current()).not.toBe(stuck);
    await waitFor(() => (processed.includes('one') ? true : undefined), { what: 'the job to run' });
  });

  it('leaves a busy worker alone: no free slot, however long its job takes', async () => {
    let release = () => {};
    const busy = newWorker(async (id) => {
      if (id === 'long') await new Promise<void>((resolve) => (release = resolve));
    });
    const slot = watch(busy, () => newWorker());
    await queue.add('x', {}, { jobId: 'long' });
    await waitFor(async () => ((await queue.getActiveCount()) === 1 ? true : undefined));
    await queue.add('x', {}, { jobId: 'next' });
    for (let i = 0; i < 5; i++) {
      clock += 60_000;
      expect(await watchdog!.check()).toEqual([]);
    }
    expect(slot.current()).toBe(busy);
    release();
    await waitFor(() => (processed.includes('next') ? true : undefined));
  });

  it('leaves a worker alone while its queue is rate limited or paused, or nothing waits', async () => {
    const idle = newWorker();
    await idle.pause(true);
    const slot = watch(idle, () => newWorker());
    clock += 60_000;
    expect(await watchdog!.check()).toEqual([]); // nothing waiting
    await queue.add('x', {}, { jobId: 'held' });
    await queue.rateLimit(60_000);
    clock += 60_000;
    expect(await watchdog!.check()).toEqual([]);
    await redis.del(`${prefix}:w:limiter`);
    await queue.pause();
    clock += 60_000;
    expect(await watchdog!.check()).toEqual([]);
    expect(slot.current()).toBe(idle);
  });

  it('gives a worker time after Redis comes back before blaming it', async () => {
    const stuck = newWorker();
    await stuck.pause(true);
    watch(stuck, () => newWorker());
    await queue.add('x', {}, { jobId: 'after' });
    clock += 60_000;
    redis.emit('close');
    expect(await watchdog!.check()).toEqual([]);
    redis.emit('ready');
    clock += 10_000;
    expect(await watchdog!.check()).toEqual([]);
    clock += 25_000;
    expect(await watchdog!.check()).toEqual(['w']);
  });
});
