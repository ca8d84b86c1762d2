import { CreateLocks, createLogger, JobRepository } from '@gtr/core';
import { deleteKeys, testPrefix, testRedis } from '@gtr/core/testing';
import { GcoreApiError, GcoreClient, GcoreTimeoutError } from '@gtr/gcore';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import type { Redis } from 'ioredis';
import type { WorkerContext } from '../context.js';
import { holdCreateLock } from './create-lock.js';
import { findLostCreate, mayHaveCreated } from './lost-create.js';

/** Loopback, nothing listens: an import's pull fails, its video stays `empty` with the error. */
const ORIGIN = 'http://127.0.0.1:9/clip.mp4';

describe('the video of a lost create', () => {
  let redis: Redis;
  let prefix: string;
  let emulator: Emulator;
  let now: number;
  let ctx: WorkerContext;
  let jobs: JobRepository;

  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(() => redis.quit());
  beforeEach(async () => {
    prefix = testPrefix();
    now = Date.now();
    emulator = await startEmulator({ clock: () => now });
    jobs = new JobRepository(redis, prefix);
    // What the lookup and the lock use of a worker's context: the Gcore client, the jobs, the locks.
    ctx = {
      gcore: new GcoreClient({ baseUrl: emulator.url, apiKey: emulator.apiKey }),
      jobs,
      createLocks: new CreateLocks(redis, prefix),
      logger: createLogger({ level: 'silent' }),
    } as unknown as WorkerContext;
  });
  afterEach(async () => {
    await emulator.close();
    await deleteKeys(redis, prefix);
  });

  const create = (name: string, extra: { origin_url?: string } = {}) =>
    ctx.gcore.createVideo({ name, ...extra });

  it('is the one video of its name no other job holds, created since the create started', async () => {
    const since = now;
    const others = await create('Talk');
    await jobs.indexVideo(others.id, 'job-b');
    const own = await create('Talk');
    await create('Talk 2');
    expect((await findLostCreate(ctx, 'job-a', { name: 'Talk' }, since))?.id).toBe(own.id);
    // Another job's recorded video is never taken, even when it is the only one.
    await ctx.gcore.deleteVideo(own.id);
    expect(await findLostCreate(ctx, 'job-a', { name: 'Talk' }, since)).toBeUndefined();
  });

  it('is none when two same-named videos no job holds qualify (one made outside the relay)', async () => {
    const since = now;
    await create('Talk');
    await create('Talk');
    expect(await findLostCreate(ctx, 'job-a', { name: 'Talk' }, since)).toBeUndefined();
  });

  it('leaves out videos made more than a minute before the create started', async () => {
    await create('Talk');
    now += 61_000;
    const since = now;
    const own = await create('Talk');
    expect((await findLostCreate(ctx, 'job-a', { name: 'Talk' }, since))?.id).toBe(own.id);
  });

  it("never takes an import's video for an upload's, nor another URL's for an import's", async () => {
    const since = now;
    const imported = await create('Talk', { origin_url: ORIGIN });
    expect(await findLostCreate(ctx, 'job-a', { name: 'Talk' }, since)).toBeUndefined();
    expect(
      await findLostCreate(ctx, 'job-a', { name: 'Talk', origin_url: `${ORIGIN}?v=2` }, since),
    ).toBeUndefined();
    // Its own URL, in whatever status the pull left it.
    expect((await findLostCreate(ctx, 'job-a', { name: 'Talk', origin_url: ORIGIN }, since))?.id).toBe(
      imported.id,
    );
  });

  it('holds a name for one job at a time: a second waits until the first releases it', async () => {
    const talk = { name: 'Talk' };
    const first = await holdCreateLock(ctx, 'job-a', talk);
    // The same job (a retry) takes it again at once.
    (await holdCreateLock(ctx, 'job-a', talk)).stop();
    let second = false;
    const waiting = holdCreateLock(ctx, 'job-b', talk).then((lock) => {
      second = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(second).toBe(false);
    await first.release();
    const lock = await waiting;
    expect(await ctx.createLocks.holder(talk)).toBe('job-b');
    await lock.release();
  });

  it('stops waiting for a lock when the attempt is aborted', async () => {
    const talk = { name: 'Talk' };
    const held = await holdCreateLock(ctx, 'job-a', talk);
    const abort = new AbortController();
    const waiting = holdCreateLock(ctx, 'job-b', talk, abort.signal);
    abort.abort('canceled');
    await expect(waiting).rejects.toThrow();
    await held.release();
  });

  it('counts a create as maybe made unless Gcore refused it', () => {
    const refused = new GcoreApiError({
      status: 422,
      method: 'POST',
      path: '/streaming/videos',
      gcoreMessage: '',
    });
    const failed = new GcoreApiError({
      status: 502,
      method: 'POST',
      path: '/streaming/videos',
      gcoreMessage: '',
    });
    expect(mayHaveCreated(refused)).toBe(false);
    expect(mayHaveCreated(failed)).toBe(true);
    expect(mayHaveCreated(new GcoreTimeoutError('POST /streaming/videos', 30_000))).toBe(true);
  });
});
