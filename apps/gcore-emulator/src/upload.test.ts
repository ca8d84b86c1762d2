import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Emulator, startEmulator } from './emulator.js';
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
  waitFor,
} from './test-support.js';

let emulator: Emulator;
let files: Scratch;

beforeAll(async () => {
  files = await scratch();
});
afterAll(async () => {
  await files.cleanup();
});
beforeEach(async () => {
  emulator = await startEmulator({ faults: { processingStepMs: 40 } });
});
afterEach(async () => {
  await emulator.close();
});

describe('TUS upload', () => {
  it('takes a file in chunks and moves the video empty → pending → viewable → ready', async () => {
    const file = await files.video('full.mp4', 1_500_000);
    const params = await createForUpload(emulator);
    const location = await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    expect(location).toMatch(new RegExp(`^${emulator.url}/upload/[^/]+$`));

    const id = params.video.id;
    expect(emulator.video(id)?.status).toBe('pending');
    await waitFor(() => emulator.video(id)?.status === 'ready');
    const video = emulator.video(id);
    expect(video?.statusHistory).toEqual(['empty', 'pending', 'viewable', 'ready']);
    expect(video?.sha256).toBe(file.sha256);
    expect(video?.bytesReceived).toBe(file.size);
    expect(video?.tusUploads).toBe(1);
    expect(video?.patches).toBe(Math.ceil(file.size / (256 * 1024)));
    expect(video?.bytesPatched).toBe(file.size);

    const { body } = await api(emulator, 'GET', `/streaming/videos/${id}`);
    expect(body.status).toBe('ready');
    expect(body.origin_size).toBe(file.size);
    expect(body.hls_url).toBe(`https://cdn.gcore-emulator.invalid/videos/100_${body.slug}/master.m3u8`);
    expect(body.converted_videos.length).toBeGreaterThan(0);
    for (const rendition of body.converted_videos) {
      expect(rendition).toMatchObject({ progress: 100, status: 'complete' });
    }
  });

  it('shows converted_videos progressing while the video is processed', async () => {
    emulator.setFaults({ processingStepMs: 400 });
    const file = await files.video('progress.mp4', 300_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    const seen: number[] = [];
    for (;;) {
      const { body } = await api(emulator, 'GET', `/streaming/videos/${params.video.id}`);
      seen.push(body.converted_videos[0]?.progress ?? -1);
      if (body.status === 'viewable') expect(body.hls_url).toMatch(/master\.m3u8$/);
      if (body.status === 'ready') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen.some((p) => p > 0 && p < 100)).toBe(true);
  });

  it('accepts the endpoint without the trailing slash too', async () => {
    const file = await files.video('noslash.mp4', 200_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, { endpoint: endpointOf(params, false), metadata: metadataOf(params) });
    expect(emulator.video(params.video.id)?.sha256).toBe(file.sha256);
  });

  it('answers POST with exactly 201 and a Location that works over plain HTTP', async () => {
    const params = await createForUpload(emulator);
    const res = await fetch(endpointOf(params), {
      method: 'POST',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': '10',
        'upload-metadata': encodeMetadata(metadataOf(params)),
      },
    });
    expect(res.status).toBe(201);
    const location = res.headers.get('location') as string;
    expect(location.startsWith(`${emulator.url}/upload/`)).toBe(true);
    const head = await fetch(location, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('0');
  });

  it('leaves a non-video file empty with error "File Invalid"', async () => {
    const path = join(files.dir, 'notes.txt');
    await writeFile(path, 'these are not the frames you are looking for\n'.repeat(2_000));
    const size = 'these are not the frames you are looking for\n'.length * 2_000;
    const params = await createForUpload(emulator);
    await tusUpload(
      { path, size },
      { endpoint: endpointOf(params), metadata: metadataOf(params, 'notes.mp4') },
    );
    await new Promise((r) => setTimeout(r, 150));
    const video = emulator.video(params.video.id);
    expect(video?.status).toBe('empty');
    expect(video?.error).toBe('File Invalid');
    expect(video?.statusHistory).toEqual(['empty']);
    const { body } = await api(emulator, 'GET', `/streaming/videos/${params.video.id}`);
    expect(body).toMatchObject({
      status: 'empty',
      error: 'File Invalid',
      converted_videos: [],
      hls_url: null,
    });
  });

  it('ends in status error when processing fails', async () => {
    emulator.setFaults({ processingError: 'Transcoding failed' });
    const file = await files.video('fails.mp4', 200_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    await waitFor(() => emulator.video(params.video.id)?.status === 'error');
    expect(emulator.video(params.video.id)).toMatchObject({
      error: 'Transcoding failed',
      statusHistory: ['empty', 'pending', 'error'],
    });
  });

  it('stops for good at viewable with an error and one rendition in error (halfFailed)', async () => {
    emulator.setFaults({ halfFailed: 'The storage limit has been exceeded' });
    const file = await files.video('half.mp4', 200_000);
    const params = await createForUpload(emulator);
    await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    await waitFor(() => emulator.video(params.video.id)?.status === 'viewable');
    // Several processing steps later it is still there.
    await new Promise((r) => setTimeout(r, 5 * emulator.faults().processingStepMs));
    const { body } = await api(emulator, 'GET', `/streaming/videos/${params.video.id}`);
    const video = body as { status: string; error: string; converted_videos: { status: string }[] };
    expect(video).toMatchObject({ status: 'viewable', error: 'The storage limit has been exceeded' });
    expect(video.converted_videos.map((r) => r.status)).toEqual(['complete', 'complete', 'error']);
    expect(emulator.video(params.video.id)?.statusHistory).toEqual(['empty', 'pending', 'viewable']);
  });
});

describe('TUS creation errors (Gcore documents these texts)', () => {
  const file = { path: '', size: 0 };
  beforeAll(async () => {
    Object.assign(file, await files.video('small.mp4', 50_000));
  });

  async function failure(metadata: Record<string, string>, params: { endpoint: string }) {
    const error = await tusUpload(file, { endpoint: params.endpoint, metadata }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    return tusFailure(error);
  }

  it('answers 500 "Error: token invalid (null)" without a token', async () => {
    const params = await createForUpload(emulator);
    const { token: _, ...metadata } = metadataOf(params);
    expect(await failure(metadata, { endpoint: endpointOf(params) })).toEqual({
      status: 500,
      body: 'Error: token invalid (null)',
    });
  });

  it('answers 500 "Error: token invalid (null)" when the metadata is garbled', async () => {
    const params = await createForUpload(emulator);
    const res = await fetch(endpointOf(params), {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'token !!!,video_id' },
    });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('Error: token invalid (null)');
  });

  it('answers 500 "Error: token invalid (<10 chars>...)" for a tampered token', async () => {
    const params = await createForUpload(emulator);
    const tampered = `${params.token.slice(0, -2)}xx`;
    expect(
      await failure({ ...metadataOf(params), token: tampered }, { endpoint: endpointOf(params) }),
    ).toEqual({
      status: 500,
      body: 'Error: token invalid (eyJhbGciOi...)',
    });
  });

  it('answers 500 "Error: token invalid (...)" once the 4-hour token has expired', async () => {
    const params = await createForUpload(emulator);
    emulator.advanceClock(4 * 3_600_000 + 1);
    expect(await failure(metadataOf(params), { endpoint: endpointOf(params) })).toEqual({
      status: 500,
      body: `Error: token invalid (${params.token.slice(0, 10)}...)`,
    });
  });

  it('accepts a token just before its 4 hours are up', async () => {
    const params = await createForUpload(emulator);
    emulator.advanceClock(4 * 3_600_000 - 1_000);
    await expect(
      tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) }),
    ).resolves.toMatch(/\/upload\//);
  });

  it('honours a shorter tokenTtlMs', async () => {
    emulator.setFaults({ tokenTtlMs: 1_000 });
    const params = await createForUpload(emulator);
    emulator.advanceClock(1_001);
    expect((await failure(metadataOf(params), { endpoint: endpointOf(params) })).body).toBe(
      'Error: token invalid (eyJhbGciOi...)',
    );
  });

  it('answers 500 "Error: token video (A) does not match this video (B)"', async () => {
    const params = await createForUpload(emulator);
    const other = await createForUpload(emulator, 'other');
    const metadata = { ...metadataOf(params), video_id: String(other.video.id) };
    expect(await failure(metadata, { endpoint: endpointOf(params) })).toEqual({
      status: 500,
      body: `Error: token video (${params.video.id}) does not match this video (${other.video.id})`,
    });
  });

  it('answers 500 "Error: token client (A) does not match this client (B)"', async () => {
    const params = await createForUpload(emulator);
    const metadata = { ...metadataOf(params), client_id: '234' };
    expect(await failure(metadata, { endpoint: endpointOf(params) })).toEqual({
      status: 500,
      body: 'Error: token client (100) does not match this client (234)',
    });
  });

  it('answers 405 for a deleted video', async () => {
    const params = await createForUpload(emulator);
    expect((await api(emulator, 'DELETE', `/streaming/videos/${params.video.id}`)).status).toBe(204);
    const { status } = await failure(metadataOf(params), { endpoint: endpointOf(params) });
    expect(status).toBe(405);
  });

  it('answers 405 to a creation without Upload-Length', async () => {
    const params = await createForUpload(emulator);
    const metadata = encodeMetadata(metadataOf(params));
    for (const lengthHeader of [{}, { 'upload-defer-length': '1' }]) {
      const res = await fetch(endpointOf(params), {
        method: 'POST',
        headers: { 'tus-resumable': '1.0.0', 'upload-metadata': metadata, ...lengthHeader },
      });
      expect(res.status).toBe(405);
    }
    expect(emulator.video(params.video.id)?.tusUploads).toBe(0);
  });
});
