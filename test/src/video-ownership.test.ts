import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TokenEntry } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { Upload } from 'tus-js-client';
import { pauseAt, resume } from './support/clients.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;
/** One title for everything here: a name alone cannot tell these videos apart. */
const TITLE = 'Quarterly review';

const tool = (name: string): TokenEntry => ({ name, role: 'tool', token: `${name}-token-0123456789abcdef` });
const TOOL_A = tool('tool-a');
const TOOL_B = tool('tool-b');

/**
 * Gcore is one account for every tool: a video the relay adopts (after a lost create answer) or
 * deletes (after a cancel) must be the one its own job's create made, never another upload's
 * video of the same title.
 */
describe('a Gcore video belongs to exactly one job', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ownership-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  /** Tool B's streamed upload, stopped half way, with its video recorded: still receiving. */
  async function halfReceived(seed: number) {
    const file = path.join(tmp, `b-${seed}.mp4`);
    const { sha256 } = await writeVideoFile(file, 12 * MB, seed);
    const upload = tusUpload(stack, TOOL_B, await fs.readFile(file));
    await pauseAt(upload, 6 * MB);
    const id = upload.url!.split('/').pop()!;
    const job = await waitFor(
      async () => {
        const record = await stack.relay.relay.jobs.get(id);
        return record?.state === 'receiving' && record.bytes_forwarded > 0 ? record : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 25, what: "tool B's upload streaming into its video" },
    );
    return { id, upload, sha256, videoId: job.progress.video_id! };
  }

  /** Resolves with the video of a same-titled create other than `other`'s, once Gcore made it. */
  const otherVideo = (other: number) =>
    waitFor(() => stack.emulator.videos().find((v) => v.name === TITLE && v.id !== other), {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'the second same-titled video to be made',
    });

  /** B's upload goes on to the end: its video is intact and reaches ready with B's bytes. */
  async function expectIntact(b: Awaited<ReturnType<typeof halfReceived>>) {
    await resume(b.upload);
    const job = await stack.waitForState(b.id, ['ready', 'failed'], 60_000);
    expect([job.state, job.error, job.progress.video_id]).toEqual(['ready', null, b.videoId]);
    expect(stack.emulator.video(b.videoId)).toMatchObject({
      deleted: false,
      status: 'ready',
      sha256: b.sha256,
    });
  }

  it("deletes only its own video when a job is canceled while its create answer is out, not a same-titled upload's still arriving", async () => {
    stack = await startStack({ relay: { tokens: [TOOL_A, TOOL_B] } });
    const b = await halfReceived(31);
    // Tool A's create makes its video, but the answer is slow to come: the job has no video id yet.
    stack.emulator.setFaults({ createDelayMs: 60_000 });
    const a = tusUpload(stack, TOOL_A, Buffer.alloc(4 * MB, 1));
    await pauseAt(a, 2 * MB);
    const aId = a.url!.split('/').pop()!;
    const aVideo = await otherVideo(b.videoId);
    const before = await stack.job(aId);
    expect(before.progress.video_id).toBeNull();
    expect(before.progress.create_started_at).not.toBeNull();

    const res = await fetch(`${stack.relay.url}/api/jobs/${aId}?delete_video=true`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${TOOL_A.token}` },
    });
    expect(res.status).toBe(202);
    await waitFor(() => (stack.emulator.videos().some((v) => v.deleted) ? true : undefined), {
      timeoutMs: 30_000,
      what: 'a video to be deleted after the cancel',
    });
    expect(
      stack.emulator
        .videos()
        .filter((v) => v.deleted)
        .map((v) => v.id),
    ).toEqual([aVideo.id]);

    stack.emulator.setFaults({ createDelayMs: 0 });
    await expectIntact(b);
    expect(
      stack.emulator
        .videos()
        .filter((v) => !v.deleted)
        .map((v) => v.id),
    ).toEqual([b.videoId]);
  }, 120_000);

  it('adopts its own video and only that on a retry after a lost create, while a same-titled job exists', async () => {
    stack = await startStack({ relay: { tokens: [TOOL_A, TOOL_B] } });
    const b = await halfReceived(32);
    stack.emulator.setFaults({ createDelayMs: 60_000 });
    const file = path.join(tmp, 'a-retry.mp4');
    const { sha256 } = await writeVideoFile(file, 2 * MB, 33);
    const aId = await stack.upload(file, { name: TITLE });
    const aVideo = await otherVideo(b.videoId);
    // The worker stops while A's create answer is out: the answer is lost, the next attempt
    // (after the restart) has only the mark that a create was made.
    await stack.stopWorker();
    stack.emulator.setFaults({ createDelayMs: 0 });
    const lost = await stack.job(aId);
    expect([lost.progress.video_id, lost.progress.create_started_at === null]).toEqual([null, false]);
    await stack.startWorker();

    const job = await stack.waitForState(aId, ['ready', 'failed'], 60_000);
    expect([job.state, job.error, job.progress.video_id]).toEqual(['ready', null, aVideo.id]);
    expect(stack.emulator.video(aVideo.id)).toMatchObject({ status: 'ready', sha256 });
    await expectIntact(b);
    expect(stack.emulator.stats().videosCreated).toBe(2);
    expect(stack.emulator.videos().filter((v) => !v.deleted)).toHaveLength(2);
  }, 120_000);

  it('gives two same-titled uploads of different tools, sent together, a video each when every create answer is lost', async () => {
    stack = await startStack({ relay: { tokens: [TOOL_A, TOOL_B] }, faults: { createDropEveryN: 1 } });
    const sent = await Promise.all(
      [TOOL_A, TOOL_B].map(async (who, i) => {
        const file = path.join(tmp, `together-${i}.mp4`);
        const { sha256 } = await writeVideoFile(file, 4 * MB, 34 + i);
        const upload = tusUpload(stack, who, await fs.readFile(file));
        // Both tools pause half way: both videos stay `empty`, so no status tells them apart.
        await pauseAt(upload, 2 * MB);
        const id = upload.url!.split('/').pop()!;
        await waitFor(async () => ((await stack.job(id)).bytes_forwarded > 0 ? true : undefined), {
          timeoutMs: 60_000,
          what: 'the upload to stream into a video',
        });
        return { upload, id, sha256 };
      }),
    );
    const during = await Promise.all(sent.map(({ id }) => stack.job(id)));
    expect(during[0]!.progress.video_id).not.toBe(during[1]!.progress.video_id);
    await Promise.all(sent.map(({ upload }) => resume(upload)));
    for (const [i, { id, sha256 }] of sent.entries()) {
      const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
      expect([job.state, job.error, job.progress.video_id]).toEqual([
        'ready',
        null,
        during[i]!.progress.video_id,
      ]);
      expect(stack.emulator.video(job.progress.video_id!)).toMatchObject({ sha256, tusUploads: 1 });
    }
    expect(stack.emulator.stats().videosCreated).toBe(2);
  }, 120_000);
});

/** A tus-js-client upload titled TITLE of bytes in memory (it can stop and resume anywhere); not started. */
function tusUpload(stack: Stack, who: TokenEntry, bytes: Buffer): Upload {
  return new Upload(bytes, {
    endpoint: `${stack.relay.url}/files/`,
    uploadSize: bytes.length,
    chunkSize: 2 * MB,
    metadata: { filename: 'review.mp4', name: TITLE },
    headers: { Authorization: `Bearer ${who.token}` },
    retryDelays: [0, 500],
    storeFingerprintForResuming: false,
  });
}
