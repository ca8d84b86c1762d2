import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { tusUpload } from '@gtr/relay/testing';
import * as tus from 'tus-js-client';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;
const TOOL = 'finished-tool-token-0123456789abcdef';
const OTHER = 'another-tool-token-0123456789abcdefgh';
// With no operator token, tool tokens act as operators (and see every upload).
const TOKENS = [
  { name: 'tool', token: TOOL, role: 'tool' as const },
  { name: 'other', token: OTHER, role: 'tool' as const },
  { name: 'ops', token: 'operator-token-0123456789abcdefghij', role: 'operator' as const },
];

const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/** tus-js-client in Node, resuming `uploadUrl`; resolves with the URL and every request's method. */
function resume(stack: Stack, file: string, size: number, uploadUrl: string) {
  const methods: string[] = [];
  return new Promise<{ url: string; methods: string[] }>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(file), {
      endpoint: `${stack.relay.url}/files/`,
      uploadUrl,
      uploadSize: size,
      chunkSize: MB,
      metadata: { filename: path.basename(file) },
      headers: { Authorization: `Bearer ${TOOL}` },
      retryDelays: [],
      storeFingerprintForResuming: false,
      onBeforeRequest: (req) => {
        methods.push(req.getMethod());
      },
      onError: reject,
      onSuccess: () => resolve({ url: upload.url!, methods }),
    });
    upload.start();
  });
}

describe('a finished upload stays finished for its client', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'finished-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  const tusRequest = (url: string, method: string, headers: Record<string, string> = {}, token = TOOL) =>
    fetch(url, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0', ...headers },
    });

  /** Uploads a file, waits for its job to be ready and its local copy to be removed. */
  async function uploadAndForward(name: string, size: number) {
    const file = path.join(tmp, name);
    await writeVideoFile(file, size, 21);
    const url = await tusUpload({
      endpoint: `${stack.relay.url}/files/`,
      token: TOOL,
      file,
      chunkSize: MB,
      metadata: { filename: name },
    });
    const id = url.split('/').pop()!;
    expect((await stack.waitForState(id, ['ready', 'failed'])).state).toBe('ready');
    const local = path.join(stack.relay.relay.uploadDir, id);
    await waitFor(
      () =>
        fs.access(local).then(
          () => undefined,
          () => true,
        ),
      {
        what: 'the forwarded file to be removed',
      },
    );
    return { file, url, id };
  }

  it('answers HEAD 200 at its full length after forwarding, and a resume makes no second video', async () => {
    stack = await startStack({
      relay: { tokens: TOKENS },
    });
    const size = 2 * MB + 123;
    const { file, url, id } = await uploadAndForward('done.mp4', size);

    const head = await tusRequest(url, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(size));
    expect(head.headers.get('upload-length')).toBe(String(size));
    expect(head.headers.get('upload-expires')).toBeNull();
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(head.headers.get('tus-resumable')).toBe('1.0.0');

    const at = { 'Content-Type': 'application/offset+octet-stream' };
    const patched = await tusRequest(url, 'PATCH', { ...at, 'Upload-Offset': String(size) });
    expect(patched.status).toBe(204);
    expect(patched.headers.get('upload-offset')).toBe(String(size));
    const conflict = await tusRequest(url, 'PATCH', { ...at, 'Upload-Offset': '0' });
    expect(conflict.status).toBe(409);
    expect(await codeOf(conflict)).toBe('OFFSET_CONFLICT');
    // Finished uploads are not terminated over TUS, forwarded or not.
    const deleted = await tusRequest(url, 'DELETE');
    expect(deleted.status).toBe(400);
    expect(await codeOf(deleted)).toBe('INVALID_REQUEST');
    // Another tool's upload stays as if it did not exist.
    expect((await tusRequest(url, 'HEAD', {}, OTHER)).status).toBe(404);

    const resumed = await resume(stack, file, size, url);
    expect(resumed).toEqual({ url, methods: ['HEAD'] });
    expect(stack.emulator.videos()).toHaveLength(1);
    expect((await stack.relay.relay.jobs.list()).items.map((job) => job.id)).toEqual([id]);
    expect((await stack.job(id)).state).toBe('ready');
  });

  it('forgets it after FINISHED_UPLOAD_RETENTION: 404 as for any unknown upload', async () => {
    stack = await startStack({
      relay: { tokens: TOKENS, finishedUploadRetentionMs: 1 },
    });
    const { url } = await uploadAndForward('forgotten.mp4', MB);
    expect((await tusRequest(url, 'HEAD')).status).toBe(404);
  });

  it('takes an upload from tus-js-client with overridePatchMethod to ready, bytes intact', async () => {
    stack = await startStack({ relay: { tokens: TOKENS } });
    const file = path.join(tmp, 'override.mp4');
    const { sha256 } = await writeVideoFile(file, 3 * MB + 7, 22);
    const url = await tusUpload({
      endpoint: `${stack.relay.url}/files/`,
      token: TOOL,
      file,
      chunkSize: MB,
      overridePatchMethod: true,
      metadata: { filename: 'override.mp4' },
    });
    const job = await stack.waitForState(url.split('/').pop()!, ['ready', 'failed']);
    expect(job.state).toBe('ready');
    expect(stack.emulator.video(job.video!.id)).toMatchObject({ size: 3 * MB + 7, sha256 });
  });
});
