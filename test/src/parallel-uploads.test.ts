import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { launchChromium, runToolPage } from './support/browser.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

/** The SHA-256 of the file the tool pages below make (an MP4 signature, then a pattern). */
function pageFileSha256(size: number): string {
  const bytes = Buffer.alloc(size);
  bytes.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
  for (let i = 12; i < size; i++) bytes[i] = (i * 7919) & 255;
  return createHash('sha256').update(bytes).digest('hex');
}

/** The same, as a script for the pages: `makeFile(size, name)`; `done(text)` ends a run. */
const PAGE_FILE = `
  function makeFile(size, name) {
    const bytes = new Uint8Array(size);
    bytes.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
    for (let i = 12; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
    return new File([bytes], name, { type: 'video/mp4' });
  }
  function done(text) { document.getElementById('out').textContent = text; }
`;

describe('parallel uploads (TUS concatenation) through the whole pipeline', () => {
  let stack: Stack;
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'parallel-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  beforeEach(async () => {
    stack = await startStack();
  });
  afterEach(() => stack.close());

  /** Every job the relay has (the partials must not be among them). */
  async function jobIds(): Promise<string[]> {
    const res = await request(stack.relay.relay.app)
      .get('/api/jobs')
      .set('Authorization', `Bearer ${stack.relay.token}`);
    return (res.body.items as { id: string }[]).map((job) => job.id);
  }

  /** One job, ready, and one video at Gcore with exactly the file's bytes. */
  async function expectOneVideo(id: string, sha256: string, size: number): Promise<void> {
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect(job).toMatchObject({ state: 'ready', size, bytes_forwarded: size });
    expect(await jobIds()).toEqual([id]);
    const videos = stack.emulator.videos();
    expect(videos).toHaveLength(1);
    expect(videos[0]!.id).toBe(job.video!.id);
    expect(stack.emulator.video(job.video!.id)!.sha256).toBe(sha256);
  }

  it('takes a tus-js-client upload from disk with parallelUploads: 3 as one job and one video', async () => {
    const file = path.join(tmp, 'parallel.mp4');
    const size = 7 * MB + 123;
    const { sha256 } = await writeVideoFile(file, size, 21);
    const tus = await import('tus-js-client');
    const partials: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(createReadStream(file), {
        endpoint: `${stack.relay.url}/files/`,
        parallelUploads: 3,
        chunkSize: 2 * MB,
        metadata: { filename: 'parallel.mp4', filetype: 'video/mp4', name: 'In three parts' },
        headers: { Authorization: `Bearer ${stack.relay.token}` },
        retryDelays: [0, 500],
        storeFingerprintForResuming: false,
        onBeforeRequest: (req) => {
          if (req.getMethod() === 'PATCH') partials.push(req.getURL());
        },
        onError: reject,
        onSuccess: () => resolve(upload.url!),
      });
      upload.start();
    });
    const id = url.split('/').pop()!;
    expect(new Set(partials).size).toBe(3);
    expect(partials).not.toContain(url);
    expect((await stack.job(id)).name).toBe('In three parts');
    await expectOneVideo(id, sha256, size);
  });

  describe('in a real browser, from a page on another origin', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(() => browser.close());

    /** Runs a tool page (tus-js-client's and Uppy's bundles at hand) on an origin of its own: its #out text. */
    const runTool = (page: string) => runToolPage(browser, page, stack.relay, 60_000);

    it('takes tus-js-client’s browser bundle with parallelUploads: 3 and reads Upload-Concat (CORS)', async () => {
      const size = 5 * MB + 7;
      const out = await runTool(`<!doctype html><meta charset="utf-8"><title>tool</title>
<script src="/tus.min.js"></script><p id="out">starting</p>
<script>${PAGE_FILE}
  const params = new URLSearchParams(location.search);
  const headers = { Authorization: 'Bearer ' + params.get('token') };
  const file = makeFile(${size}, 'parallel-browser.mp4');
  const upload = new tus.Upload(file, {
    endpoint: params.get('relay') + '/files/',
    headers,
    parallelUploads: 3,
    chunkSize: 1024 * 1024,
    retryDelays: [0, 500],
    metadata: { filename: file.name, filetype: file.type, name: 'Parallel from a browser' },
    onError: (e) => done('error: ' + e.message),
    onSuccess: async () => {
      // The final upload's Upload-Concat, as a page on another origin may read it.
      const head = await fetch(upload.url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } });
      done('done ' + upload.url + ' ' + head.headers.get('Upload-Concat'));
    },
  });
  upload.start();
</script>`);
      const [status, url, concat] = out.split(' ');
      expect(status).toBe('done');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);
      expect(concat).toMatch(/^final;http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);
      // The partials, space-separated in the header, are the rest of the line.
      expect(out.split('final;')[1]!.split(' ')).toHaveLength(3);
      const id = url!.split('/').pop()!;
      expect((await stack.job(id)).name).toBe('Parallel from a browser');
      await expectOneVideo(id, pageFileSha256(size), size);
    });

    it('takes an Uppy 6 upload with the Tus plugin’s parallelUploads: 3', async () => {
      const size = 4 * MB + 5;
      const out = await runTool(`<!doctype html><meta charset="utf-8"><title>tool</title>
<script src="/uppy.min.js"></script><p id="out">starting</p>
<script>${PAGE_FILE}
  const params = new URLSearchParams(location.search);
  const headers = { Authorization: 'Bearer ' + params.get('token') };
  const uppy = new Uppy.Uppy().use(Uppy.Tus, {
    endpoint: params.get('relay') + '/files/',
    headers,
    parallelUploads: 3,
    chunkSize: 1024 * 1024,
    retryDelays: [0, 500],
  });
  uppy.addFile({ name: 'from-uppy.mp4', type: 'video/mp4', data: makeFile(${size}, 'from-uppy.mp4') });
  uppy.upload().then(async (result) => {
    if (result.successful.length !== 1) {
      done('error: ' + JSON.stringify(result.failed.map((f) => String(f.error))));
      return;
    }
    const url = result.successful[0].uploadURL;
    const head = await fetch(url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } });
    done('done ' + url + ' ' + head.headers.get('Upload-Concat'));
  }, (e) => done('error: ' + e.message));
</script>`);
      const [status, url, concat] = out.split(' ');
      expect(status).toBe('done');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);
      // Uppy passes parallelUploads through to tus-js-client: three partials, one final upload.
      expect(concat).toMatch(/^final;http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]+$/);
      expect(out.split('final;')[1]!.split(' ')).toHaveLength(3);
      const id = url!.split('/').pop()!;
      expect(await stack.job(id)).toMatchObject({ filename: 'from-uppy.mp4' });
      await expectOneVideo(id, pageFileSha256(size), size);
    });
  });
});
