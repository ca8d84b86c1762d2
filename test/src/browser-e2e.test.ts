import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import type { Browser } from 'playwright-core';
import {
  jobRowSelector,
  launchChromium,
  openDashboard,
  runToolPage,
  waitForJobRow,
} from './support/browser.js';
import { cappedUpload } from './support/clients.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

describe('in a real browser, against the whole pipeline', () => {
  let browser: Browser;
  let stack: Stack;
  let tmp: string;
  beforeAll(async () => {
    browser = await launchChromium();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'browser-e2e-'));
  });
  afterAll(async () => {
    await browser.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });
  afterEach(() => stack?.close());

  it('shows an upload progressing to ready on the dashboard, without a reload', async () => {
    stack = await startStack({ faults: { bandwidthBytesPerSec: 3 * MB } });
    const d = await openDashboard(browser, stack.relay.url, stack.relay.token);
    try {
      const file = path.join(tmp, 'live.mp4');
      await writeVideoFile(file, 6 * MB, 8);
      const id = await stack.upload(file, { name: 'Live on the dashboard' });
      await waitForJobRow(d.page, id, 'uploading', 10_000);
      await waitForJobRow(d.page, id, 'ready', 20_000);
      const row = d.page.locator(jobRowSelector(id, 'ready'));
      await row.getByText('Live on the dashboard').waitFor();
      expect(d.errors).toEqual([]);
    } finally {
      await d.close();
    }
  });

  it('moves both progress bars together while a streamed upload arrives (FORWARD_MODE=stream)', async () => {
    stack = await startStack();
    const d = await openDashboard(browser, stack.relay.url, stack.relay.token);
    try {
      const file = path.join(tmp, 'streamed.mp4');
      await writeVideoFile(file, 16 * MB, 11);
      // One PATCH arriving at 2 MB/s, as over a slow link.
      const { id, done } = await cappedUpload(`${stack.relay.url}/files/`, stack.relay.token, file, {
        bytesPerSecond: 2 * MB,
        metadata: { filename: 'streamed.mp4', name: 'Streamed on the dashboard' },
      });
      // Still receiving, and Gcore already has some of it: both bars show bytes at once.
      const row = jobRowSelector(id, 'receiving');
      const percentOf = async (bar: 'received' | 'forwarded') =>
        Number(
          (await d.page
            .locator(`${row} [data-progress="${bar}"]`)
            .getAttribute('aria-valuenow', { timeout: 1_000 })
            .catch(() => null)) ?? 0,
        );
      await waitFor(
        async () =>
          (await percentOf('received')) > 0 && (await percentOf('forwarded')) > 0 ? true : undefined,
        { timeoutMs: 30_000, intervalMs: 100, what: 'both bars to move while the upload is receiving' },
      );
      expect(await done).toBe(204);
      await waitForJobRow(d.page, id, 'ready', 30_000);
      expect(d.errors).toEqual([]);
    } finally {
      await d.close();
    }
  });

  it("brings a failed job to ready with the row's Retry button", async () => {
    stack = await startStack({ faults: { processingError: 'Transcoding failed: codec' } });
    const file = path.join(tmp, 'retry.mp4');
    await writeVideoFile(file, 2 * MB, 9);
    const id = await stack.upload(file, { name: 'Needs a second go' });
    const failed = await stack.waitForState(id, ['failed', 'ready']);
    expect(failed.error).toMatchObject({
      code: 'GCORE_PROCESSING_FAILED',
      message: 'Transcoding failed: codec',
    });

    stack.emulator.setFaults({ processingError: null });
    const d = await openDashboard(browser, stack.relay.url, stack.relay.token);
    try {
      const row = d.page.locator(jobRowSelector(id, 'failed'));
      await row.getByRole('button', { name: 'Retry Needs a second go' }).click();
      await waitForJobRow(d.page, id, 'ready', 20_000);
      // The refused video was deleted and a fresh one made: one live video at Gcore.
      expect(stack.emulator.videos().filter((v) => !v.deleted)).toHaveLength(1);
      expect(d.errors).toEqual([]);
    } finally {
      await d.close();
    }
  });

  it('takes an upload from tus-js-client in a page on another origin (CORS) to ready', async () => {
    stack = await startStack();
    const page = `<!doctype html><meta charset="utf-8"><title>tool</title><script src="/tus.min.js"></script>
<p id="out">starting</p>
<script>
  const params = new URLSearchParams(location.search);
  const bytes = new Uint8Array(3 * 1024 * 1024);
  bytes.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
  for (let i = 12; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
  const file = new File([bytes], 'from-browser.mp4', { type: 'video/mp4' });
  const upload = new tus.Upload(file, {
    endpoint: params.get('relay') + '/files/',
    headers: { Authorization: 'Bearer ' + params.get('token') },
    chunkSize: 1024 * 1024,
    retryDelays: [0, 500],
    metadata: { filename: file.name, filetype: file.type, name: 'Browser upload' },
    onError: (e) => { document.getElementById('out').textContent = 'error: ' + e.message; },
    onSuccess: () => { document.getElementById('out').textContent = 'done ' + upload.url; },
  });
  upload.start();
</script>`;
    const out = await runToolPage(browser, page, stack.relay, 15_000);
    expect(out).toMatch(/^done http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);
    const id = out!.split('/').pop()!;
    const job = await stack.waitForState(id, ['ready', 'failed']);
    expect(job).toMatchObject({ state: 'ready', name: 'Browser upload', filename: 'from-browser.mp4' });
  });
});
