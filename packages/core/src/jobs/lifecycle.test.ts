import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { createLogger } from '../logger.js';
import { deleteKeys, setJobState, testPrefix, testRedis } from '../testing.js';
import { createQueues, type RelayQueues } from './bull.js';
import { BIRTH_STATES, canMove, JobLifecycle, RESTORE_STATES, TRANSITIONS } from './lifecycle.js';
import { JobRepository, type NewJob } from './repository.js';
import { emptyProgress, FINAL_STATES, JOB_KINDS, JOB_STATES } from './types.js';

const newJob = (id: string, callback_url: string | null = 'https://tool.example/hook'): NewJob => ({
  id,
  kind: 'upload',
  state: 'receiving',
  name: id,
  filename: `${id}.mp4`,
  size: 10,
  origin_url: null,
  request: { description: null, filetype: null, fields: {}, callback_url, via: 'gcore' },
  progress: emptyProgress(),
});

describe('the job lifecycle', () => {
  let redis: Redis;
  let prefix: string;
  let jobs: JobRepository;
  let queues: RelayQueues;
  let lifecycle: JobLifecycle;
  let clock: number;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    clock = Date.parse('2026-01-01T00:00:00Z');
    jobs = new JobRepository(redis, prefix, () => clock);
    queues = createQueues(redis, { forwardAttempts: 2, prefix });
    lifecycle = new JobLifecycle({ jobs, queues, logger: createLogger({ level: 'silent' }) });
  });
  afterEach(async () => {
    await queues.notify.obliterate({ force: true });
    await queues.close();
    await deleteKeys(redis, prefix);
  });
  afterAll(() => redis.quit());

  const notifyJobs = async () => (await queues.notify.getJobs(['waiting', 'delayed'])).map((j) => j.data);

  it('leaves final states only by a retry or a cancel, and canceled never', () => {
    expect(TRANSITIONS.canceled).toEqual([]);
    for (const final of FINAL_STATES) {
      expect(
        JOB_STATES.filter((to) => canMove(final, to)).every((to) =>
          ['queued', 'processing', 'canceled'].includes(to),
        ),
      ).toBe(true);
    }
    expect(JOB_STATES.filter((to) => canMove('ready', to))).toEqual(['canceled']);
    expect(JOB_STATES.filter((to) => canMove('failed', to))).toEqual(['queued', 'processing', 'canceled']);
    expect(JOB_STATES.filter((from) => canMove(from, 'ready'))).toEqual(['processing']);
  });

  it('queues exactly one callback when a job reaches a final state, and clears the outbox', async () => {
    await jobs.create(newJob('a'));
    await lifecycle.queue('a');
    await lifecycle.advance('a', 'creating');
    await lifecycle.handOver('a');
    expect(await notifyJobs()).toEqual([]);
    const ready = await lifecycle.finish('a');
    expect(ready).toMatchObject({ state: 'ready', finished_at: new Date(clock).toISOString() });
    const queued = await notifyJobs();
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      id: 'a',
      url: 'https://tool.example/hook',
      job: { id: 'a', state: 'ready' },
    });
    expect(queued[0]!.job).not.toHaveProperty('progress');
    expect(await redis.zcard(`${prefix}:callbacks:due`)).toBe(0);
    expect(await lifecycle.deliverDueCallbacks(0)).toBe(0);
    expect(await notifyJobs()).toHaveLength(1);
  });

  it('refuses a move the table does not allow, changing nothing and telling no one', async () => {
    await jobs.create(newJob('b'));
    expect(await lifecycle.finish('b')).toBeNull();
    expect(await lifecycle.retry('b', 'queued')).toBeNull();
    expect(await lifecycle.handOver('b')).toBeNull();
    expect(await jobs.get('b')).toMatchObject({ state: 'receiving', finished_at: null });
    expect(await lifecycle.cancel('b')).toMatchObject({ state: 'canceled' });
    expect(await lifecycle.fail('b', { code: 'X', message: 'x', retryable: false })).toBeNull();
    expect(await lifecycle.cancel('b')).toBeNull();
    expect((await notifyJobs()).map((d) => d.job.state)).toEqual(['canceled']);
  });

  it('tells a tool once per final state: failed, then ready after a retry', async () => {
    await jobs.create(newJob('c'));
    await lifecycle.queue('c');
    await lifecycle.fail('c', { code: 'GCORE_REJECTED', message: 'File Invalid', retryable: false });
    clock += 1_000;
    await lifecycle.retry('c', 'queued');
    await lifecycle.handOver('c');
    await lifecycle.finish('c');
    const states = (await notifyJobs()).map((d) => d.job.state).sort();
    expect(states).toEqual(['failed', 'ready']);
  });

  it('queues no callback for a job without callback_url', async () => {
    await jobs.create(newJob('d', null));
    await lifecycle.cancel('d');
    expect(await notifyJobs()).toEqual([]);
    expect(await redis.zcard(`${prefix}:callbacks:due`)).toBe(0);
  });

  it('delivers an outbox entry whose writer died before queueing it, once, as the job was then', async () => {
    await jobs.create(newJob('e'));
    // The move alone, as a process killed right after the Lua step would leave it.
    await setJobState(jobs, 'e', 'failed', {
      error: { code: 'UPLOAD_EXPIRED', message: 'gone', retryable: false },
    });
    await jobs.update('e', { name: 'renamed later' });
    expect(await notifyJobs()).toEqual([]);
    clock += 2_000;
    expect(await lifecycle.deliverDueCallbacks(5_000)).toBe(0);
    clock += 5_000;
    expect(await lifecycle.deliverDueCallbacks(5_000)).toBe(1);
    expect(await lifecycle.deliverDueCallbacks(5_000)).toBe(0);
    const queued = await notifyJobs();
    expect(queued).toHaveLength(1);
    expect(queued[0]!.job).toMatchObject({
      id: 'e',
      state: 'failed',
      name: 'e',
      error: { code: 'UPLOAD_EXPIRED' },
    });
  });

  it('creates a job only in a birth state of its kind: never ready', async () => {
    await expect(jobs.create({ ...newJob('r'), state: 'ready' })).rejects.toThrow(
      'a new upload job starts in receiving, not ready',
    );
    await expect(jobs.create({ ...newJob('i'), kind: 'import', state: 'ready' })).rejects.toThrow(
      'a new import job starts in queued, not ready',
    );
    expect(await jobs.get('r')).toBeNull();
    expect(await jobs.get('i')).toBeNull();
    for (const kind of JOB_KINDS) {
      for (const state of JOB_STATES) {
        const job = { ...newJob(`${kind}-${state}`), kind, state };
        const born = (BIRTH_STATES[kind] as readonly string[]).includes(state);
        if (born) expect((await jobs.create(job)).record).toMatchObject({ kind, state });
        else await expect(jobs.create(job)).rejects.toThrow(`not ${state}`);
      }
    }
  });

  it('rebuilds a lost upload only in a state its manifest proves, and never an import', async () => {
    expect(RESTORE_STATES.import).toEqual([]);
    for (const kind of JOB_KINDS) {
      for (const state of JOB_STATES) {
        const job = { ...newJob(`${kind}-${state}`), kind, state };
        const restorable = (RESTORE_STATES[kind] as readonly string[]).includes(state);
        if (restorable) expect((await jobs.restore(job)).record).toMatchObject({ kind, state });
        else await expect(jobs.restore(job)).rejects.toThrow(`not rebuilt in ${state}`);
      }
    }
    expect(await jobs.get('upload-ready')).toBeNull();
  });

  it('is the only production code that moves a job', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          // The emulator's transitions are Gcore's video states, not jobs.
          if (!['node_modules', 'dist', 'gcore-emulator'].includes(entry.name)) await walk(full);
        } else if (
          entry.name.endsWith('.ts') &&
          !entry.name.endsWith('.test.ts') &&
          entry.name !== 'testing.ts'
        ) {
          const text = await fs.readFile(full, 'utf8');
          if (/\.transition\(/.test(text) && !full.endsWith(path.join('jobs', 'lifecycle.ts'))) {
            offenders.push(path.relative(root, full));
          }
        }
      }
    };
    for (const top of ['apps', 'packages']) await walk(path.join(root, top));
    expect(offenders).toEqual([]);
  });
});
