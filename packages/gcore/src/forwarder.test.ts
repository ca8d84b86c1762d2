import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { writeVideoFile } from '@gtr/core/testing';
import { startEmulator } from '@gtr/gcore-emulator';
import { GcoreClient } from './client.js';
import { chooseUploadEndpoint } from './endpoint.js';
import {
  ForwardAbortedError,
  ForwardStalledError,
  GcoreError,
  GcoreTokenError,
  GcoreTusError,
} from './errors.js';
import type { ForwardOptions } from './forward-options.js';
import { forwardFile } from './forwarder.js';
import { IntegrityMismatchError } from './send-hash.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const MB = 1 << 20;
let emulator: Emulator;
let client: GcoreClient;
let dir: string;
let fileCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gcore-forwarder-'));
  emulator = await startEmulator({ port: 0 });
  client = new GcoreClient({ baseUrl: emulator.url, apiKey: emulator.apiKey });
});

afterEach(() => emulator.resetFaults());

afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh video, its upload parameters and a file of `size` bytes, ready to forward. */
async function prepare(size: number) {
  const filePath = join(dir, `video-${++fileCount}.mp4`);
  const { sha256 } = await writeVideoFile(filePath, size, fileCount);
  const video = await client.createVideo({ name: `forward ${fileCount}` });
  const params = await client.getUploadParams(video.id);
  const options: ForwardOptions = {
    filePath,
    // The emulator's upload server is plain HTTP on loopback.
    endpoint: chooseUploadEndpoint(params, { allowInsecure: true }),
    chunkSize: MB,
    retryDelays: [0, 50, 100, 200],
    metadata: {
      filename: `forward-${fileCount}.mp4`,
      filetype: 'video/mp4',
      token: params.token,
      video_id: params.video.id,
      client_id: params.video.client_id,
    },
  };
  return { videoId: video.id, size, sha256, params, options };
}

async function failure(promise: Promise<unknown>): Promise<GcoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GcoreError) return error;
    throw error;
  }
  throw new Error('expected a GcoreError, but the forward succeeded');
}

describe('forwardFile against the emulator', () => {
  it('uploads a file whose bytes arrive intact, reporting the URL before any byte', async () => {
    const { videoId, size, sha256, options } = await prepare(3 * MB + 12_345);
    const events: string[] = [];
    const result = await forwardFile({
      ...options,
      onUploadUrl: async (url) => {
        // Persisting is awaited: no PATCH may start before it finishes.
        await new Promise((resolve) => setTimeout(resolve, 50));
        events.push(`url ${url.startsWith(options.endpoint)} patches=${emulator.video(videoId)?.patches}`);
      },
      onProgress: (acknowledged, total) => events.push(`progress ${acknowledged}/${total}`),
    });

    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(result).toMatchObject({ resumedFrom: 0, bytesSent: size, stallRestarts: 0, rateLimitWaitMs: 0 });
    expect(result.uploadUrl.startsWith(options.endpoint)).toBe(true);
    expect(events[0]).toBe('url true patches=0');
    expect(events.at(-1)).toBe(`progress ${size}/${size}`);
    expect(emulator.video(videoId)?.tusUploads).toBe(1);
  });

  it('resumes after an aborted upload, re-sending at most one chunk', async () => {
    const { videoId, size, sha256, options } = await prepare(4 * MB);
    emulator.setFaults({ bandwidthBytesPerSec: 4 * MB });
    const controller = new AbortController();
    let uploadUrl: string | undefined;
    let abortScheduled = false;

    const first = forwardFile({
      ...options,
      signal: controller.signal,
      onUploadUrl: (url) => {
        uploadUrl = url;
      },
      onProgress: (acknowledged) => {
        // Abort in the middle of the second chunk's PATCH.
        if (acknowledged >= MB && !abortScheduled) {
          abortScheduled = true;
          setTimeout(() => controller.abort(), 100);
        }
      },
    });
    const aborted = await failure(first);
    expect(aborted).toBeInstanceOf(ForwardAbortedError);
    expect(aborted.retryable).toBe(false);
    expect(controller.signal.aborted).toBe(true);
    expect(uploadUrl).toBeDefined();
    // Cut short, not finished first: Gcore holds less than the file.
    expect(emulator.video(videoId)!.bytesPatched).toBeLessThan(size);

    emulator.resetFaults();
    const urls: string[] = [];
    const second = await forwardFile({
      ...options,
      uploadUrl: uploadUrl!,
      onUploadUrl: (url) => {
        urls.push(url);
      },
    });

    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(second.uploadUrl).toBe(uploadUrl);
    expect(urls).toEqual([]);
    expect(second.resumedFrom).toBeGreaterThanOrEqual(MB);
    expect(second.bytesSent).toBe(size - second.resumedFrom);
    const video = emulator.video(videoId)!;
    expect(video.tusUploads).toBe(1);
    expect(video.bytesPatched - size).toBeLessThanOrEqual(MB);
  });

  it('starts a new upload when the one to resume is gone, and reports its URL', async () => {
    const { videoId, sha256, options } = await prepare(MB + 1);
    const urls: string[] = [];
    const gone = `${options.endpoint}0123456789abcdef0123456789abcdef`;
    const result = await forwardFile({
      ...options,
      uploadUrl: gone,
      onUploadUrl: (url) => {
        urls.push(url);
      },
    });
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(urls).toEqual([result.uploadUrl]);
    expect(result.uploadUrl).not.toBe(gone);
    expect(result.resumedFrom).toBe(0);
  });

  it('fails with the callback error, before sending a byte, when the upload URL cannot be persisted', async () => {
    const { videoId, options } = await prepare(MB);
    const error = await forwardFile({
      ...options,
      onUploadUrl: () => {
        throw new Error('redis is down');
      },
    }).catch((e: unknown) => e);
    expect(error).toEqual(new Error('redis is down'));
    expect(emulator.video(videoId)?.patches).toBe(0);
  });

  it('waits out a 429 on the resume HEAD instead of starting the upload over', async () => {
    const { options } = await prepare(MB);
    // A bare TUS server whose upload is already complete; its first HEAD is rate limited.
    const methods: string[] = [];
    const server = createServer((req, res) => {
      methods.push(req.method ?? '');
      if (req.method === 'HEAD' && methods.filter((m) => m === 'HEAD').length === 1) {
        res.writeHead(429, { 'Tus-Resumable': '1.0.0', 'retry-after-ms': '120' }).end();
      } else if (req.method === 'HEAD') {
        const length = String(MB);
        res
          .writeHead(200, { 'Tus-Resumable': '1.0.0', 'Upload-Offset': length, 'Upload-Length': length })
          .end();
      } else {
        res.writeHead(500).end();
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload/`;
    try {
      const waits: number[] = [];
      const result = await forwardFile({
        ...options,
        endpoint: base,
        uploadUrl: `${base}done`,
        onRateLimited: (ms) => waits.push(ms),
      });
      expect(methods).toEqual(['HEAD', 'HEAD']);
      expect(waits).toEqual([120]);
      expect(result).toMatchObject({ resumedFrom: MB, bytesSent: 0, uploadUrl: `${base}done` });
    } finally {
      server.close();
    }
  });

  it('recovers from a PATCH that stalls, by abandoning it and resuming from the acknowledged offset', async () => {
    const { videoId, sha256, options } = await prepare(3 * MB);
    emulator.setFaults({ patchStallEveryN: 2 });
    const result = await forwardFile({ ...options, stallTimeoutMs: 400 });
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(result.stallRestarts).toBeGreaterThanOrEqual(1);
    expect(emulator.stats().patchStalls).toBeGreaterThanOrEqual(1);
  });

  it('gives up with ForwardStalledError when every PATCH stalls', async () => {
    const { options } = await prepare(2 * MB);
    emulator.setFaults({ patchStallEveryN: 1 });
    const error = await failure(forwardFile({ ...options, stallTimeoutMs: 200, maxStallRetries: 2 }));
    expect(error).toBeInstanceOf(ForwardStalledError);
    expect(error).toMatchObject({ code: 'FORWARD_STALLED', retryable: true, stalls: 3 });
  });

  it('waits out a 429 on PATCH as Retry-After says, then completes', async () => {
    const { videoId, sha256, options } = await prepare(3 * MB);
    emulator.setFaults({ patch429EveryN: 2, retryAfter: 'ms', retryAfterMs: 150 });
    const waits: number[] = [];
    const result = await forwardFile({ ...options, onRateLimited: (ms) => waits.push(ms) });
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits.every((ms) => ms === 150)).toBe(true);
    expect(result.rateLimitWaitMs).toBe(150 * waits.length);
  });

  it('hands a 429 back as retryable, with the wait, once it exceeds maxRateLimitWaitMs', async () => {
    const { options } = await prepare(MB);
    emulator.setFaults({ patch429EveryN: 1, retryAfter: 'seconds', retryAfterMs: 3000 });
    const error = await failure(forwardFile({ ...options, maxRateLimitWaitMs: 1000 }));
    expect(error).toBeInstanceOf(GcoreTusError);
    expect(error).toMatchObject({
      status: 429,
      code: 'GCORE_TUS_RATE_LIMITED',
      retryable: true,
      retryAfterMs: 3000,
    });
  });

  it('retries 5xx and dropped connections inside one call', async () => {
    const { videoId, sha256, options } = await prepare(4 * MB);
    emulator.setFaults({ patch5xxEveryN: 3, patchDropEveryN: 4 });
    const result = await forwardFile(options);
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(emulator.stats().patchDrops).toBeGreaterThanOrEqual(1);
    expect(result.bytesSent).toBeGreaterThan(4 * MB);
  });

  it('rejects promptly when aborted, even while waiting out a 429', async () => {
    const { options } = await prepare(MB);
    // Retry-After: one hour. Waiting it out instead of rejecting would outlast the test's timeout.
    emulator.setFaults({ patch429EveryN: 1, retryAfter: 'seconds', retryAfterMs: 3_600_000 });
    const controller = new AbortController();
    const patchesBefore = emulator.stats().patches;
    const forward = forwardFile({
      ...options,
      maxRateLimitWaitMs: 2 * 3_600_000,
      signal: controller.signal,
      onRateLimited: () => controller.abort(),
    });
    const error = await failure(forward);
    expect(error).toBeInstanceOf(ForwardAbortedError);
    // The refused PATCH was the only one: nothing was sent after the abort.
    expect(emulator.stats().patches - patchesBefore).toBe(1);
  });
});

describe('forwardFile token errors', () => {
  function expectRedacted(error: GcoreError, token: string) {
    const everything = `${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}\n${error.stack}`;
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(0, 10));
  }

  it('reports an expired token as GcoreTokenError(invalid) without the token, and without retrying', async () => {
    const { options, params } = await prepare(MB);
    emulator.advanceClock(4 * 3_600_000 + 1_000);
    const before = emulator.stats().tusRequests;
    const error = await failure(forwardFile(options));
    expect(error).toBeInstanceOf(GcoreTokenError);
    expect(error).toMatchObject({
      kind: 'invalid',
      code: 'GCORE_TUS_TOKEN_INVALID',
      retryable: true,
      status: 500,
    });
    expect(error.message).toMatch(/token invalid \(…\)/);
    expect(error.message).toMatch(/fetch fresh upload parameters/);
    expectRedacted(error, params.token);
    expect(emulator.stats().tusRequests - before).toBe(1);
  });

  it('reports a token for another video as GcoreTokenError(video_mismatch)', async () => {
    const { options, params } = await prepare(MB);
    const other = await client.createVideo({ name: 'other video' });
    const error = await failure(
      forwardFile({ ...options, metadata: { ...options.metadata, video_id: other.id } }),
    );
    expect(error).toBeInstanceOf(GcoreTokenError);
    expect(error).toMatchObject({ kind: 'video_mismatch', code: 'GCORE_TUS_TOKEN_VIDEO_MISMATCH' });
    expectRedacted(error, params.token);
  });

  it('reports a token for another client as GcoreTokenError(client_mismatch)', async () => {
    const { options, params } = await prepare(MB);
    const error = await failure(
      forwardFile({
        ...options,
        metadata: { ...options.metadata, client_id: Number(params.video.client_id) + 1 },
      }),
    );
    expect(error).toBeInstanceOf(GcoreTokenError);
    expect(error).toMatchObject({ kind: 'client_mismatch', code: 'GCORE_TUS_TOKEN_CLIENT_MISMATCH' });
    expectRedacted(error, params.token);
  });
});

describe('forwardFile with the sha256 the file must have', () => {
  it('checks the bytes it sends, through dropped PATCHes, 5xx and stalls that make it resume inside a chunk', async () => {
    const { videoId, sha256, options } = await prepare(5 * MB + 3);
    emulator.setFaults({ patch5xxEveryN: 3, patchDropEveryN: 4, patchStallEveryN: 5 });
    const result = await forwardFile({ ...options, sha256, stallTimeoutMs: 400 });
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
    expect(result.bytesSent).toBeGreaterThan(5 * MB + 3);
  });

  it('hashes the prefix from disk when it resumes a saved upload at offset > 0', async () => {
    const { videoId, size, sha256, options } = await prepare(4 * MB);
    const controller = new AbortController();
    let uploadUrl: string | undefined;
    const first = forwardFile({
      ...options,
      sha256,
      signal: controller.signal,
      onUploadUrl: (url) => {
        uploadUrl = url;
      },
      onProgress: (acknowledged) => {
        if (acknowledged >= 2 * MB) controller.abort();
      },
    });
    expect(await failure(first)).toBeInstanceOf(ForwardAbortedError);
    expect(emulator.video(videoId)!.bytesPatched).toBeLessThan(size);

    const second = await forwardFile({ ...options, sha256, uploadUrl: uploadUrl! });
    expect(second.resumedFrom).toBeGreaterThanOrEqual(2 * MB);
    expect(emulator.video(videoId)?.sha256).toBe(sha256);
  });

  it('holds back the last piece and rejects with UPLOAD_INTEGRITY_MISMATCH when the file is not the one expected', async () => {
    const { videoId, size, sha256, options } = await prepare(3 * MB);
    const expected = sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const error = await failure(forwardFile({ ...options, sha256: expected }));
    expect(error).toBeInstanceOf(IntegrityMismatchError);
    expect(error).toMatchObject({
      code: 'UPLOAD_INTEGRITY_MISMATCH',
      retryable: true,
      expected,
      actual: sha256,
    });
    const video = emulator.video(videoId)!;
    expect(video.sha256).toBeNull();
    expect(video.bytesPatched).toBeLessThan(size);
  });
});
