import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PublicJob } from '@gtr/core';
import { sha256File, writeVideoFile } from '@gtr/core/testing';
import { ChangingFile, fileVersion, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

describe('integrity: the bytes at Gcore are the bytes the tool sent (SHA-256)', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'integrity-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  it('forwards a normal upload to ready, its job carrying the sha256 Gcore got', async () => {
    stack = await startStack();
    const file = path.join(tmp, 'fine.mp4');
    const { sha256 } = await writeVideoFile(file, 5 * MB + 11, 3);
    const id = await stack.upload(file, {}, 2 * MB);
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect([job.state, job.error]).toEqual(['ready', null]);
    expect(job.sha256).toBe(sha256);
    expect(stack.emulator.video(job.video!.id)).toMatchObject({ status: 'ready', sha256, size: 5 * MB + 11 });
  });

  it('holds back the last piece of a streamed forward whose file changed under it (FORWARD_MODE=stream)', async () => {
    // Gcore's link at 1 MB/s: the forward is still sending when the whole upload is in.
    stack = await startStack({ forwardAttempts: 1, faults: { bandwidthBytesPerSec: MB } });
    const file = path.join(tmp, 'changed-streamed.mp4');
    const { sha256 } = await writeVideoFile(file, 6 * MB, 5);
    const id = await stack.upload(file);
    const received = await stack.job(id);
    expect(received.sha256).toBe(sha256);
    // Streamed from its first bytes, and not yet at its end.
    expect(received.progress.video_id).not.toBeNull();
    expect(received.bytes_forwarded).toBeLessThan(5 * MB);
    const stored = path.join(stack.relay.relay.uploadDir, id);
    const handle = await fs.open(stored, 'r+');
    await handle.write(Buffer.alloc(4096, 0xee), 0, 4096, 5 * MB + 1000);
    await handle.close();

    const job = await stack.waitForState(id, ['failed', 'ready'], 90_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'UPLOAD_INTEGRITY_MISMATCH', retryable: true });
    expect(stack.emulator.video(job.progress.video_id!)).toMatchObject({ sha256: null, status: 'empty' });
  });

  it('fails the forward with UPLOAD_INTEGRITY_MISMATCH when the stored file changed, and Gcore never holds it whole', async () => {
    stack = await startStack({ withWorker: false, forwardAttempts: 2 });
    const file = path.join(tmp, 'changed.mp4');
    const { sha256 } = await writeVideoFile(file, 3 * MB, 4);
    const id = await stack.upload(file);
    expect((await stack.job(id)).sha256).toBe(sha256);

    // Between ingest and forward, bytes in the middle of the stored file change (bit rot, a
    // stray write): the size stays the same.
    const stored = path.join(stack.relay.relay.uploadDir, id);
    const handle = await fs.open(stored, 'r+');
    await handle.write(Buffer.alloc(4096, 0xee), 0, 4096, 2 * MB);
    await handle.close();
    const changed = await sha256File(stored);
    expect(changed).not.toBe(sha256);

    await stack.startWorker();
    const job = await stack.waitForState(id, ['failed', 'ready'], 90_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'UPLOAD_INTEGRITY_MISMATCH', retryable: true });
    expect(job.error!.message).toContain(
      "the file on the relay's disk no longer matches what the tool sent (sha256",
    );
    expect(job.error!.message).toContain(changed);
    expect(job.attempts).toBe(2);
    // The video exists, but no upload of it ever completed: Gcore has no file for it.
    const video = stack.emulator.video(job.progress.video_id!)!;
    expect(video).toMatchObject({ sha256: null, status: 'empty' });
    // What Gcore got is no resume point for a retry; the local file stays for the operator.
    expect(job.progress.upload_url).toBeNull();
    expect(await sha256File(stored)).toBe(changed);

    // The operator puts the original bytes back and retries: the file goes to the same video
    // anew from byte 0 (resuming what Gcore got would keep the changed bytes).
    await fs.copyFile(file, stored);
    const retry = await fetch(`${stack.relay.url}/api/jobs/${id}/retry`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.relay.token}` },
    });
    expect(retry.status).toBe(202);
    const done = await stack.waitForState(id, ['ready', 'failed'], 90_000);
    expect([done.state, done.error]).toEqual(['ready', null]);
    expect(done.video!.id).toBe(video.id);
    expect(stack.emulator.video(video.id)).toMatchObject({ status: 'ready', sha256 });
  });

  it('downloads a relay pull afresh when the origin changes between two ranges, so Gcore gets the new version whole', async () => {
    stack = await startStack({
      // The origin listens on loopback: past the SSRF guard only so.
      relay: { imports: { preflight: true, allowPrivate: true } },
      worker: { importAllowPrivate: true },
    });
    const size = 6 * MB;
    const v1 = path.join(tmp, 'v1.mp4');
    const v2 = path.join(tmp, 'v2.mp4');
    await writeVideoFile(v1, size, 5);
    const { sha256: newSha } = await writeVideoFile(v2, size, 6);
    const source = new ChangingFile([v1, v2]);
    let dropped = false;
    const origin = await startOrigin(async (req, res) => {
      if (req.method === 'GET' && !dropped) {
        dropped = true;
        // Half of version 1, then the connection is gone and the origin has version 2.
        const { etag } = await fileVersion(source.path);
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': size, ETag: etag });
        const stream = createReadStream(source.path, { end: size / 2 - 1 });
        stream.pipe(res, { end: false });
        stream.on('end', () =>
          res.write('', () => {
            source.change();
            res.socket?.destroy();
          }),
        );
        return;
      }
      await sendFile(req, res, source.path);
    });
    try {
      const res = await fetch(`${stack.relay.url}/api/imports`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.relay.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ origin_url: `${origin.url}/clip.mp4`, via: 'relay' }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as PublicJob;
      const job = await stack.waitForState(id, ['ready', 'failed'], 90_000);
      expect([job.state, job.error]).toEqual(['ready', null]);

      const gets = origin.requests.filter((r) => r.method === 'GET');
      expect(gets).toHaveLength(2);
      // The resume asked for the rest of version 1 only, which the origin no longer has.
      expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
      expect(gets[1]!.ifRange).toBe((await fileVersion(v1)).etag);
      expect(stack.emulator.video(job.progress.video_id!)).toMatchObject({
        status: 'ready',
        size,
        sha256: newSha,
      });
    } finally {
      await origin.close();
    }
  });
});
