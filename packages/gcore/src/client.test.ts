import { startEmulator } from '@gtr/gcore-emulator';
import { GcoreClient, MAX_BATCH_SIZE } from './client.js';
import { chooseUploadEndpoint } from './endpoint.js';
import { GcoreApiError, GcoreError } from './errors.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

let emulator: Emulator;
let client: GcoreClient;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  client = new GcoreClient({ baseUrl: emulator.url, apiKey: emulator.apiKey });
});

afterEach(() => emulator.resetFaults());

afterAll(async () => {
  await emulator.close();
});

async function failure(promise: Promise<unknown>): Promise<GcoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GcoreError) return error;
    throw error;
  }
  throw new Error('expected a GcoreError, but the call succeeded');
}

describe('GcoreClient against the emulator', () => {
  it('creates a video from a wrapped body and reads the single object Gcore documents', async () => {
    const video = await client.createVideo({ name: 'object answer', description: 'from the docs' });
    expect(video).toMatchObject({ name: 'object answer', description: 'from the docs', status: 'empty' });
    expect(typeof video.id).toBe('number');
    expect(emulator.video(video.id)?.name).toBe('object answer');
  });

  it('accepts the array-of-one answer the OpenAPI file and SDKs describe', async () => {
    emulator.setFaults({ createResponse: 'array' });
    const video = await client.createVideo({ name: 'array answer' });
    expect(video.name).toBe('array answer');
    expect(emulator.video(video.id)?.name).toBe('array answer');
  });

  it('gets a video by id', async () => {
    const created = await client.createVideo({ name: 'get me' });
    const video = await client.getVideo(created.id);
    expect(video).toMatchObject({
      id: created.id,
      name: 'get me',
      slug: created.slug,
      client_id: created.client_id,
    });
  });

  it('lists videos as the bare array Gcore sends, with the query applied', async () => {
    const marker = `listed-${Date.now()}`;
    const created = await client.createVideo({ name: marker });
    const videos = await client.listVideos({ search: marker, page: 1, per_page: 10 });
    expect(Array.isArray(videos)).toBe(true);
    expect(videos.map((v) => v.id)).toContain(created.id);
  });

  it('updates a video with a flat body', async () => {
    const created = await client.createVideo({ name: 'before' });
    const video = await client.updateVideo(created.id, { name: 'after', description: 'changed' });
    expect(video).toMatchObject({ id: created.id, name: 'after', description: 'changed' });
    expect(emulator.video(created.id)?.name).toBe('after');
  });

  it('deletes a video, and reports a second delete as a 404 unless told to ignore it', async () => {
    const created = await client.createVideo({ name: 'doomed' });
    await expect(client.deleteVideo(created.id)).resolves.toBe(true);
    expect(emulator.video(created.id)?.deleted).toBe(true);

    const again = await failure(client.deleteVideo(created.id));
    expect(again).toBeInstanceOf(GcoreApiError);
    expect(again).toMatchObject({ status: 404, code: 'GCORE_NOT_FOUND', retryable: false });
    await expect(client.deleteVideo(created.id, { ignoreNotFound: true })).resolves.toBe(false);
  });

  it("sends Accept: */* on DELETE (as Gcore's SDK does) and application/json elsewhere", async () => {
    const seen: string[] = [];
    const recording = new GcoreClient({
      baseUrl: emulator.url,
      apiKey: emulator.apiKey,
      fetch: (input, init) => {
        seen.push(`${init?.method} ${new Headers(init?.headers).get('accept')}`);
        return globalThis.fetch(input, init);
      },
    });
    const created = await recording.createVideo({ name: 'accept header' });
    await recording.deleteVideo(created.id);
    expect(seen).toEqual(['POST application/json', 'DELETE */*']);
  });

  it('gets upload parameters whose server gives a plain-http TUS endpoint', async () => {
    const created = await client.createVideo({ name: 'upload me' });
    const params = await client.getUploadParams(created.id);
    expect(params.servers.length).toBeGreaterThan(0);
    expect(typeof params.token).toBe('string');
    expect(params.video.id).toBe(created.id);
    expect(chooseUploadEndpoint(params, { allowInsecure: true })).toMatch(/^http:\/\/[^/]+\/upload\/$/);
  });

  it('creates videos in a batch', async () => {
    const videos = await client.createVideosBatch([{ name: 'batch 1' }, { name: 'batch 2' }]);
    expect(videos.map((v) => v.name)).toEqual(['batch 1', 'batch 2']);
  });

  it('refuses a batch over the limit before sending anything', async () => {
    const before = emulator.stats().apiRequests;
    const tooMany = Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => ({ name: `v${i}` }));
    const error = await failure(client.createVideosBatch(tooMany));
    expect(error).toMatchObject({ code: 'GCORE_BATCH_SIZE', retryable: false });
    expect(error.message).toMatch(/500/);
    expect(emulator.stats().apiRequests).toBe(before);
  });

  it('calls beforeRequest before and onResponse after each request, with a low-cardinality route', async () => {
    const seen: string[] = [];
    const hooked = new GcoreClient({
      baseUrl: emulator.url,
      apiKey: emulator.apiKey,
      beforeRequest: async ({ method, route }) => {
        seen.push(`before ${method} ${route}`);
      },
      onResponse: ({ method, route, status, durationMs }) => {
        expect(durationMs).toBeGreaterThanOrEqual(0);
        seen.push(`after ${method} ${route} ${status}`);
      },
    });
    const created = await hooked.createVideo({ name: 'hooked' });
    await hooked.getVideo(created.id);
    expect(seen).toEqual([
      'before POST /streaming/videos',
      'after POST /streaming/videos 200',
      'before GET /streaming/videos/{id}',
      'after GET /streaming/videos/{id} 200',
    ]);
  });
});

describe('GcoreClient error classification against the emulator', () => {
  it('classifies a wrong API key as 401, not retryable, without echoing the key', async () => {
    const wrongKey = 'wrong_0123456789abcdef';
    const stranger = new GcoreClient({ baseUrl: emulator.url, apiKey: wrongKey });
    const error = await failure(stranger.getVideo(1));
    expect(error).toBeInstanceOf(GcoreApiError);
    expect(error).toMatchObject({ status: 401, code: 'GCORE_UNAUTHORIZED', retryable: false });
    expect(error.message).toMatch(/API key/);
    expect(JSON.stringify(error) + error.message + error.stack).not.toContain(wrongKey);
  });

  it('classifies an unknown video as 404, not retryable', async () => {
    const error = await failure(client.getVideo(1));
    expect(error).toMatchObject({ status: 404, code: 'GCORE_NOT_FOUND', retryable: false });
  });

  it("classifies validation failures as 422 and lists Gcore's field messages", async () => {
    const error = await failure(client.createVideo({ name: '' }));
    expect(error).toBeInstanceOf(GcoreApiError);
    expect(error).toMatchObject({ status: 422, code: 'GCORE_VALIDATION_FAILED', retryable: false });
    expect((error as GcoreApiError).fieldErrors?.['name']?.length).toBeGreaterThan(0);
    expect(error.message).toMatch(/name: /);
  });

  it.each([
    ['seconds', 2000, 2000],
    ['ms', 2500, 2500],
    ['http-date', 2000, undefined],
  ] as const)('reads a 429 wait given as Retry-After %s', async (form, waitMs, expected) => {
    emulator.setFaults({ api429EveryN: 1, retryAfter: form, retryAfterMs: waitMs });
    const error = await failure(client.getVideo(1));
    expect(error).toMatchObject({ status: 429, code: 'GCORE_RATE_LIMITED', retryable: true });
    if (expected !== undefined) expect(error.retryAfterMs).toBe(expected);
    // An HTTP date has whole seconds and was rounded up by the server.
    else expect(error.retryAfterMs).toEqual(expect.any(Number));
    if (expected === undefined) {
      expect(error.retryAfterMs).toBeGreaterThanOrEqual(waitMs - 1000);
      expect(error.retryAfterMs).toBeLessThanOrEqual(waitMs + 1000);
    }
  });

  it('leaves retryAfterMs unset when a 429 does not say how long to wait', async () => {
    emulator.setFaults({ api429EveryN: 1, retryAfter: 'none' });
    const error = await failure(client.getVideo(1));
    expect(error).toMatchObject({ status: 429, retryable: true });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('classifies a 5xx as retryable', async () => {
    emulator.setFaults({ api5xxEveryN: 1 });
    const error = await failure(client.getVideo(1));
    expect(error).toMatchObject({ code: 'GCORE_SERVER_ERROR', retryable: true });
    expect(error.status).toBeGreaterThanOrEqual(500);
  });
});
