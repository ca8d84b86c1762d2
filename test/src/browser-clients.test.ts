import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { waitFor } from '@gtr/core/testing';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { ROOT } from './support/processes.js';
import { type Stack, startStack } from './support/stack.js';

// A tool's page on another origin (CORS), with tus-js-client and Uppy 6 as browsers load them.
// Each upload function resolves with `{ url }` or `{ error }`.
const PAGE = `<!doctype html><meta charset="utf-8"><title>tool</title>
<script src="/tus.min.js"></script><script src="/uppy.min.js"></script>
<script>
  const params = new URLSearchParams(location.search);
  const endpoint = params.get('relay') + '/files/';
  const headers = { Authorization: 'Bearer ' + params.get('token') };
  function video(name, size, seed) {
    const bytes = new Uint8Array(size);
    bytes.set([0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109]);
    for (let i = 12; i < size; i++) bytes[i] = (i * 7919 + seed) & 255;
    return new File([bytes], name, { type: 'video/mp4', lastModified: 1700000000000 + seed });
  }
  window.withTus = (name, options) => new Promise((resolve) => {
    const file = video(name, 3 * 1024 * 1024, name.length);
    const upload = new tus.Upload(file, {
      endpoint, headers, chunkSize: 1024 * 1024, retryDelays: [0, 500],
      metadata: { filename: file.name, filetype: file.type },
      storeFingerprintForResuming: false,
      ...options,
      onError: (e) => resolve({ error: String(e) }),
      onSuccess: () => resolve({ url: upload.url }),
    });
    upload.start();
  });
  // One File, as a tool keeps it between two attempts; each attempt is a fresh Uppy.
  const kept = video('kept.mp4', 2 * 1024 * 1024 + 5, 3);
  window.withUppy = async () => {
    const uppy = new Uppy.Uppy().use(Uppy.Tus, { endpoint, headers, chunkSize: 1024 * 1024, retryDelays: [0, 500] });
    try {
      uppy.addFile({ name: kept.name, type: kept.type, data: kept, source: 'tool' });
      const result = await uppy.upload();
      const done = result && result.successful[0];
      if (!done) return { error: String(result && result.failed[0] && result.failed[0].error) };
      return { url: done.response.uploadURL };
    } finally {
      uppy.destroy();
    }
  };
</script>`;

interface Outcome {
  url?: string;
  error?: string;
}

describe('real browser clients, in a page on another origin', () => {
  let browser: Browser;
  let tool: http.Server;
  let origin: string;
  let stack: Stack;
  let context: BrowserContext;
  let tab: Page;
  /** Requests the page sent to the relay's /files, as `METHOD path`. */
  let sent: string[];
  /** Their `X-Request-ID` headers (undefined: none). */
  let requestIds: (string | undefined)[];

  beforeAll(async () => {
    browser = await launchChromium();
    const bundles: Record<string, Buffer> = {
      '/tus.min.js': await fs.readFile(path.join(ROOT, 'test/node_modules/tus-js-client/dist/tus.min.js')),
      '/uppy.min.js': await fs.readFile(path.join(ROOT, 'test/node_modules/uppy/dist/uppy.min.js')),
    };
    tool = http.createServer((req, res) => {
      const bundle = bundles[req.url ?? ''];
      res.setHeader('Content-Type', bundle ? 'text/javascript' : 'text/html');
      res.end(bundle ?? PAGE);
    });
    await new Promise<void>((r) => tool.listen(0, '127.0.0.1', r));
    origin = `http://localhost:${(tool.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser.close();
    tool.close();
  });
  beforeEach(async () => {
    stack = await startStack();
    context = await browser.newContext();
    tab = await context.newPage();
    sent = [];
    requestIds = [];
    tab.on('request', (req) => {
      const url = new URL(req.url());
      if (url.origin === stack.relay.url && url.pathname.startsWith('/files')) {
        sent.push(`${req.method()} ${url.pathname}`);
        if (req.method() !== 'OPTIONS') requestIds.push(req.headers()['x-request-id']);
      }
    });
    const query = new URLSearchParams({ relay: stack.relay.url, token: stack.relay.token });
    await tab.goto(`${origin}/?${query}`);
  });
  afterEach(async () => {
    await context.close();
    await stack.close();
  });

  const run = (expression: string): Promise<Outcome> => tab.evaluate(expression) as Promise<Outcome>;
  const idOf = (outcome: Outcome) => {
    expect(outcome).toEqual({ url: expect.stringMatching(/\/files\/[0-9a-f]+$/) });
    return outcome.url!.split('/').pop()!;
  };

  it('takes tus-js-client uploads with addRequestId to ready', async () => {
    const id = idOf(await run(`withTus('request-id.mp4', { addRequestId: true })`));
    expect((await stack.waitForState(id, ['ready', 'failed'])).state).toBe('ready');
    // POST and three PATCHes, each with its own id.
    expect(requestIds).toHaveLength(4);
    expect(new Set(requestIds.map((r) => r ?? 'none')).size).toBe(4);
    expect(requestIds).not.toContain(undefined);
  });

  it('takes tus-js-client uploads with overridePatchMethod to ready (PATCHes sent as POST)', async () => {
    const id = idOf(await run(`withTus('override.mp4', { overridePatchMethod: true })`));
    expect((await stack.waitForState(id, ['ready', 'failed'])).state).toBe('ready');
    expect(sent.filter((r) => r.startsWith('PATCH'))).toEqual([]);
    expect(sent.filter((r) => r === `POST /files/${id}`)).toHaveLength(3);
  });

  it('lets Uppy add a file again after it was forwarded: no new upload, no second video', async () => {
    const first = await run('withUppy()');
    const id = idOf(first);
    expect((await stack.waitForState(id, ['ready', 'failed'])).state).toBe('ready');
    await waitFor(
      () =>
        fs.access(path.join(stack.relay.relay.uploadDir, id)).then(
          () => undefined,
          () => true,
        ),
      { what: 'the forwarded file to be removed' },
    );
    const creations = () => sent.filter((r) => r === 'POST /files/');
    expect(creations()).toHaveLength(1);

    // Uppy found the upload's URL in localStorage and asks the relay where it stands.
    const again = await run('withUppy()');
    expect(again).toEqual(first);
    expect(sent.at(-1)).toBe(`HEAD /files/${id}`);
    expect(creations()).toHaveLength(1);
    expect(stack.emulator.videos()).toHaveLength(1);
    expect((await stack.relay.relay.jobs.list()).items).toHaveLength(1);
  });
});
