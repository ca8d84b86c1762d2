import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Emulator, startEmulator } from './emulator.js';
import {
  api,
  createForUpload,
  endpointOf,
  metadataOf,
  type Scratch,
  scratch,
  tusUpload,
  waitFor,
} from './test-support.js';

let receiver: Server;
let receiverUrl: string;
// biome-ignore lint/suspicious/noExplicitAny: webhook bodies are checked field by field
let received: any[];
let files: Scratch;

beforeAll(async () => {
  files = await scratch();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ contentType: req.headers['content-type'], ...JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await files.cleanup();
});
beforeEach(() => {
  received = [];
});

describe('webhooks', () => {
  let emulator: Emulator;
  afterEach(async () => {
    await emulator.close();
  });

  it('posts every status change and the deletion in Gcore’s format', async () => {
    emulator = await startEmulator({ webhookUrl: receiverUrl, faults: { processingStepMs: 20 } });
    const file = await files.video('hook.mp4', 100_000);
    const params = await createForUpload(emulator, 'hooked');
    await tusUpload(file, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    await waitFor(() => received.some((w) => w.message.video.status === 'ready'));
    expect((await api(emulator, 'DELETE', `/streaming/videos/${params.video.id}`)).status).toBe(204);
    await waitFor(() => received.some((w) => w.type === 'video_delete'));

    expect(received.map((w) => `${w.type}:${w.message.video.status}`)).toEqual([
      'video:empty',
      'video:pending',
      'video:viewable',
      'video:ready',
      'video_delete:ready',
    ]);
    const ready = received[3];
    expect(ready.contentType).toBe('application/json');
    expect(Object.keys(ready.message.video).sort()).toEqual(
      ['converted_videos', 'duration', 'id', 'name', 'slug', 'status', 'stream_id'].sort(),
    );
    expect(ready.message.video).toMatchObject({ id: params.video.id, name: 'hooked', stream_id: null });
    expect(received[4].message.video).toMatchObject({ id: params.video.id, deleted_at: expect.any(String) });
    expect(emulator.stats().webhooksSent).toBe(5);
  });

  it('tells of an error too (File Invalid keeps the status empty)', async () => {
    emulator = await startEmulator({ webhookUrl: receiverUrl });
    const params = await createForUpload(emulator);
    const path = `${files.dir}/junk.bin`;
    await (await import('node:fs/promises')).writeFile(path, Buffer.alloc(1_000, 7));
    await tusUpload({ path, size: 1_000 }, { endpoint: endpointOf(params), metadata: metadataOf(params) });
    await waitFor(() => received.length === 2);
    expect(received.map((w) => w.message.video.status)).toEqual(['empty', 'empty']);
  });

  it('sends once and carries on when the receiver is down', async () => {
    emulator = await startEmulator({ webhookUrl: 'http://127.0.0.1:9/unreachable' });
    expect((await api(emulator, 'POST', '/streaming/videos', { name: 'x' })).status).toBe(200);
    await waitFor(() => emulator.stats().webhooksSent === 1);
    expect((await api(emulator, 'GET', '/streaming/videos')).status).toBe(200);
  });
});
