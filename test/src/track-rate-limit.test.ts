import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Stack, startStack } from './support/stack.js';

/*
 * Found by the soak: one 429 without Retry-After on a status poll pushed the shared API pace back
 * by the longest poll interval (30 s by default), so every worker's forwards stood still that long.
 */
const MB = 1024 * 1024;

describe('a 429 without Retry-After while following processing', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'track-429-'));
  });
  afterAll(async () => {
    await stack?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('backs off briefly for everyone instead of stalling every forward for the longest poll interval', async () => {
    stack = await startStack({
      // Long processing, so the first job is being followed when Gcore starts refusing.
      faults: { processingStepMs: 3_000 },
      worker: { trackIntervalMs: { first: 100, max: 60_000 } },
    });
    const first = path.join(tmp, 'first.mp4');
    const second = path.join(tmp, 'second.mp4');
    await writeVideoFile(first, MB, 1);
    await writeVideoFile(second, MB, 2);
    const firstId = await stack.upload(first);
    await stack.waitForState(firstId, ['processing']);
    const before = stack.emulator.stats().api429s;
    stack.emulator.setFaults({ api429EveryN: 1, retryAfter: 'none' });
    await waitFor(() => (stack.emulator.stats().api429s > before ? true : undefined), {
      what: 'a refused status poll',
    });
    // The shared pace every forward waits on is pushed back by a short backoff (the first step:
    // 0.5–1 s), not by the 60 s of the longest poll interval.
    const pacer = stack.worker!.context.pacer;
    const pushedBack = await waitFor(
      async () => {
        const ms = await pacer.ahead();
        return ms > 100 ? ms : undefined;
      },
      { what: 'the API pace to be pushed back' },
    );
    expect(pushedBack).toBeLessThanOrEqual(1_100);
    stack.emulator.setFaults({ api429EveryN: 0, processingStepMs: 50 });

    const secondId = await stack.upload(second);
    expect((await stack.waitForState(secondId, ['uploading', 'processing', 'ready'])).state).not.toBe(
      'failed',
    );
  }, 60_000);
});
