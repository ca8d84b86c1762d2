import { type Emulator, startEmulator } from './emulator.js';
import {
  type ApiAnswer,
  api,
  createForUpload,
  encodeMetadata,
  endpointOf,
  metadataOf,
} from './test-support.js';

let emulator: Emulator;

beforeEach(async () => {
  emulator = await startEmulator({ faults: { processingStepMs: 30 } });
});
afterEach(async () => {
  await emulator.close();
});

async function control(method: string, path: string, body?: unknown): Promise<Omit<ApiAnswer, 'headers'>> {
  const res = await fetch(`${emulator.url}/__emulator${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

describe('control endpoints (no Gcore auth)', () => {
  it('reads, merges and resets the faults', async () => {
    expect((await control('GET', '/faults')).body).toMatchObject({ apiRateLimit: 0, processingStepMs: 30 });
    const merged = await control('POST', '/faults', { api5xxEveryN: 1, retryAfter: 'http-date' });
    expect(merged.body).toMatchObject({ api5xxEveryN: 1, retryAfter: 'http-date', processingStepMs: 30 });
    expect((await api(emulator, 'GET', '/streaming/videos')).status).toBe(503);
    const reset = await control('DELETE', '/faults');
    expect(reset.body).toMatchObject({ api5xxEveryN: 0, retryAfter: 'seconds', processingStepMs: 30 });
    expect((await api(emulator, 'GET', '/streaming/videos')).status).toBe(200);
  });

  it('answers 400 naming the problem for a bad fault', async () => {
    const res = await control('POST', '/faults', { apiRateLimit: 'lots' });
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([expect.stringMatching(/^apiRateLimit: /)]);
    expect(emulator.faults().apiRateLimit).toBe(0);
  });

  it('shows the stats and the videos, and resets the stats', async () => {
    const params = await createForUpload(emulator, 'seen');
    const stats = await control('GET', '/stats');
    expect(stats.body).toMatchObject({ apiRequests: 2, videosCreated: 1, api429s: 0, peakApiRps: 2 });

    const videos = await control('GET', '/videos');
    expect(videos.body).toEqual([
      expect.objectContaining({ id: params.video.id, name: 'seen', status: 'empty' }),
    ]);
    const one = await control('GET', `/videos/${params.video.id}`);
    expect(one.body).toMatchObject({
      id: params.video.id,
      tusUploads: 0,
      sha256: null,
      statusHistory: ['empty'],
    });
    expect((await control('GET', '/videos/1')).status).toBe(404);

    const reset = await control('POST', '/reset');
    expect(reset.body.stats).toMatchObject({ apiRequests: 0, videosCreated: 0, peakApiRps: 0 });
    expect((await control('GET', '/videos')).body).toHaveLength(1);
  });

  it('advances the clock so that a token expires', async () => {
    const params = await createForUpload(emulator);
    const before = (await control('GET', '/clock')).body.now;
    const moved = await control('POST', '/clock', { advanceMs: 5 * 3_600_000 });
    expect(Date.parse(moved.body.now) - Date.parse(before)).toBeGreaterThanOrEqual(5 * 3_600_000);
    const res = await fetch(endpointOf(params), {
      method: 'POST',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': '5',
        'upload-metadata': encodeMetadata(metadataOf(params)),
      },
    });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(`Error: token invalid (${params.token.slice(0, 10)}...)`);
    expect((await control('POST', '/clock', { advanceMs: 'soon' })).status).toBe(400);
  });
});
