import { type Emulator, startEmulator } from './emulator.js';
import { api } from './test-support.js';

let emulator: Emulator;
let now: number;

beforeEach(async () => {
  now = Date.UTC(2030, 5, 1, 12);
  emulator = await startEmulator({ clock: () => now, clientId: 321 });
});
afterEach(async () => {
  await emulator.close();
});

describe('authentication', () => {
  it('answers 401 with Gcore’s message when the Authorization header is missing', async () => {
    const res = await api(emulator, 'GET', '/streaming/videos', undefined, {});
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: 'Authentication credentials were not provided.' });
  });

  it.each([
    ['a wrong key', 'APIKey nope'],
    ['another scheme', 'Bearer emulator-key'],
    ['no key at all', 'APIKey'],
  ])('answers 401 to %s', async (_what, authorization) => {
    const res = await api(emulator, 'GET', '/streaming/videos', undefined, { authorization });
    expect(res.status).toBe(401);
    expect(typeof res.body.message).toBe('string');
  });

  it.each(['APIKey', 'apikey', 'APIKEY', 'ApiKey'])('accepts the scheme word written %s', async (scheme) => {
    const res = await api(emulator, 'GET', '/streaming/videos', undefined, {
      authorization: `${scheme} emulator-key`,
    });
    expect(res.status).toBe(200);
  });

  it('accepts only the configured key', async () => {
    const other = await startEmulator({ apiKey: '1234$0d16599c' });
    try {
      expect((await api(other, 'GET', '/streaming/videos')).status).toBe(200);
      const res = await api(other, 'GET', '/streaming/videos', undefined, {
        authorization: 'APIKey emulator-key',
      });
      expect(res.status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('create video', () => {
  it('creates from {"video": {...}} and answers 200 with the single video object', async () => {
    const res = await api(emulator, 'POST', '/streaming/videos', {
      video: { name: 'Gcore Demo', description: 'Uploaded via TUS session' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'Gcore Demo',
      description: 'Uploaded via TUS session',
      client_id: 321,
      status: 'empty',
      error: null,
      duration: null,
      origin_url: null,
      hls_url: null,
      screenshots: [],
      converted_videos: [],
      created_at: '2030-06-01T12:00:00.000Z',
      updated_at: '2030-06-01T12:00:00.000Z',
    });
    expect(Number.isInteger(res.body.id)).toBe(true);
    expect(res.body.slug).toMatch(/^[A-Za-z0-9]{10,16}$/);
  });

  it('creates from flat fields too, at /streaming/videos/ as in the docs’ curl', async () => {
    const res = await api(emulator, 'POST', '/streaming/videos/', { name: 'flat', client_user_id: 7 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'flat', client_user_id: 7 });
  });

  it.each([
    ['no name', { video: { description: 'x' } }],
    ['a blank name', { video: { name: '  ' } }],
    ['no body', undefined],
  ])('answers 422 {"errors":{"name":["can\'t be blank"]}} for %s', async (_what, body) => {
    const res = await api(emulator, 'POST', '/streaming/videos', body);
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ errors: { name: ["can't be blank"] } });
    expect(emulator.videos()).toHaveLength(0);
  });

  it('checks field types loosely, like Gcore', async () => {
    const bad = await api(emulator, 'POST', '/streaming/videos', {
      video: {
        name: 'x',
        priority: 11,
        directory_id: 'abc',
        projection: 'flat',
        origin_url: 'ftp://x/y.mp4',
      },
    });
    expect(bad.status).toBe(422);
    expect(Object.keys(bad.body.errors).sort()).toEqual([
      'directory_id',
      'origin_url',
      'priority',
      'projection',
    ]);

    const ok = await api(emulator, 'POST', '/streaming/videos', {
      video: { name: 'x', priority: '-10', directory_id: 5, projection: 'vr360', unknown_field: true },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ priority: -10, directory_id: 5, projection: 'vr360' });
    expect(ok.body.unknown_field).toBeUndefined();
  });

  it('answers with an array when createResponse is "array", like the OpenAPI file and SDKs', async () => {
    emulator.setFaults({ createResponse: 'array' });
    const res = await api(emulator, 'POST', '/streaming/videos', { video: { name: 'arr' } });
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body[0]).toMatchObject({ name: 'arr', status: 'empty' });
  });

  it('answers 400 to a body that is not JSON', async () => {
    const res = await fetch(`${emulator.url}/streaming/videos`, {
      method: 'POST',
      headers: { authorization: 'APIKey emulator-key', 'content-type': 'application/json' },
      body: '{"video":',
    });
    expect(res.status).toBe(400);
  });
});

describe('batch create', () => {
  it('creates each video of {"videos": [...]} and answers with an array', async () => {
    const res = await api(emulator, 'POST', '/streaming/videos/batch', {
      videos: [{ name: 'one' }, { video: { name: 'two' } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.map((v: { name: string }) => v.name)).toEqual(['one', 'two']);
    expect(emulator.stats().videosCreated).toBe(2);
  });

  it('refuses more than 500 videos and invalid items, creating none', async () => {
    const many = Array.from({ length: 501 }, (_, i) => ({ name: `v${i}` }));
    expect((await api(emulator, 'POST', '/streaming/videos/batch', { videos: many })).status).toBe(422);
    const bad = await api(emulator, 'POST', '/streaming/videos/batch', { videos: [{ name: 'ok' }, {}] });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.videos['1']).toEqual({ name: ["can't be blank"] });
    expect(emulator.videos()).toHaveLength(0);
  });

  const names = (body: Array<{ name: string }>) => body.map((v) => v.name);
  const five = () => ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name }));

  it('answers in reverse or shuffled order under batchOrder', async () => {
    emulator.setFaults({ batchOrder: 'reversed' });
    const reversed = await api(emulator, 'POST', '/streaming/videos/batch', { videos: five() });
    expect(names(reversed.body)).toEqual(['e', 'd', 'c', 'b', 'a']);
    emulator.setFaults({ batchOrder: 'shuffled' });
    const shuffled = await api(emulator, 'POST', '/streaming/videos/batch', { videos: five() });
    expect(names(shuffled.body)).not.toEqual(['a', 'b', 'c', 'd', 'e']);
    expect([...names(shuffled.body)].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it.each([403, 404, 405] as const)('answers %i under batchStatus, creating none', async (status) => {
    emulator.setFaults({ batchStatus: status });
    const res = await api(emulator, 'POST', '/streaming/videos/batch', { videos: five() });
    expect(res.status).toBe(status);
    expect(typeof res.body.message).toBe('string');
    expect(emulator.videos()).toHaveLength(0);
  });

  it('creates the videos first and answers batchDelayMs per video later', async () => {
    emulator.setFaults({ batchDelayMs: 40 });
    const started = performance.now();
    const pending = api(emulator, 'POST', '/streaming/videos/batch', { videos: five() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.videos()).toHaveLength(5);
    expect((await pending).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(emulator.requests()).toEqual([{ method: 'POST', path: '/videos/batch', query: {}, items: 5 }]);
  });

  it('creates the video first and answers a single create createDelayMs later', async () => {
    emulator.setFaults({ createDelayMs: 150 });
    const started = performance.now();
    const pending = api(emulator, 'POST', '/streaming/videos', { video: { name: 'slow' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.videos().map((v) => v.name)).toEqual(['slow']);
    const answer = await pending;
    expect([answer.status, answer.body.name]).toEqual([200, 'slow']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('makes the video of every Nth create, then drops the connection unanswered (createDropEveryN)', async () => {
    emulator.setFaults({ createDropEveryN: 2 });
    const first = await api(emulator, 'POST', '/streaming/videos', { video: { name: 'answered' } });
    expect(first.status).toBe(200);
    await expect(api(emulator, 'POST', '/streaming/videos', { video: { name: 'lost' } })).rejects.toThrow();
    expect(emulator.videos().map((v) => v.name)).toEqual(['answered', 'lost']);
  });
});

describe('get, list, update, delete', () => {
  async function create(name: string): Promise<number> {
    return (await api(emulator, 'POST', '/streaming/videos', { video: { name } })).body.id;
  }

  it('gets a video by id and answers 404 with a JSON message for an unknown one', async () => {
    const id = await create('findme');
    expect((await api(emulator, 'GET', `/streaming/videos/${id}`)).body).toMatchObject({
      id,
      name: 'findme',
    });
    const missing = await api(emulator, 'GET', '/streaming/videos/1');
    expect(missing.status).toBe(404);
    expect(typeof missing.body.message).toBe('string');
    expect((await api(emulator, 'GET', '/streaming/videos/abc')).status).toBe(404);
  });

  it('lists videos as a bare array, newest first, with search, status and paging', async () => {
    const ids = [await create('Alpha one'), await create('beta'), await create('alpha two')];
    const all = await api(emulator, 'GET', '/streaming/videos');
    expect(all.body.map((v: { id: number }) => v.id)).toEqual([...ids].reverse());

    const search = await api(emulator, 'GET', '/streaming/videos?search=ALPHA');
    expect(search.body.map((v: { name: string }) => v.name)).toEqual(['alpha two', 'Alpha one']);

    expect((await api(emulator, 'GET', '/streaming/videos?status=ready')).body).toEqual([]);
    expect((await api(emulator, 'GET', '/streaming/videos?status=empty')).body).toHaveLength(3);

    const page2 = await api(emulator, 'GET', '/streaming/videos?page=2&per_page=2');
    expect(page2.body.map((v: { id: number }) => v.id)).toEqual([ids[0]]);
  });

  it('searches by id, slug or name as Gcore documents (id={s} OR slug={s} OR name like {s})', async () => {
    const ids = [await create('Alpha one'), await create('beta'), await create('gamma')];
    const names = async (q: string) =>
      (await api(emulator, 'GET', `/streaming/videos?search=${encodeURIComponent(q)}`)).body.map(
        (v: { name: string }) => v.name,
      );
    expect(await names(String(ids[1]))).toEqual(['beta']);
    const slug = (await api(emulator, 'GET', `/streaming/videos/${ids[2]}`)).body.slug as string;
    expect(await names(slug)).toEqual(['gamma']);
    expect(await names('pha o')).toEqual(['Alpha one']);
    expect(await names('nothing')).toEqual([]);
  });

  it('reports auto_transcribe_audio_language "auto" unless told otherwise (OA default)', async () => {
    const id = await create('subtitled');
    expect((await api(emulator, 'GET', `/streaming/videos/${id}`)).body.auto_transcribe_audio_language).toBe(
      'auto',
    );
  });

  it('filters by id=1,2,3, keeps only documented fields=, and lists oldest first under listOrder', async () => {
    const ids = [await create('one'), await create('two'), await create('three')];
    const some = await api(emulator, 'GET', `/streaming/videos?id=${ids[2]},${ids[0]}`);
    expect(some.body.map((v: { id: number }) => v.id)).toEqual([ids[2], ids[0]]);

    const short = await api(emulator, 'GET', `/streaming/videos?id=${ids[1]}&fields=id,status,error,hls_url`);
    expect(short.body).toEqual([{ id: ids[1], status: 'empty', hls_url: null }]);

    emulator.setFaults({ listOrder: 'oldest' });
    const oldest = await api(emulator, 'GET', '/streaming/videos');
    expect(oldest.body.map((v: { id: number }) => v.id)).toEqual(ids);
    expect(emulator.requests().map((r) => r.query)).toEqual([
      { id: `${ids[2]},${ids[0]}` },
      { id: String(ids[1]), fields: 'id,status,error,hls_url' },
      {},
    ]);
  });

  it('updates flat fields and moves updated_at', async () => {
    const id = await create('before');
    now += 60_000;
    const res = await api(emulator, 'PATCH', `/streaming/videos/${id}`, { name: 'after', priority: 5 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'after', priority: 5, updated_at: '2030-06-01T12:01:00.000Z' });
    expect(res.body.created_at).toBe('2030-06-01T12:00:00.000Z');
    expect((await api(emulator, 'PATCH', `/streaming/videos/${id}`, { priority: 99 })).status).toBe(422);
    expect((await api(emulator, 'PATCH', `/streaming/videos/${id}`, { name: '' })).status).toBe(422);
  });

  it('ignores a wrapped update body, as Gcore takes only flat fields', async () => {
    const id = await create('kept');
    const res = await api(emulator, 'PATCH', `/streaming/videos/${id}`, { video: { name: 'lost' } });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('kept');
  });

  it('deletes with 204 and an empty body; the video is gone afterwards', async () => {
    const id = await create('doomed');
    const res = await fetch(`${emulator.url}/streaming/videos/${id}`, {
      method: 'DELETE',
      headers: { authorization: 'APIKey emulator-key' },
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect((await api(emulator, 'GET', `/streaming/videos/${id}`)).status).toBe(404);
    expect((await api(emulator, 'DELETE', `/streaming/videos/${id}`)).status).toBe(404);
    expect((await api(emulator, 'GET', `/streaming/videos/${id}/upload`)).status).toBe(404);
    expect((await api(emulator, 'GET', '/streaming/videos')).body).toEqual([]);
    expect(emulator.video(id)?.deleted).toBe(true);
  });
});

describe('upload parameters', () => {
  it('names the emulator itself as the upload server, without SSL, with a fresh JWT-shaped token', async () => {
    const id = (await api(emulator, 'POST', '/streaming/videos', { video: { name: 'up' } })).body.id;
    const first = await api(emulator, 'GET', `/streaming/videos/${id}/upload`);
    expect(first.status).toBe(200);
    expect(first.body.servers).toEqual([
      {
        id: expect.any(Number),
        role: 'upload',
        hostname: new URL(emulator.url).host,
        active: true,
        ssl: false,
      },
    ]);
    expect(first.body.token).toMatch(/^eyJhbGciOi[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(first.body.video).toMatchObject({ id, client_id: 321, name: 'up' });

    const claims = JSON.parse(Buffer.from(first.body.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ video_id: id, client_id: 321, exp: (now + 4 * 3_600_000) / 1_000 });

    now += 1_000;
    const second = await api(emulator, 'GET', `/streaming/videos/${id}/upload`);
    expect(second.body.token).not.toBe(first.body.token);
  });
});
