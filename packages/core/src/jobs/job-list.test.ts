import { JobStoreFixture, testJob } from './job-fixtures.js';
import { listJobs, SCAN_BUDGET } from './job-list.js';
import { createJob } from './job-writes.js';
import type { NewJob } from './record.js';

const newJob = (id: string, overrides: Partial<NewJob> = {}): NewJob =>
  testJob(id, { kind: 'upload', state: 'queued', ...overrides });

const ids = (page: { items: Array<{ id: string }> }) => page.items.map((j) => j.id);

describe('listing jobs', () => {
  const store = new JobStoreFixture();
  beforeEach(() => store.reset());
  afterEach(() => store.clear());
  afterAll(() => store.close());

  it('lists newest first with a cursor and filters by state and kind', async () => {
    for (let i = 0; i < 7; i++) {
      await createJob(
        store.ctx,
        newJob(`j${i}`, { kind: i % 2 === 0 ? 'upload' : 'import', state: i < 4 ? 'queued' : 'ready' }),
      );
    }
    const first = await listJobs(store.ctx, { limit: 3 });
    expect(ids(first)).toEqual(['j6', 'j5', 'j4']);
    const second = await listJobs(store.ctx, { limit: 3, cursor: first.next });
    expect(ids(second)).toEqual(['j3', 'j2', 'j1']);
    const third = await listJobs(store.ctx, { limit: 3, cursor: second.next });
    expect(ids(third)).toEqual(['j0']);
    expect(third.next).toBeNull();

    expect(ids(await listJobs(store.ctx, { state: 'ready' }))).toEqual(['j6', 'j5', 'j4']);
    expect(ids(await listJobs(store.ctx, { kind: 'import' }))).toEqual(['j5', 'j3', 'j1']);
    const both = await listJobs(store.ctx, { state: 'queued', kind: 'upload', limit: 1 });
    expect(ids(both)).toEqual(['j2']);
    expect(ids(await listJobs(store.ctx, { state: 'queued', kind: 'upload', cursor: both.next }))).toEqual([
      'j0',
    ]);
  });

  it('filters by owner and by creation time', async () => {
    await createJob(store.ctx, newJob('old', { owner: 'cms' }));
    store.clock += 60_000;
    await createJob(store.ctx, newJob('mine', { owner: 'cms' }));
    await createJob(store.ctx, newJob('theirs', { owner: 'crm' }));
    expect(ids(await listJobs(store.ctx, { owner: 'cms' }))).toEqual(['mine', 'old']);
    expect(ids(await listJobs(store.ctx, { since: store.clock }))).toEqual(['theirs', 'mine']);
    expect(ids(await listJobs(store.ctx, { owner: 'cms', since: store.clock }))).toEqual(['mine']);
  });

  it('finds jobs by the beginnings of their words, however many words a store.prefix stands for', async () => {
    // More distinct words under `clip` than a store.prefix is expanded to: its range is read whole.
    for (let i = 0; i < 40; i++)
      await createJob(store.ctx, newJob(`j${i}`, { name: `clip${1000 + i} take` }));
    await createJob(store.ctx, newJob('other', { name: 'interview' }));
    expect(ids(await listJobs(store.ctx, { q: 'clip1039' }))).toEqual(['j39']);
    const page = await listJobs(store.ctx, { q: 'clip', limit: 5 });
    expect(ids(page)).toEqual(['j39', 'j38', 'j37', 'j36', 'j35']);
    expect(ids(await listJobs(store.ctx, { q: 'clip', limit: 5, cursor: page.next }))).toEqual([
      'j34',
      'j33',
      'j32',
      'j31',
      'j30',
    ]);
    expect(ids(await listJobs(store.ctx, { q: 'interv' }))).toEqual(['other']);
    expect(ids(await listJobs(store.ctx, { q: 'clip1039 interview' }))).toEqual([]);
  });

  it('answers with a cursor after reading SCAN_BUDGET candidates that do not match', async () => {
    const owner = store.ctx.keys.owner('cms');
    const pipeline = store.redis.pipeline();
    // Index entries without records: what the budget counts is candidates read, matching or not.
    for (let i = 1; i <= SCAN_BUDGET + 200; i++) pipeline.zadd(owner, i, `ghost${i}`);
    await pipeline.exec();
    await createJob(store.ctx, newJob('real', { owner: 'cms' }));
    await store.redis.zadd(owner, 0, 'real');
    const page = await listJobs(store.ctx, { owner: 'cms' });
    expect(page.items).toEqual([]);
    expect(Number(page.next)).toBeGreaterThan(0);
    const rest = await listJobs(store.ctx, { owner: 'cms', cursor: page.next });
    expect(ids(rest)).toEqual(['real']);
  });
});
