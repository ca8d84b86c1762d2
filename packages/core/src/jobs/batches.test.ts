import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { BatchRepository } from './batches.js';
import { JobRepository, type NewJob } from './repository.js';
import { emptyProgress, JOB_STATES } from './types.js';

const newJob = (id: string, overrides: Partial<NewJob> = {}): NewJob => ({
  id,
  kind: 'import',
  state: 'queued',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: `https://cdn.example.com/library/${id}.mp4?X-Amz-Signature=secretsig`,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: emptyProgress(),
  ...overrides,
});

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('batches and search in Redis', () => {
  let redis: Redis;
  let prefix: string;
  let jobs: JobRepository;
  let batches: BatchRepository;
  let clock: number;

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
    clock = Date.parse('2025-01-01T00:00:00Z');
    jobs = new JobRepository(redis, prefix, () => clock);
    batches = new BatchRepository(redis, prefix, () => clock);
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('counts a batch per state in the same step as its jobs move, always adding up to its total', async () => {
    const batch = await batches.create({ name: 'library', owner: 'cms' });
    for (let i = 0; i < 5; i++) await jobs.create(newJob(`j${i}`, { batch: batch.id, batch_index: i }));
    expect(await batches.get(batch.id)).toMatchObject({
      total: 5,
      counts: { queued: 5, ready: 0 },
      bytes: { total: 500, ready: 0 },
      finished_at: null,
    });
    await jobs.transition('j0', 'processing', ['queued']);
    await jobs.transition('j0', 'ready', ['processing']);
    await jobs.transition('j1', 'failed', ['queued']);
    clock += 60_000;
    const mid = (await batches.get(batch.id))!;
    expect(mid.counts).toMatchObject({ queued: 3, processing: 0, ready: 1, failed: 1 });
    expect(sum(mid.counts)).toBe(5);
    expect(Object.keys(mid.counts).sort()).toEqual([...JOB_STATES].sort());
    expect(mid.bytes.ready).toBe(100);
    expect(mid.rate_per_minute).toBe(2);
    expect(mid.eta_seconds).toBe(90);

    for (const id of ['j2', 'j3', 'j4']) await jobs.transition(id, 'canceled', ['queued']);
    const done = (await batches.get(batch.id))!;
    expect(done.finished_at).not.toBeNull();
    expect(done.eta_seconds).toBe(0);
    // A retry reopens it.
    await jobs.transition('j1', 'queued', ['failed']);
    expect((await batches.get(batch.id))!.finished_at).toBeNull();
    expect(await jobs.get('j1')).toMatchObject({ batch: batch.id, batch_index: 1 });
  });

  it('refuses a job for a batch that does not exist, and writes nothing', async () => {
    await expect(jobs.create(newJob('x', { batch: 'nope' }))).rejects.toMatchObject({
      code: 'BATCH_NOT_FOUND',
    });
    expect(await jobs.get('x')).toBeNull();
  });

  it('finds jobs by the beginning of any word of name, filename, URL host and path, id and video id', async () => {
    for (let i = 0; i < 30; i++) await jobs.create(newJob(`job${i}`, { name: `Migrated video ${1000 + i}` }));
    await jobs.indexVideo(777123, 'job7');
    const ids = async (q: string, extra: object = {}) =>
      (await jobs.list({ q, ...extra })).items.map((j) => j.id);
    expect(await ids('Migrated video 1004')).toEqual(['job4']);
    expect(await ids('migr 1004')).toEqual(['job4']);
    expect(await ids('777123')).toEqual(['job7']);
    expect(await ids('cdn library job12')).toEqual(['job12']);
    expect(await ids('job12')).toEqual(['job12']);
    // The URL's query is not searchable (a presigned URL's signature lives there).
    expect(await ids('secretsig')).toEqual([]);
    expect(await ids('video 101')).toEqual([
      'job19',
      'job18',
      'job17',
      'job16',
      'job15',
      'job14',
      'job13',
      'job12',
      'job11',
      'job10',
    ]);
    // A prefix with many words, paged: every match once, newest first, across pages.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof jobs.list>> = await jobs.list({ q: 'job', limit: 7, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `job${29 - i}`));
  });

  it('reads a prefix of more than 32 words through the index too, newest first, paged', async () => {
    for (let i = 0; i < 40; i++) await jobs.create(newJob(`ep${i}`, { name: `Episode ${100 + i}` }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof jobs.list>> = await jobs.list({ q: '1', limit: 15, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `ep${39 - i}`));
    expect((await jobs.list({ q: 'episode 13' })).items.map((j) => j.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `ep${39 - i}`),
    );
  });

  it('keeps a cursor stable while jobs change state', async () => {
    for (let i = 0; i < 10; i++) await jobs.create(newJob(`s${i}`));
    const first = await jobs.list({ state: 'queued', limit: 4 });
    expect(first.items.map((j) => j.id)).toEqual(['s9', 's8', 's7', 's6']);
    // Jobs of the first page move on; the second page is what it would have been.
    for (const id of ['s9', 's8']) await jobs.transition(id, 'processing', ['queued']);
    const second = await jobs.list({ state: 'queued', limit: 4, cursor: first.next });
    expect(second.items.map((j) => j.id)).toEqual(['s5', 's4', 's3', 's2']);
  });

  it('filters by batch, kind, owner and since together', async () => {
    const batch = await batches.create({ name: 'b', owner: null });
    await jobs.create(newJob('old', { owner: 'a', created_at: '2024-01-01T00:00:00.000Z' }));
    await jobs.create(newJob('in', { owner: 'a', batch: batch.id }));
    await jobs.create(newJob('up', { owner: 'a', kind: 'upload', state: 'receiving', batch: batch.id }));
    await jobs.create(newJob('other', { owner: 'b', batch: batch.id }));
    const ids = async (q: object) => (await jobs.list(q)).items.map((j) => j.id);
    expect(await ids({ batch: batch.id })).toEqual(['other', 'up', 'in']);
    expect(await ids({ batch: batch.id, owner: 'a', kind: 'import' })).toEqual(['in']);
    expect(await ids({ owner: 'a', since: Date.parse('2024-06-01T00:00:00Z') })).toEqual(['up', 'in']);
  });

  it('removes a job with all its index entries, search words and claim, and its batch counts it no more', async () => {
    const batch = await batches.create({ name: 'b', owner: 'o' });
    await redis.set(`${prefix}:imports:url:abc`, 'gone');
    await jobs.create(newJob('gone', { owner: 'o', batch: batch.id, claim: `${prefix}:imports:url:abc` }));
    await jobs.indexVideo(42, 'gone');
    expect(await jobs.remove('gone')).toBe(true);
    const keys = await redis.keys(`${prefix}:*`);
    const remaining = await Promise.all(
      keys.map(async (key) => {
        const type = await redis.type(key);
        if (type === 'zset') return [key, await redis.zrange(key, 0, -1)] as const;
        if (type === 'hash') return [key, await redis.hkeys(key)] as const;
        return [key, await redis.get(key)] as const;
      }),
    );
    const mentions = remaining.filter(
      ([key, value]) => key.includes('gone') || JSON.stringify(value).includes('gone'),
    );
    expect(mentions).toEqual([]);
    expect(await batches.get(batch.id)).toMatchObject({ total: 0, counts: { queued: 0 } });
  });
});
