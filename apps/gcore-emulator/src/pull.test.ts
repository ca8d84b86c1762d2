import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Emulator, startEmulator } from './emulator.js';
import { api, type Scratch, scratch, waitFor } from './test-support.js';

let emulator: Emulator;
let files: Scratch;
let origin: Server;
let originUrl: string;
/** What the origin answers, per request, in order; the last entry repeats. */
let script: (number | 'file')[];
let requests: { url: string; authorization: string | undefined }[];
let servedFile: { path: string; size: number; sha256: string };

beforeAll(async () => {
  files = await scratch();
  servedFile = await files.video('origin.mp4', 700_000, 7);
  origin = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const step = script.length > 1 ? script.shift() : script[0];
    if (step === 'file') createReadStream(servedFile.path).pipe(res);
    else res.writeHead(step ?? 500).end('no');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => origin.close(resolve));
  await files.cleanup();
});
beforeEach(async () => {
  requests = [];
  emulator = await startEmulator({ faults: { processingStepMs: 20 } });
});
afterEach(async () => {
  await emulator.close();
});

async function createWithOrigin(url: string, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await api(emulator, 'POST', '/streaming/videos', {
    video: { name: 'pulled', origin_url: url, ...extra },
  });
  expect(res.status).toBe(200);
  expect(res.body.origin_url).toBe(url);
  return res.body.id;
}

describe('origin_url pulls', () => {
  it('downloads the origin, checks it and processes it to ready', async () => {
    script = ['file'];
    const id = await createWithOrigin(`${originUrl}/demo/gcore.mp4`, {
      origin_http_headers: 'Authorization: Bearer secret',
    });
    await waitFor(() => emulator.video(id)?.status === 'ready');
    expect(emulator.video(id)).toMatchObject({
      sha256: servedFile.sha256,
      bytesReceived: servedFile.size,
      pullAttempts: 1,
      statusHistory: ['empty', 'pending', 'viewable', 'ready'],
    });
    expect(requests).toEqual([{ url: '/demo/gcore.mp4', authorization: 'Bearer secret' }]);
    expect((await api(emulator, 'GET', `/streaming/videos/${id}`)).body.origin_size).toBe(servedFile.size);
  });

  it('sends only the one documented Authorization header: other shapes send nothing', async () => {
    script = ['file', 'file'];
    const a = await createWithOrigin(`${originUrl}/a.mp4`, {
      origin_http_headers: 'Authorization: Bearer secret\nX-Other: 1',
    });
    await waitFor(() => emulator.video(a)?.status === 'ready');
    const b = await createWithOrigin(`${originUrl}/b.mp4`, { origin_http_headers: 'X-Api-Key: k' });
    await waitFor(() => emulator.video(b)?.status === 'ready');
    expect(requests).toEqual([{ url: '/a.mp4' }, { url: '/b.mp4' }]);
  });

  it('tries again when the origin does not answer 200, up to three times', async () => {
    script = [503, 'file'];
    const id = await createWithOrigin(`${originUrl}/flaky.mp4`);
    await waitFor(() => emulator.video(id)?.status === 'ready');
    expect(emulator.video(id)?.pullAttempts).toBe(2);
  });

  it('leaves the video empty with an error after three failed tries', async () => {
    script = [404];
    const id = await createWithOrigin(`${originUrl}/missing.mp4`);
    await waitFor(() => emulator.video(id)?.error);
    expect(emulator.video(id)).toMatchObject({
      status: 'empty',
      error: 'The requested origin was not found',
      pullAttempts: 3,
      statusHistory: ['empty'],
    });
    expect(requests).toHaveLength(3);
  });

  it('names the HTTP status when the origin keeps failing otherwise', async () => {
    script = [403];
    const id = await createWithOrigin(`${originUrl}/private.mp4`);
    await waitFor(() => emulator.video(id)?.error);
    expect(emulator.video(id)?.error).toBe('The requested origin answered 403 Forbidden');
  });

  it('counts an unreachable origin as not found', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const id = await createWithOrigin(`http://127.0.0.1:${port}/gone.mp4`);
    await waitFor(() => emulator.video(id)?.error);
    expect(emulator.video(id)).toMatchObject({
      error: 'The requested origin was not found',
      pullAttempts: 3,
    });
  });

  it('pulls each video of a batch', async () => {
    script = ['file'];
    const res = await api(emulator, 'POST', '/streaming/videos/batch', {
      videos: [
        { name: 'a', origin_url: `${originUrl}/a.mp4` },
        { name: 'b', origin_url: `${originUrl}/b.mp4` },
      ],
    });
    const ids: number[] = res.body.map((v: { id: number }) => v.id);
    await waitFor(() => ids.every((id) => emulator.video(id)?.status === 'ready'));
  });
});
