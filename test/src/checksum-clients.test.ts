import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeVideoFile } from '@gtr/core/testing';
import type { Browser } from 'playwright-core';
import { launchChromium, runToolPage } from './support/browser.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;
const run = promisify(execFile);

/** Debian's python3-tuspy lives in the system python's dist-packages (not in a pyenv one on PATH). */
const PYTHON = '/usr/bin/python3';

// tuspy 1.0 sends `Upload-Checksum: sha1 …` with every PATCH (upload_checksum=True). The script
// spoils the body of its second PATCH once (the checksum still of the real bytes), as a network
// that flips a bit would: the relay must refuse that PATCH and tuspy resume from the relay's offset.
const TUSPY_SCRIPT = `
import json, os, sys
import tusclient.request
from tusclient import client

real_patch = tusclient.request.requests.patch
seen = []

def patch(url, data=None, headers=None, **kwargs):
    spoil = len(seen) == 1
    if spoil:
        data = bytes([data[0] ^ 1]) + data[1:]
    response = real_patch(url, data=data, headers=headers, **kwargs)
    seen.append({'status': response.status_code, 'checksum': headers.get('upload-checksum', ''), 'spoiled': spoil})
    return response

tusclient.request.requests.patch = patch
endpoint, path, chunk_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
tus = client.TusClient(endpoint, headers={'Authorization': 'Bearer ' + os.environ['RELAY_TOKEN']})
uploader = tus.uploader(file_path=path, chunk_size=chunk_size, upload_checksum=True, retries=2, retry_delay=0,
                        metadata={'filename': 'from-tuspy.mp4', 'name': 'tuspy upload'})
uploader.upload()
print(json.dumps({'url': uploader.url, 'patches': seen}))
`;

interface TuspyPatch {
  status: number;
  checksum: string;
  spoiled: boolean;
}

describe('real TUS clients that send Upload-Checksum', () => {
  let stack: Stack;
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'checksum-clients-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  it("takes python3-tuspy's sha1-checksummed upload to ready, refusing the PATCH spoiled on the way", async () => {
    await run(PYTHON, ['-c', 'import tusclient']).catch((error: unknown) => {
      throw new Error(
        `${PYTHON} cannot import tusclient: install Debian's python3-tuspy (apt-get install -y python3-tuspy; .ci/run does)\n${String(error)}`,
      );
    });
    stack = await startStack();
    const file = path.join(tmp, 'tuspy.mp4');
    const { sha256 } = await writeVideoFile(file, 3 * MB + 12_345, 21);
    const script = path.join(tmp, 'upload.py');
    await fs.writeFile(script, TUSPY_SCRIPT);
    const { stdout } = await run(PYTHON, [script, `${stack.relay.url}/files/`, file, String(MB)], {
      env: { PATH: '/usr/bin:/bin', RELAY_TOKEN: stack.relay.token },
      timeout: 120_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { url: string; patches: TuspyPatch[] };

    expect(result.patches.map((p) => [p.status, p.spoiled])).toEqual([
      [204, false],
      [460, true],
      [204, false],
      [204, false],
      [204, false],
    ]);
    for (const p of result.patches) expect(p.checksum).toMatch(/^sha1 [A-Za-z0-9+/]{27}=$/);
    const id = result.url.split('/').pop()!;
    const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
    expect(job).toMatchObject({ state: 'ready', name: 'tuspy upload', filename: 'from-tuspy.mp4' });
    expect(stack.emulator.video(job.video!.id)!.sha256).toBe(sha256);
  });

  describe('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(() => browser?.close());

    it('takes a tus-js-client upload with sha256 Upload-Checksums from another origin to ready', async () => {
      stack = await startStack();
      const size = 3 * MB + 4_321;
      // Each PATCH gets the sha256 of its chunk (crypto.subtle; localhost is a secure context); the
      // first one's checksum is of other bytes, once, so the relay's 460 shows in the statuses.
      const page = `<!doctype html><meta charset="utf-8"><title>tool</title><script src="/tus.min.js"></script>
<p id="out">starting</p>
<script>
  const params = new URLSearchParams(location.search);
  const bytes = new Uint8Array(${size});
  bytes.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
  for (let i = 12; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
  const file = new File([bytes], 'summed.mp4', { type: 'video/mp4' });
  const chunkSize = 1024 * 1024;
  const statuses = [];
  let spoil = true;
  const upload = new tus.Upload(file, {
    endpoint: params.get('relay') + '/files/',
    headers: { Authorization: 'Bearer ' + params.get('token') },
    chunkSize,
    retryDelays: [0, 200, 500],
    metadata: { filename: file.name, filetype: file.type, name: 'Checksummed in a browser' },
    onBeforeRequest: async (req) => {
      if (req.getMethod() !== 'PATCH') return;
      const offset = Number(req.getHeader('Upload-Offset'));
      const chunk = new Uint8Array(await file.slice(offset, offset + chunkSize).arrayBuffer());
      if (spoil) { chunk[0] ^= 1; spoil = false; }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', chunk));
      req.setHeader('Upload-Checksum', 'sha256 ' + btoa(String.fromCharCode(...digest)));
    },
    onAfterResponse: (req, res) => { if (req.getMethod() === 'PATCH') statuses.push(res.getStatus()); },
    // tus-js-client gives up on a 4xx; a checksum mismatch is worth sending again.
    onShouldRetry: (error) => error.originalResponse?.getStatus() === 460,
    onError: (e) => { document.getElementById('out').textContent = 'error: ' + e.message; },
    onSuccess: () => { document.getElementById('out').textContent = 'done ' + JSON.stringify({ url: upload.url, statuses }); },
  });
  upload.start();
</script>`;
      const out = await runToolPage(browser, page, stack.relay);
      expect(out).toMatch(/^done /);
      const { url, statuses } = JSON.parse(out.slice('done '.length)) as {
        url: string;
        statuses: number[];
      };
      expect(statuses).toEqual([460, 204, 204, 204, 204]);
      const id = url.split('/').pop()!;
      const job = await stack.waitForState(id, ['ready', 'failed'], 60_000);
      expect(job).toMatchObject({
        state: 'ready',
        name: 'Checksummed in a browser',
        filename: 'summed.mp4',
      });
      const expected = Buffer.alloc(size);
      expected.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
      for (let i = 12; i < size; i++) expected[i] = (i * 7919) & 255;
      const sha256 = createHash('sha256').update(expected).digest('hex');
      expect(stack.emulator.video(job.video!.id)!.sha256).toBe(sha256);
    });
  });
});
