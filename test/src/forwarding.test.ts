import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sha256File, waitFor, writeVideoFile } from '@gtr/core/testing';
import { signTimestamped } from '@gtr/worker';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

describe('forwarding uploads to Gcore', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'forward-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  it('turns three uploads into three ready videos with the right names and bytes', async () => {
    stack = await startStack();
    const files = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const file = path.join(tmp, `clip-${n}.mp4`);
        const { sha256 } = await writeVideoFile(file, (2 + n) * MB, n);
        return { file, sha256, n };
      }),
    );
    const ids = await Promise.all(
      files.map(({ file, n }) => stack.upload(file, { name: `Clip ${n}`, description: `number ${n}` })),
    );
    const jobs = await Promise.all(ids.map((id) => stack.waitForState(id, ['ready', 'failed'])));
    for (const [i, job] of jobs.entries()) {
      expect(job.state).toBe('ready');
      expect(job.bytes_forwarded).toBe((3 + i) * MB);
      const video = stack.emulator.video(job.video!.id)!;
      expect(video).toMatchObject({ name: `Clip ${i + 1}`, description: `number ${i + 1}`, status: 'ready' });
      expect(video.sha256).toBe(files[i]!.sha256);
      expect(job.video).toMatchObject({ status: 'ready', hls_url: expect.stringContaining('master.m3u8') });
    }
    expect(stack.emulator.videos().filter((v) => !v.deleted)).toHaveLength(3);
    // Forwarded and ready: the local copies are gone.
    expect(await fs.readdir(stack.relay.relay.uploadDir)).toEqual([]);
    // The TUS token is dropped once the upload is done.
    expect(jobs.every((j) => j.progress.token === null)).toBe(true);
  });

  it("reports a file Gcore refuses with Gcore's own message, and keeps the file", async () => {
    stack = await startStack();
    const file = path.join(tmp, 'not-a-video.mp4');
    await fs.writeFile(file, Buffer.alloc(256 * 1024, 0x41));
    const id = await stack.upload(file);
    const job = await stack.waitForState(id, ['ready', 'failed']);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'GCORE_REJECTED', message: 'File Invalid', retryable: false });
    expect(job.video).toMatchObject({ status: 'empty', error: 'File Invalid' });
    expect((await fs.readdir(stack.relay.relay.uploadDir)).sort()).toEqual([
      id,
      `${id}.json`,
      `${id}.relay.json`,
    ]);
  });

  it('fails at once with retryable false on a wrong API key, and a retry after fixing it succeeds', async () => {
    stack = await startStack({ apiKey: 'wrong-key' });
    const file = path.join(tmp, 'key.mp4');
    const { sha256 } = await writeVideoFile(file, 2 * MB, 9);
    const id = await stack.upload(file);
    const failed = await stack.waitForState(id, ['failed', 'ready']);
    expect(failed.error).toMatchObject({ code: 'GCORE_UNAUTHORIZED', retryable: false });
    expect(failed.attempts).toBe(1);
    expect(JSON.stringify(failed.error)).not.toContain('wrong-key');

    await stack.startWorker({ apiKey: stack.emulator.apiKey });
    const retry = await fetch(`${stack.relay.url}/api/jobs/${id}/retry`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.relay.token}` },
    });
    expect(retry.status).toBe(202);
    const ready = await stack.waitForState(id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');
    expect(stack.emulator.video(ready.video!.id)!.sha256).toBe(sha256);
    expect(stack.emulator.videos()).toHaveLength(1);
  });

  it('delivers a signed callback, retrying an endpoint that fails twice', async () => {
    const received: Array<{
      body: string;
      signature: string | undefined;
      timestamp: number;
      status: number;
    }> = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const status = received.length < 2 ? 503 : 200;
        received.push({
          body,
          signature: req.headers['x-relay-signature-256'] as string | undefined,
          timestamp: Number(req.headers['x-relay-timestamp']),
          status,
        });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    try {
      stack = await startStack({ worker: { callbackSecret: 'callback-secret' } });
      const file = path.join(tmp, 'cb.mp4');
      await writeVideoFile(file, MB, 4);
      const id = await stack.upload(file, { callback_url: hookUrl });
      await stack.waitForState(id, ['ready']);
      await waitFor(() => (received.some((r) => r.status === 200) ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the third callback delivery',
      });
      expect(received.map((r) => r.status)).toEqual([503, 503, 200]);
      const last = received[2]!;
      expect(last.signature).toBe(signTimestamped('callback-secret', last.timestamp, last.body));
      // Verified the way a tool would: HMAC-SHA256 of "<t>.<raw body>" with the shared secret.
      const expected = createHmac('sha256', 'callback-secret')
        .update(`${last.timestamp}.${last.body}`)
        .digest('hex');
      expect(last.signature).toBe(`t=${last.timestamp},v1=${expected}`);
      expect(JSON.parse(last.body)).toMatchObject({ id, state: 'ready', kind: 'upload' });
      expect(last.body).not.toContain('progress');
    } finally {
      hook.close();
    }
  });

  it('cancels an upload in flight promptly and deletes the video when asked', async () => {
    stack = await startStack({ faults: { bandwidthBytesPerSec: 2 * MB } });
    const file = path.join(tmp, 'cancel.mp4');
    await writeVideoFile(file, 8 * MB, 5);
    const id = await stack.upload(file);
    await waitFor(async () => ((await stack.job(id)).bytes_forwarded > 0 ? true : undefined), {
      what: 'bytes to flow to Gcore',
    });
    const videoId = (await stack.job(id)).progress.video_id!;
    const res = await fetch(`${stack.relay.url}/api/jobs/${id}?delete_video=true`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stack.relay.token}` },
    });
    expect(res.status).toBe(202);
    await waitFor(() => (stack.emulator.video(videoId)?.deleted ? true : undefined), {
      what: 'the video to be deleted',
    });
    // Stopped in the middle (8 MB at 2 MB/s), not after the transfer ran to its end.
    expect(stack.emulator.video(videoId)!.bytesPatched).toBeLessThan(8 * MB);
    const patchesAtCancel = stack.emulator.video(videoId)!.patches;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(stack.emulator.video(videoId)!.patches).toBe(patchesAtCancel);
    expect((await stack.job(id)).state).toBe('canceled');
  });

  it.each([
    ['uploaded', ['empty', 'pending']],
    ['viewable', ['viewable']],
  ] as const)('counts a job done at COMPLETE_ON=%s', async (completeOn, statuses) => {
    stack = await startStack({ faults: { processingStepMs: 1_500 }, worker: { completeOn } });
    const file = path.join(tmp, `complete-${completeOn}.mp4`);
    await writeVideoFile(file, MB, 12);
    const id = await stack.upload(file);
    const job = await stack.waitForState(id, ['ready', 'failed']);
    expect(job.state).toBe('ready');
    expect(statuses).toContain(stack.emulator.video(job.progress.video_id!)!.statusHistory.at(-1));
    expect(stack.emulator.video(job.progress.video_id!)!.status).not.toBe('ready');
  });

  it('keeps the local file after forwarding when KEEP_FILES is on', async () => {
    stack = await startStack({ worker: { keepFiles: true } });
    const file = path.join(tmp, 'keep.mp4');
    const { sha256 } = await writeVideoFile(file, MB, 13);
    const id = await stack.upload(file);
    await stack.waitForState(id, ['ready']);
    expect(await sha256File(path.join(stack.relay.relay.uploadDir, id))).toBe(sha256);
  });
});
