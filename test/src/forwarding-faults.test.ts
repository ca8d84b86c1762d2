import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import type { Faults } from '@gtr/gcore-emulator';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

describe('forwarding through Gcore faults', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'faults-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  const faults = (retryAfter: Faults['retryAfter']): Partial<Faults> => ({
    api429EveryN: 3,
    patch429EveryN: 4,
    api5xxEveryN: 5,
    patchDropEveryN: 3,
    retryAfter,
    retryAfterMs: 300,
  });

  it.each([
    ['with Retry-After', 'seconds'],
    ['without Retry-After', 'none'],
  ] as const)(
    'gets every upload to ready %s: one video each, identical bytes, within the API pace',
    async (_label, retryAfter) => {
      const rps = 8;
      stack = await startStack({ faults: faults(retryAfter), rps, worker: { chunkSize: 512 * 1024 } });
      const files = await Promise.all(
        [1, 2, 3].map(async (n) => {
          const file = path.join(tmp, `${retryAfter}-${n}.mp4`);
          return { file, ...(await writeVideoFile(file, 2 * MB + n * 1000, 20 + n)) };
        }),
      );
      const ids = await Promise.all(files.map(({ file }) => stack.upload(file)));
      const jobs = await Promise.all(ids.map((id) => stack.waitForState(id, ['ready', 'failed'], 90_000)));
      expect(jobs.map((j) => [j.state, j.error])).toEqual(jobs.map(() => ['ready', null]));
      const videos = stack.emulator.videos();
      expect(videos).toHaveLength(3);
      for (const [i, job] of jobs.entries()) {
        const video = stack.emulator.video(job.video!.id)!;
        expect(video.sha256).toBe(files[i]!.sha256);
        expect(video.tusUploads).toBe(1);
      }
      const stats = stack.emulator.stats();
      expect(stats.api429s + stats.patch429s).toBeGreaterThan(0);
      expect(stats.api5xxs).toBeGreaterThan(0);
      expect(stats.patchDrops).toBeGreaterThan(0);
      expect(stats.peakApiRps).toBeLessThanOrEqual(rps);
    },
  );

  it('fetches a fresh token when Gcore refuses the saved one mid-upload, and carries on', async () => {
    stack = await startStack({ faults: { bandwidthBytesPerSec: 3 * MB }, worker: { chunkSize: 512 * 1024 } });
    const file = path.join(tmp, 'token.mp4');
    const { sha256 } = await writeVideoFile(file, 4 * MB, 31);
    const id = await stack.upload(file);
    const first = await waitForBytes(stack, id, MB);
    // Four hours pass for Gcore, and its upload server loses the session: the resume must create
    // a new TUS upload, for which the saved token is now refused as expired.
    stack.emulator.advanceClock(4 * 3_600_000 + 60_000);
    const terminated = await fetch(first.progress.upload_url!, {
      method: 'DELETE',
      headers: { 'Tus-Resumable': '1.0.0' },
    });
    expect(terminated.status).toBe(204);
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect(job.state).toBe('ready');
    const video = stack.emulator.video(job.video!.id)!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(2);
    expect(job.progress.token_at).toBeGreaterThan(first.progress.token_at!);
  });
});

async function waitForBytes(stack: Stack, id: string, bytes: number) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = await stack.job(id);
    if (job.bytes_forwarded >= bytes && job.progress.upload_url) return job;
    if (Date.now() > deadline) throw new Error(`no ${bytes} bytes forwarded: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
