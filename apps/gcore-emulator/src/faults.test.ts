import { type Emulator, startEmulator } from './emulator.js';
import { type Faults, FaultsError, parseFaults } from './faults.js';
import {
  api,
  createForUpload,
  encodeMetadata,
  endpointOf,
  metadataOf,
  type Scratch,
  scratch,
  tusFailure,
  tusUpload,
  type UploadParams,
  waitFor,
} from './test-support.js';

let emulator: Emulator;
let files: Scratch;
let now: number;

beforeAll(async () => {
  files = await scratch();
});
afterAll(async () => {
  await files.cleanup();
});
beforeEach(async () => {
  now = Date.UTC(2030, 0, 1);
  emulator = await startEmulator({ clock: () => now, faults: { processingStepMs: 20 } });
});
afterEach(async () => {
  await emulator.close();
});

const TUS = { 'tus-resumable': '1.0.0' };

/** Creates a TUS upload of `size` bytes by hand; returns its URL. */
async function createUpload(params: UploadParams, size: number): Promise<string> {
  const res = await fetch(endpointOf(params), {
    method: 'POST',
    headers: { ...TUS, 'upload-length': String(size), 'upload-metadata': encodeMetadata(metadataOf(params)) },
  });
  expect(res.status).toBe(201);
  return res.headers.get('location') as string;
}

function patch(url: string, offset: number, body: Uint8Array, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body,
    ...(signal ? { signal } : {}),
  });
}

async function offsetOf(url: string): Promise<number> {
  const res = await fetch(url, { method: 'HEAD', headers: TUS });
  return Number(res.headers.get('upload-offset'));
}

describe('API faults', () => {
  it.each([
    ['seconds', 'retry-after', /^2$/],
    ['http-date', 'retry-after', /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/],
    ['ms', 'retry-after-ms', /^1500$/],
  ] as const)('advertises the wait of a 429 as %s', async (form, header, value) => {
    emulator.setFaults({ api429EveryN: 1, retryAfter: form, retryAfterMs: 1_500 });
    const res = await api(emulator, 'GET', '/streaming/videos');
    expect(res.status).toBe(429);
    expect(res.headers.get(header)).toMatch(value);
    expect(res.body.message).toMatch(/throttled/);
  });

  it('sends a 429 without any wait header when retryAfter is none', async () => {
    emulator.setFaults({ api429EveryN: 1, retryAfter: 'none' });
    const res = await api(emulator, 'GET', '/streaming/videos');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.headers.get('retry-after-ms')).toBeNull();
  });

  it('answers every Nth API request with 429 or 503', async () => {
    emulator.setFaults({ api429EveryN: 3, api5xxEveryN: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await api(emulator, 'GET', '/streaming/videos')).status);
    expect(statuses).toEqual([200, 503, 429, 503, 200, 429]);
    expect(emulator.stats()).toMatchObject({ apiRequests: 6, api429s: 2, api5xxs: 2 });
  });

  it('rate-limits the API per second, advertising when a slot frees, and records the peak rate', async () => {
    emulator.setFaults({ apiRateLimit: 3 });
    const first = await Promise.all(
      Array.from({ length: 5 }, () => api(emulator, 'GET', '/streaming/videos')),
    );
    expect(first.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
    expect(first.find((r) => r.status === 429)?.headers.get('retry-after')).toBe('1');

    now += 400;
    expect((await api(emulator, 'GET', '/streaming/videos')).status).toBe(429);
    emulator.setFaults({ retryAfter: 'ms' });
    expect((await api(emulator, 'GET', '/streaming/videos')).headers.get('retry-after-ms')).toBe('600');

    now += 600;
    expect((await api(emulator, 'GET', '/streaming/videos')).status).toBe(200);
    expect(emulator.stats()).toMatchObject({ apiRequests: 8, api429s: 4, peakApiRps: 7 });
  });

  it('keeps the control endpoints and TUS out of the API faults', async () => {
    emulator.setFaults({ api5xxEveryN: 1 });
    expect((await fetch(`${emulator.url}/__emulator/stats`)).status).toBe(200);
    expect((await fetch(`${emulator.url}/upload/`, { method: 'OPTIONS' })).status).toBe(204);
    expect(emulator.stats().apiRequests).toBe(0);
  });
});

describe('PATCH faults', () => {
  it.each([
    ['seconds', 'retry-after', '2'],
    ['ms', 'retry-after-ms', '2000'],
  ] as const)(
    'answers every Nth PATCH with 429 (%s) and leaves the offset alone',
    async (form, header, value) => {
      emulator.setFaults({ patch429EveryN: 2, retryAfter: form, retryAfterMs: 2_000 });
      const url = await createUpload(await createForUpload(emulator), 200);
      expect((await patch(url, 0, new Uint8Array(100))).status).toBe(204);
      const refused = await patch(url, 100, new Uint8Array(100));
      expect(refused.status).toBe(429);
      expect(refused.headers.get(header)).toBe(value);
      expect(await offsetOf(url)).toBe(100);
      expect(emulator.stats()).toMatchObject({ patches: 2, patch429s: 1 });
    },
  );

  it('answers every Nth PATCH with 503, and tus-js-client retries through it', async () => {
    emulator.setFaults({ patch5xxEveryN: 2 });
    const file = await files.video('five.mp4', 1_000_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, {
      endpoint: endpointOf(params),
      metadata: metadataOf(params),
      retryDelays: [0, 0, 0],
    });
    const video = emulator.video(params.video.id);
    expect(video?.sha256).toBe(file.sha256);
    expect(emulator.stats().patch5xxs).toBeGreaterThanOrEqual(2);
    expect(video?.patches).toBe(4 + emulator.stats().patch5xxs);
  });

  it('lets a client that retries 429s (as Gcore’s example does) finish the upload', async () => {
    emulator.setFaults({ patch429EveryN: 2, retryAfterMs: 0 });
    const file = await files.video('four29.mp4', 600_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, {
      endpoint: endpointOf(params),
      metadata: metadataOf(params),
      retryDelays: [0, 0, 0],
      onShouldRetry: () => true,
    });
    expect(emulator.video(params.video.id)?.sha256).toBe(file.sha256);
    expect(emulator.stats().patch429s).toBeGreaterThanOrEqual(1);
  });

  it('a plain tus-js-client gives up on a 429, as it does for any 4xx', async () => {
    emulator.setFaults({ patch429EveryN: 1 });
    const file = await files.video('giveup.mp4', 100_000);
    const params = await createForUpload(emulator);
    const error = await tusUpload(file, {
      endpoint: endpointOf(params),
      metadata: metadataOf(params),
      retryDelays: [0],
    }).catch((e: unknown) => e);
    expect(tusFailure(error).status).toBe(429);
  });

  it('drops the connection mid-PATCH after storing part of the body; HEAD shows the partial offset', async () => {
    emulator.setFaults({ patchDropEveryN: 1 });
    const url = await createUpload(await createForUpload(emulator), 200_000);
    await expect(patch(url, 0, new Uint8Array(100_000))).rejects.toThrow();
    expect(await offsetOf(url)).toBe(50_000);
    expect(emulator.stats().patchDrops).toBe(1);
  });

  it('tus-js-client resumes through dropped PATCHes and the file arrives intact', async () => {
    emulator.setFaults({ patchDropEveryN: 2 });
    const file = await files.video('drops.mp4', 1_000_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, {
      endpoint: endpointOf(params),
      metadata: metadataOf(params),
      retryDelays: [0, 0, 0, 0, 0, 0],
    });
    const video = await waitFor(() => emulator.video(params.video.id));
    expect(video.sha256).toBe(file.sha256);
    expect(emulator.stats().patchDrops).toBeGreaterThanOrEqual(2);
    // Bytes of the dropped halves that landed are not sent again; the cut-off rest is.
    expect(video.bytesPatched).toBe(file.size);
    expect(video.patches).toBeGreaterThan(Math.ceil(file.size / (256 * 1024)));
  });

  it('counts the PATCH body bytes it takes, those of a dropped PATCH included', async () => {
    emulator.setFaults({ patchDropEveryN: 2 });
    const url = await createUpload(await createForUpload(emulator), 300_000);
    expect((await patch(url, 0, new Uint8Array(100_000))).status).toBe(204);
    await expect(patch(url, 100_000, new Uint8Array(100_000))).rejects.toThrow();
    emulator.setFaults({ patchDropEveryN: 0 });
    expect((await patch(url, 0, new Uint8Array(10))).status).toBe(409);
    expect((await patch(url, 150_000, new Uint8Array(150_000))).status).toBe(204);
    expect(emulator.videos()[0]).toMatchObject({ patches: 4, bytesPatched: 300_000, bytesReceived: 300_000 });
  });

  it('stalls every Nth PATCH: nothing read, no answer, the offset unchanged', async () => {
    emulator.setFaults({ patchStallEveryN: 1 });
    const url = await createUpload(await createForUpload(emulator), 1_000);
    const stalled = await patch(url, 0, new Uint8Array(1_000), AbortSignal.timeout(300)).then(
      (res) => res.status,
      (e: Error) => e.name,
    );
    expect(stalled).toBe('TimeoutError');
    expect(await offsetOf(url)).toBe(0);
    expect(emulator.stats().patchStalls).toBe(1);
    emulator.setFaults({ patchStallEveryN: 0 });
    expect((await patch(url, 0, new Uint8Array(1_000))).status).toBe(204);
  });

  it('caps the bandwidth of PATCH bodies', async () => {
    const file = await files.video('slow.mp4', 400_000);
    const params = await createForUpload(emulator);
    emulator.setFaults({ bandwidthBytesPerSec: 500_000 });
    const started = performance.now();
    await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    // 400 kB at 500 kB/s: at least 0.8 s (minus the first piece, which passes at once).
    expect(performance.now() - started).toBeGreaterThan(700);
    expect(emulator.video(params.video.id)?.sha256).toBe(file.sha256);
  });
});

describe('fault switches', () => {
  it('start from the options, merge on set and return to the start-up ones on reset', () => {
    expect(emulator.faults()).toMatchObject({ processingStepMs: 20, apiRateLimit: 0, retryAfter: 'seconds' });
    emulator.setFaults({ apiRateLimit: 4 });
    emulator.setFaults({ retryAfter: 'none' });
    expect(emulator.faults()).toMatchObject({ processingStepMs: 20, apiRateLimit: 4, retryAfter: 'none' });
    emulator.resetFaults();
    expect(emulator.faults()).toMatchObject({ processingStepMs: 20, apiRateLimit: 0, retryAfter: 'seconds' });
  });

  it('refuse unknown switches and bad values, naming each', () => {
    let error: unknown;
    try {
      parseFaults({
        apiRateLimit: -1,
        retryAfter: 'soon',
        bogus: 1,
        processingError: 3,
      } as unknown as Faults);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FaultsError);
    expect((error as FaultsError).problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'apiRateLimit',
      'bogus',
      'processingError',
      'retryAfter',
    ]);
  });
});
