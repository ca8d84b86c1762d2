import type { CreateVideoFields, GcoreClient, GcoreVideo, ListVideosQuery } from '@gtr/gcore';
import { GcoreApiError, GcoreTimeoutError } from '@gtr/gcore';
import { CreateBatcher, matchBatchAnswer } from './batching/create-batcher.js';
import { StatusBoard } from './batching/status-board.js';

let nextId = 1;
function video(fields: Partial<GcoreVideo> & { name: string }): GcoreVideo {
  return {
    id: nextId++,
    status: 'empty',
    origin_url: null,
    created_at: new Date().toISOString(),
    ...fields,
  } as GcoreVideo;
}

describe('matchBatchAnswer', () => {
  const requests: CreateVideoFields[] = [
    { name: 'a', origin_url: 'https://o/1.mp4' },
    { name: 'a', origin_url: 'https://o/2.mp4' },
    { name: 'b', origin_url: 'https://o/3.mp4' },
  ];

  it('ties each answer to its request by name and origin_url, whatever the order', () => {
    const answers = [...requests].reverse().map((r) => video({ name: r.name, origin_url: r.origin_url! }));
    const matched = matchBatchAnswer(requests, answers);
    expect(matched.map((v) => v?.origin_url)).toEqual(requests.map((r) => r.origin_url));
  });

  it('falls back to a name unique on both sides, and leaves the rest unmatched', () => {
    const answers = [
      video({ name: 'b', origin_url: 'https://o/3.mp4?normalised' }),
      video({ name: 'a', origin_url: 'https://o/1.mp4' }),
    ];
    const matched = matchBatchAnswer(requests, answers);
    expect(matched[0]).toBe(answers[1]);
    expect(matched[1]).toBeUndefined();
    expect(matched[2]).toBe(answers[0]);
  });

  it('never ties one answer to two requests', () => {
    const answers = [video({ name: 'a', origin_url: 'https://o/1.mp4' })];
    const matched = matchBatchAnswer(requests, answers);
    expect(matched.filter((v) => v !== undefined)).toHaveLength(1);
  });
});

/** A Gcore stand-in: records calls; `batch` decides what a batch call does. */
function fakeGcore(batch: (videos: CreateVideoFields[]) => Promise<GcoreVideo[]>) {
  const store: GcoreVideo[] = [];
  const calls = { batch: [] as number[], single: 0, list: [] as ListVideosQuery[], get: 0 };
  const make = (f: CreateVideoFields) => {
    const v = video({ name: f.name, origin_url: f.origin_url ?? null });
    store.push(v);
    return v;
  };
  const client = {
    async createVideosBatch(videos: CreateVideoFields[]) {
      calls.batch.push(videos.length);
      return batch(videos);
    },
    async createVideo(f: CreateVideoFields) {
      calls.single++;
      return make(f);
    },
    async listVideos(query: ListVideosQuery) {
      calls.list.push(query);
      const ids = typeof query.id === 'string' ? query.id.split(',').map(Number) : undefined;
      return store.filter(
        (v) => (!ids || ids.includes(v.id)) && (!query.search || v.name.includes(String(query.search))),
      );
    },
    async getVideo(id: number) {
      calls.get++;
      const v = store.find((s) => s.id === id);
      if (!v) throw new GcoreApiError({ status: 404, method: 'GET', path: '/x', gcoreMessage: '' });
      return v;
    },
  };
  return { client: client as unknown as GcoreClient, calls, store, make };
}

const imports = (n: number, prefix = 'v') =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, origin_url: `https://o/${prefix}${i}.mp4` }));

describe('CreateBatcher', () => {
  it('resolves each create with its own video when the answer is reversed', async () => {
    const g = fakeGcore(async (videos) => videos.map(g.make).reverse());
    const batcher = new CreateBatcher(g.client, { windowMs: 10 });
    const items = imports(5);
    const videos = await Promise.all(items.map((f) => batcher.create(f)));
    expect(videos.map((v) => v.origin_url)).toEqual(items.map((f) => f.origin_url));
    expect(g.calls.batch).toEqual([5]);
  });

  it('never puts two identical requests in one call', async () => {
    const g = fakeGcore(async (videos) => videos.map(g.make));
    const batcher = new CreateBatcher(g.client, { windowMs: 10 });
    const same = { name: 'x', origin_url: 'https://o/x.mp4' };
    const videos = await Promise.all([
      batcher.create(same),
      batcher.create(same),
      batcher.create({ name: 'y' }),
    ]);
    expect(new Set(videos.map((v) => v.id)).size).toBe(3);
    expect(g.calls.batch).toEqual([2]);
    expect(g.calls.single).toBe(1);
  });

  it('caps a call at maxBatch', async () => {
    const g = fakeGcore(async (videos) => videos.map(g.make));
    const batcher = new CreateBatcher(g.client, { windowMs: 10, maxBatch: 4 });
    await Promise.all(imports(10).map((f) => batcher.create(f)));
    expect(g.calls.batch).toEqual([4, 4, 2]);
  });

  it.each([403, 404, 405])(
    'after a %i falls back to single creates, and probes again later',
    async (status) => {
      let now = 1_000_000;
      const g = fakeGcore(async () => {
        throw new GcoreApiError({
          status,
          method: 'POST',
          path: '/streaming/videos/batch',
          gcoreMessage: '',
        });
      });
      const batcher = new CreateBatcher(g.client, { windowMs: 10, now: () => now, reprobeMs: 60_000 });
      const first = await Promise.all(imports(3, 'a').map((f) => batcher.create(f)));
      expect(first).toHaveLength(3);
      expect(g.calls).toMatchObject({ batch: [3], single: 3 });
      expect(batcher.batchOff).toBe(true);
      await Promise.all(imports(3, 'b').map((f) => batcher.create(f)));
      expect(g.calls).toMatchObject({ batch: [3], single: 6 });
      now += 60_001;
      await Promise.all(imports(3, 'c').map((f) => batcher.create(f)));
      expect(g.calls).toMatchObject({ batch: [3, 3], single: 9 });
    },
  );

  it('after a lost answer creates nothing again: each create rejects, so that its job looks its video up', async () => {
    const g = fakeGcore(async (videos) => {
      videos.slice(0, 2).map(g.make); // made two of three, then the answer was lost
      throw new GcoreTimeoutError('POST /streaming/videos/batch', 30_000);
    });
    const batcher = new CreateBatcher(g.client, { windowMs: 10, maxBatch: 100 });
    const results = await Promise.allSettled(imports(3).map((f) => batcher.create(f)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(g.store).toHaveLength(2);
    expect([g.calls.single, g.calls.list]).toEqual([0, []]);
    expect(batcher.maxBatch).toBe(1);
  });

  it('rejects the creates a batch answer names no video for, and resolves the rest', async () => {
    const g = fakeGcore(async (videos) => videos.map(g.make).slice(1));
    const batcher = new CreateBatcher(g.client, { windowMs: 10 });
    const results = await Promise.allSettled(imports(3).map((f) => batcher.create(f)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ retryable: true });
    expect(g.calls.single).toBe(0);
  });

  it('rejects every create on 401 (nothing was made)', async () => {
    const g = fakeGcore(async () => {
      throw new GcoreApiError({
        status: 401,
        method: 'POST',
        path: '/streaming/videos/batch',
        gcoreMessage: '',
      });
    });
    const batcher = new CreateBatcher(g.client, { windowMs: 10 });
    const results = await Promise.allSettled(imports(2).map((f) => batcher.create(f)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(g.calls.single).toBe(0);
  });
});

describe('StatusBoard', () => {
  it('looks videos up by the id filter, 100 a call, and GETs only the missing', async () => {
    const g = fakeGcore(async () => []);
    const made = imports(150).map(g.make);
    const board = new StatusBoard(g.client, 10);
    const ids = [...made.map((v) => v.id), 999_999];
    const results = await Promise.allSettled(ids.map((id) => board.get(id)));
    expect(results.slice(0, 150).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(results[150]!.status).toBe('rejected');
    expect(g.calls.list).toHaveLength(2);
    expect(g.calls.list[0]!.id).toBe(ids.slice(0, 100).join(','));
    expect(g.calls.list[1]!.id).toBe(ids.slice(100).join(','));
    expect(g.calls.get).toBe(1);
  });
});
