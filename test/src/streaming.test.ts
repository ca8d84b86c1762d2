import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { JobRecord } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { Upload } from 'tus-js-client';
import { cappedUpload, clientUpload, pauseAt, resume } from './support/clients.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

/** FORWARD_MODE=stream (the default): Gcore gets the bytes while the tool still sends them. */
describe('streaming uploads to Gcore while they arrive', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stream-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  /** Resolves with the job once Gcore has some of its bytes while the relay still receives it. */
  const streamingSeen = (id: () => string | undefined) =>
    waitFor(
      async () => {
        const current = id();
        const job = current ? await stack.relay.relay.jobs.get(current) : null;
        return job?.state === 'receiving' && job.bytes_forwarded > 0 ? job : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 25, what: 'bytes forwarded while the upload is receiving' },
    );

  const idOf = (url: string | null | undefined) => url?.split('/').pop();

  it('forwards a 100 MB upload sent at a capped rate while it arrives, with equal bytes', async () => {
    stack = await startStack();
    const file = path.join(tmp, 'capped.mp4');
    const { sha256 } = await writeVideoFile(file, 100 * MB, 1);
    // One PATCH for the whole file, arriving at 20 MB/s: what the relay has written of it
    // mid-request is what streams.
    const { id, done } = await cappedUpload(`${stack.relay.url}/files/`, stack.relay.token, file, {
      bytesPerSecond: 20 * MB,
      metadata: { filename: 'capped.mp4' },
    });
    const during = await streamingSeen(() => id);
    expect(during.bytes_received).toBeLessThan(100 * MB);
    expect(await done).toBe(204);
    const job = await stack.waitForState(id, ['ready', 'failed'], 120_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    expect(job.bytes_forwarded).toBe(100 * MB);
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(1);
    expect(stack.emulator.videos()).toHaveLength(1);
  });

  it('stops the forward and deletes the Gcore video when the tool terminates its upload', async () => {
    stack = await startStack();
    const file = path.join(tmp, 'terminated.mp4');
    await writeVideoFile(file, 24 * MB, 2);
    const bytes = await fs.readFile(file);
    const upload = bufferUpload(stack, bytes, 'terminated.mp4');
    // Half the file, then the tool stops sending.
    await pauseAt(upload, 12 * MB);
    const id = idOf(upload.url)!;
    const during = await streamingSeen(() => id);
    const videoId = during.progress.video_id!;
    expect(stack.emulator.video(videoId)!.deleted).toBe(false);

    const res = await fetch(upload.url!, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' },
    });
    expect(res.status).toBe(204);
    const job = await stack.waitForState(id, ['canceled']);
    expect(job.state).toBe('canceled');
    await waitFor(() => (stack.emulator.video(videoId)!.deleted ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the Gcore video to be deleted',
    });
    expect(stack.emulator.videos().filter((v) => !v.deleted)).toHaveLength(0);
  });

  it('deletes the video of a create whose answer is still out when the tool terminates its upload', async () => {
    // Every create makes its video at once and answers 5 s later: the job has no video id yet.
    stack = await startStack({ faults: { createDelayMs: 5_000 } });
    const file = path.join(tmp, 'lost-create.mp4');
    await writeVideoFile(file, 12 * MB, 9);
    const upload = bufferUpload(stack, await fs.readFile(file), 'lost-create.mp4');
    await pauseAt(upload, 6 * MB);
    const id = idOf(upload.url)!;
    await waitFor(() => (stack.emulator.videos().length > 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'the create call to make its video',
    });
    expect((await stack.job(id)).progress.video_id).toBeNull();
    const res = await fetch(upload.url!, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' },
    });
    expect(res.status).toBe(204);
    expect((await stack.waitForState(id, ['canceled'])).state).toBe('canceled');
    await waitFor(() => (stack.emulator.videos().every((v) => v.deleted) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the video the create made to be deleted',
    });
    expect(stack.emulator.videos()).toHaveLength(1);
  });

  it('deletes the Gcore video of a streamed upload that expires while its tool is away', async () => {
    stack = await startStack({
      relay: { uploadExpiryMs: 4_000 },
      worker: { streamParkAfterMs: 1_000 },
    });
    const file = path.join(tmp, 'expiring.mp4');
    await writeVideoFile(file, 12 * MB, 10);
    const upload = bufferUpload(stack, await fs.readFile(file), 'expiring.mp4');
    await pauseAt(upload, 6 * MB);
    const id = idOf(upload.url)!;
    const videoId = (await streamingSeen(() => id)).progress.video_id!;
    // The tool stays away past UPLOAD_EXPIRY; its next look finds the upload expired.
    await waitFor(
      async () => {
        const res = await fetch(upload.url!, {
          method: 'HEAD',
          headers: { Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' },
        });
        return res.status === 410 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the upload to expire' },
    );
    const job = await stack.job(id);
    expect([job.state, job.error?.code]).toEqual(['failed', 'UPLOAD_EXPIRED']);
    await waitFor(() => (stack.emulator.video(videoId)!.deleted ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the Gcore video of the expired upload to be deleted',
    });
  });

  it('fails a streamed upload Gcore refuses for good while it still arrives, with Gcore’s reason', async () => {
    stack = await startStack({ apiKey: 'not-the-key' });
    const file = path.join(tmp, 'refused.mp4');
    await writeVideoFile(file, 12 * MB, 12);
    const upload = bufferUpload(stack, await fs.readFile(file), 'refused.mp4');
    await pauseAt(upload, 6 * MB);
    const id = idOf(upload.url)!;
    const failed = await stack.waitForState(id, ['failed', 'ready'], 30_000);
    expect([failed.state, failed.error?.code]).toEqual(['failed', 'GCORE_UNAUTHORIZED']);
    // The tool's last bytes are still taken; the job keeps Gcore's reason.
    await resume(upload);
    const after = await stack.job(id);
    expect([after.state, after.error?.code]).toEqual(['failed', 'GCORE_UNAUTHORIZED']);
  });

  it('streams through Gcore faults mid-stream (429s, dropped PATCHes, an expired session) to one ready video', async () => {
    stack = await startStack({
      faults: { patch429EveryN: 5, patchDropEveryN: 4, retryAfterMs: 200 },
      worker: { chunkSize: 512 * 1024 },
      relay: { forward: { mode: 'stream', chunkSize: 512 * 1024 } },
    });
    const file = path.join(tmp, 'faults.mp4');
    const { sha256 } = await writeVideoFile(file, 16 * MB, 3);
    let upload: Upload | undefined;
    const done = clientUpload(file, {
      endpoint: `${stack.relay.url}/files/`,
      token: stack.relay.token,
      chunkSize: 4 * MB,
      metadata: { filename: 'faults.mp4' },
      bytesPerSecond: 2 * MB,
      retryDelays: [0, 500, 1000],
      onStart: (u) => {
        upload = u;
      },
    });
    const during = await waitFor(
      async () => {
        const job = await streamingSeen(() => idOf(upload?.url));
        return job.progress.upload_url ? job : undefined;
      },
      { timeoutMs: 60_000, what: 'a Gcore upload URL' },
    );
    // Gcore loses the session meanwhile, four hours on: a fresh one, with fresh parameters.
    stack.emulator.advanceClock(4 * 3_600_000 + 60_000);
    const dropped = await fetch(during.progress.upload_url!, {
      method: 'DELETE',
      headers: { 'Tus-Resumable': '1.0.0' },
    });
    expect(dropped.status).toBe(204);
    const id = idOf(await done)!;
    const job = await stack.waitForState(id, ['ready', 'failed'], 120_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    expect(stack.emulator.videos()).toHaveLength(1);
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(2);
    const stats = stack.emulator.stats();
    expect(stats.patch429s).toBeGreaterThan(0);
    expect(stats.patchDrops).toBeGreaterThan(0);
  });

  it('waits through a 30 s pause of the tool mid-upload and ends ready', async () => {
    // A stall timeout well under the pause: waiting for the tool's bytes is not a stalled transfer.
    stack = await startStack({ worker: { stallTimeoutMs: 3_000 } });
    const file = path.join(tmp, 'paused.mp4');
    const { sha256 } = await writeVideoFile(file, 12 * MB, 4);
    const upload = bufferUpload(stack, await fs.readFile(file), 'paused.mp4');
    await pauseAt(upload, 6 * MB);
    const id = idOf(upload.url)!;
    const during = await streamingSeen(() => id);
    await delay(30_000);
    const paused = await stack.job(id);
    expect(paused.state).toBe('receiving');
    expect(paused.progress.upload_url).toBe(during.progress.upload_url);
    await resume(upload);
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(1);
    expect(stack.emulator.videos()).toHaveLength(1);
  }, 120_000);

  it('streams a deferred-length upload once its length is declared', async () => {
    stack = await startStack();
    const file = path.join(tmp, 'deferred.mp4');
    const { sha256 } = await writeVideoFile(file, 12 * MB, 6);
    const bytes = await fs.readFile(file);
    const headers = { Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' };
    const created = await fetch(`${stack.relay.url}/files/`, {
      method: 'POST',
      headers: {
        ...headers,
        'Upload-Defer-Length': '1',
        'Upload-Metadata': `filename ${Buffer.from('deferred.mp4').toString('base64')}`,
      },
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const id = idOf(url)!;
    const patch = (from: number, to: number, extra: Record<string, string> = {}) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          ...headers,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': String(from),
          ...extra,
        },
        body: bytes.subarray(from, to),
      });
    // Several chunks in, but no length yet: Gcore's TUS server takes no deferred length.
    expect((await patch(0, 4 * MB)).status).toBe(204);
    const before = await stack.job(id);
    expect([before.state, before.size, before.progress.video_id]).toEqual(['receiving', null, null]);
    // The length arrives with the next PATCH; the forward starts while the rest is still to come.
    expect((await patch(4 * MB, 8 * MB, { 'Upload-Length': String(bytes.length) })).status).toBe(204);
    const during = await streamingSeen(() => id);
    expect(during.size).toBe(bytes.length);
    expect((await patch(8 * MB, bytes.length)).status).toBe(204);
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(1);
    expect(stack.emulator.videos()).toHaveLength(1);
  });

  it('gives the worker slot back while the tool pauses, and goes on from the same Gcore upload', async () => {
    // One slot: while the paused upload holds it, nothing else would be forwarded.
    stack = await startStack({ worker: { concurrency: 1, streamParkAfterMs: 1_000 } });
    const file = path.join(tmp, 'parked.mp4');
    const { sha256 } = await writeVideoFile(file, 12 * MB, 7);
    const upload = bufferUpload(stack, await fs.readFile(file), 'parked.mp4');
    await pauseAt(upload, 6 * MB);
    const id = idOf(upload.url)!;
    const during = await streamingSeen(() => id);
    await waitFor(
      async () => ((await (await stack.relay.queues.forward.getJob(id))?.isDelayed()) ? true : undefined),
      { timeoutMs: 30_000, what: 'the paused upload’s forward to be parked' },
    );
    // The freed slot forwards another upload to the end while the first one's tool still waits.
    const other = path.join(tmp, 'meanwhile.mp4');
    await writeVideoFile(other, 3 * MB, 8);
    const otherId = await stack.upload(other);
    const otherJob = await stack.waitForState(otherId, ['ready', 'failed'], 60_000);
    expect([otherJob.state, otherJob.error]).toEqual(['ready', null]);
    expect((await stack.job(id)).state).toBe('receiving');

    await resume(upload);
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    expect(job.progress.upload_url).toBe(during.progress.upload_url);
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(1);
    expect(stack.emulator.videos()).toHaveLength(2);
  });

  it('starts a small upload (under one chunk) at once and reports it ready', async () => {
    stack = await startStack();
    const file = path.join(tmp, 'small.mp4');
    const { sha256 } = await writeVideoFile(file, 300 * 1024, 5);
    const id = await stack.upload(file);
    const job: JobRecord = await stack.waitForState(id, ['ready', 'failed']);
    expect(job.state).toBe('ready');
    expect(stack.emulator.video(job.video!.id)!.sha256).toBe(sha256);
  });
});

/** A tus-js-client upload of bytes in memory (so it can stop and resume anywhere); not started. */
function bufferUpload(stack: Stack, bytes: Buffer, filename: string): Upload {
  return new Upload(bytes, {
    endpoint: `${stack.relay.url}/files/`,
    uploadSize: bytes.length,
    chunkSize: 2 * MB,
    metadata: { filename },
    headers: { Authorization: `Bearer ${stack.relay.token}` },
    retryDelays: [0, 500],
    storeFingerprintForResuming: false,
  });
}
