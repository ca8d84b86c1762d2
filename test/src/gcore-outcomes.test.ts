// What real Gcore does that our first picture of it missed: videos that stop short of `ready` for
// good or stop moving, a pulled import Gcore has already moved on when a lost create is retried,
// and upload servers without TLS. Emulator + relay + worker in-process, real Redis.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const STORAGE = 'The storage limit has been exceeded';

describe('processing that never reaches ready', () => {
  let tmp: string;
  let file: string;
  let stack: Stack | undefined;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'outcomes-'));
    file = path.join(tmp, 'clip.mp4');
    await writeVideoFile(file, 300_000, 7);
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it("fails a video stuck at viewable with an error, with Gcore's message, within a poll or two", async () => {
    stack = await startStack({ faults: { halfFailed: STORAGE } });
    const id = await stack.upload(file, { name: 'Half done' });
    const uploadedAt = Date.now();
    const job = await stack.waitForState(id, ['ready', 'failed'], 10_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'GCORE_PROCESSING_HALTED', retryable: false });
    expect(job.error!.message).toContain(STORAGE);
    expect(job.video).toMatchObject({ status: 'viewable', error: STORAGE });
    // The emulator stopped there for good: the worker did not wait for a `ready` that never comes.
    const video = stack.emulator.video(job.progress.video_id!)!;
    expect(video.status).toBe('viewable');
    // One 50 ms processing step to `viewable`, then polls 50 ms → 500 ms apart in the stack: a poll
    // or two, not the 24 h trackTimeoutMs.
    expect(Date.parse(job.updated_at) - uploadedAt).toBeLessThan(2_000);
  });

  it('counts the same video ready when COMPLETE_ON=viewable', async () => {
    stack = await startStack({ faults: { halfFailed: STORAGE }, worker: { completeOn: 'viewable' } });
    const id = await stack.upload(file, { name: 'Viewable is enough' });
    const job = await stack.waitForState(id, ['ready', 'failed'], 10_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    expect(job.video).toMatchObject({ status: 'viewable' });
  });

  it('fails a video that makes no progress for trackStallMs with PROCESSING_STALLED and what was seen', async () => {
    // One processing step an hour: the video sits at `pending`, every rendition at 0 %.
    stack = await startStack({
      faults: { processingStepMs: 3_600_000 },
      worker: { trackStallMs: 1_500 },
    });
    const started = Date.now();
    const id = await stack.upload(file, { name: 'Stuck' });
    const job = await stack.waitForState(id, ['ready', 'failed'], 15_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'PROCESSING_STALLED', retryable: true });
    expect(job.error!.message).toContain('status "pending"');
    expect(job.error!.message).toMatch(/vod360n processing 0 %/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  });

  it('does not call a video that keeps moving stalled', async () => {
    // Each step 1.2 s (a tick every 300 ms), longer than trackStallMs between status changes, but
    // the renditions' progress moves on every tick.
    stack = await startStack({ faults: { processingStepMs: 1_200 }, worker: { trackStallMs: 800 } });
    const id = await stack.upload(file, { name: 'Slow but moving' });
    const job = await stack.waitForState(id, ['ready', 'failed'], 15_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
  });
});

describe('a lost create answer for an import Gcore already pulled', () => {
  let tmp: string;
  let origin: Origin;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'adopt-'));
    await writeVideoFile(path.join(tmp, 'pulled.mp4'), 200_000, 3);
    origin = await startOrigin(async (req, res, p) => {
      if (p !== '/pulled.mp4') return void res.writeHead(404).end();
      await sendFile(req, res, path.join(tmp, p), 'video/mp4');
    });
    stack = await startStack({
      // Every create answer is lost; processing is slow, so the pulled video sits at `pending`.
      faults: { createDropEveryN: 1, processingStepMs: 120_000 },
      relay: { imports: { preflight: true, allowPrivate: true } },
      worker: { importAllowPrivate: true },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('adopts the pending video the lost call made instead of creating a duplicate', async () => {
    const res = await fetch(`${stack.relay.url}/api/imports`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.relay.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ origin_url: `${origin.url}/pulled.mp4`, name: 'Pulled once' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = await stack.waitForState(id, ['processing', 'ready', 'failed'], 20_000);
    expect([job.state, job.error]).toEqual(['processing', null]);
    const videos = stack.emulator.videos().filter((v) => v.name === 'Pulled once');
    expect(videos.map((v) => [v.id, v.status])).toEqual([[job.progress.video_id, 'pending']]);
    expect(stack.emulator.stats().videosCreated).toBe(1);
  });
});

describe('upload servers without TLS (ssl: false)', () => {
  let tmp: string;
  let file: string;
  let stack: Stack | undefined;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tls-'));
    file = path.join(tmp, 'clip.mp4');
    await writeVideoFile(file, 200_000, 9);
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('refuses them, sending no byte and no token, unless allowed', async () => {
    stack = await startStack({ worker: { allowInsecureUpload: false } });
    const id = await stack.upload(file, { name: 'Clear text' });
    const job = await stack.waitForState(id, ['ready', 'failed'], 10_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'GCORE_INSECURE_UPLOAD_SERVER', retryable: false });
    expect(job.error!.message).toContain('GCORE_ALLOW_INSECURE_UPLOAD');
    expect(stack.emulator.video(job.progress.video_id!)).toMatchObject({ status: 'empty', tusUploads: 0 });
  });

  it('uploads over plain http when allowed (the emulator, GCORE_ALLOW_INSECURE_UPLOAD=true)', async () => {
    stack = await startStack({ worker: { allowInsecureUpload: true } });
    const id = await stack.upload(file, { name: 'Loopback' });
    const job = await stack.waitForState(id, ['ready', 'failed'], 10_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
  });
});
