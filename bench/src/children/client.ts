/**
 * The uploading side, in a process of its own: ordinary tus-js-client uploads from disk, timed.
 * `upload` sends files to a TUS endpoint (the relay or the bare @tus/server); `gcoreUpload` is the
 * forward anchor — what a script would do without the relay: create the video, fetch the upload
 * parameters, and TUS the file to Gcore (here: the emulator).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { type ClientRequest, request } from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chooseUploadEndpoint, GcoreClient } from '@gtr/gcore';
import { DefaultHttpStack, type HttpRequest, type HttpResponse, type HttpStack, Upload } from 'tus-js-client';
import { now } from '../lib/clock.js';
import { serve } from '../lib/rpc.js';

export interface UploadResult {
  filename: string;
  url: string;
  /** Just before `upload.start()` (for gcoreUpload: before the create-video call). */
  startAt: number;
  /** The last byte of the last PATCH was handed to the kernel. */
  lastByteAt: number;
  /** The server answered the last PATCH. */
  doneAt: number;
  retries: number;
}

interface FileSpec {
  path: string;
  filename: string;
}

/** tus-js-client's Node stack, noting when each request's body has been fully written. */
class TimedHttpStack implements HttpStack {
  readonly #inner = new DefaultHttpStack({});
  lastByteAt = 0;

  createRequest(method: string, url: string): HttpRequest {
    const inner = this.#inner.createRequest(method, url);
    const send = inner.send.bind(inner);
    inner.send = (body?: unknown): Promise<HttpResponse> => {
      const answer = send(body as never);
      if (method === 'PATCH') {
        (inner.getUnderlyingObject() as ClientRequest).once('finish', () => {
          this.lastByteAt = now();
        });
      }
      return answer;
    };
    return inner;
  }

  getName(): string {
    return 'TimedHttpStack';
  }
}

async function tusUpload(
  file: FileSpec,
  options: {
    endpoint: string;
    headers: Record<string, string>;
    metadata: Record<string, string>;
    chunkSize: number | null;
    startAt?: number;
  },
): Promise<UploadResult> {
  const size = (await stat(file.path)).size;
  const stack = new TimedHttpStack();
  let retries = 0;
  const startAt = options.startAt ?? now();
  return new Promise<UploadResult>((resolve, reject) => {
    const upload = new Upload(createReadStream(file.path) as unknown as Buffer, {
      endpoint: options.endpoint,
      uploadSize: size,
      chunkSize: options.chunkSize ?? Number.POSITIVE_INFINITY,
      metadata: options.metadata,
      headers: options.headers,
      httpStack: stack,
      retryDelays: [0, 500, 1_000, 2_000],
      storeFingerprintForResuming: false,
      onShouldRetry: () => {
        retries++;
        return true;
      },
      onError: reject,
      onSuccess: () =>
        resolve({
          filename: file.filename,
          url: upload.url ?? '',
          startAt,
          lastByteAt: stack.lastByteAt,
          doneAt: now(),
          retries,
        }),
    });
    upload.start();
  });
}

/** Runs `work` over `items`, `concurrency` at a time, keeping the order of results. */
async function pool<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * One upload in `chunkSize` PATCHes of plain HTTP, each with `Upload-Checksum: <algorithm> …` when
 * an algorithm is given. The digests are computed before the clock starts: only the server's side
 * of the checksum is timed.
 */
async function checksumUpload(params: {
  endpoint: string;
  token: string;
  path: string;
  chunkSize: number;
  algorithm: string | null;
}): Promise<UploadResult> {
  const size = (await stat(params.path)).size;
  const file = await open(params.path);
  try {
    const buffer = Buffer.alloc(params.chunkSize);
    const read = async (offset: number) => {
      const { bytesRead } = await file.read(buffer, 0, Math.min(params.chunkSize, size - offset), offset);
      return buffer.subarray(0, bytesRead);
    };
    const checksums: string[] = [];
    for (let offset = 0; offset < size; offset += params.chunkSize) {
      if (params.algorithm) {
        const digest = createHash(params.algorithm)
          .update(await read(offset))
          .digest('base64');
        checksums.push(`${params.algorithm} ${digest}`);
      }
    }
    const auth = { Authorization: `Bearer ${params.token}`, 'Tus-Resumable': '1.0.0' };
    const send = (method: string, url: string, headers: Record<string, string>, body?: Buffer) =>
      new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        const req = request(url, { method, headers: { ...auth, ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const startAt = now();
    const filename = Buffer.from(`checksum-${params.algorithm ?? 'none'}.mp4`).toString('base64');
    const created = await send('POST', params.endpoint, {
      'Upload-Length': String(size),
      'Upload-Metadata': `filename ${filename}`,
    });
    if (created.status !== 201 || !created.location) throw new Error(`creation answered ${created.status}`);
    const url = new URL(created.location, params.endpoint).toString();
    let lastByteAt = startAt;
    for (let offset = 0, i = 0; offset < size; offset += params.chunkSize, i++) {
      const body = await read(offset);
      const answer = await send(
        'PATCH',
        url,
        {
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(body.length),
          ...(params.algorithm ? { 'Upload-Checksum': checksums[i]! } : {}),
        },
        body,
      );
      lastByteAt = now();
      if (answer.status !== 204) throw new Error(`PATCH at ${offset} answered ${answer.status}`);
    }
    return { filename: path.basename(params.path), url, startAt, lastByteAt, doneAt: now(), retries: 0 };
  } finally {
    await file.close();
  }
}

/**
 * Lets bytes through at `bytesPerSec` on average: each piece is passed on once the rate would have
 * let it through. A timer that fires late may be caught up on for up to 20 ms, no more (no bursts
 * after a stall of the reader).
 */
function pace(bytesPerSec: number): Transform {
  let nextFree = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const at = performance.now();
      nextFree = Math.max(at - 20, nextFree) + (chunk.length * 1_000) / bytesPerSec;
      const wait = nextFree - at;
      if (wait >= 1) setTimeout(() => callback(null, chunk), wait);
      else callback(null, chunk);
    },
  });
}

/**
 * A client on a slow link: one upload, created with its length, then one PATCH of plain HTTP whose
 * body is read from disk through {@link pace}. `lastByteAt` is when the body's last byte was handed
 * to the kernel (the request's `finish`), so about when the relay has it.
 */
async function pacedUpload(params: {
  endpoint: string;
  token: string;
  path: string;
  filename: string;
  bytesPerSec: number;
}): Promise<UploadResult> {
  const size = (await stat(params.path)).size;
  const auth = { Authorization: `Bearer ${params.token}`, 'Tus-Resumable': '1.0.0' };
  const startAt = now();
  const location = await new Promise<string>((resolve, reject) => {
    const metadata = `filename ${Buffer.from(params.filename).toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`;
    const req = request(
      params.endpoint,
      { method: 'POST', headers: { ...auth, 'Upload-Length': String(size), 'Upload-Metadata': metadata } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 201 && res.headers.location
            ? resolve(new URL(res.headers.location, params.endpoint).toString())
            : reject(new Error(`creation answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
  let lastByteAt = 0;
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(
      location,
      {
        method: 'PATCH',
        headers: {
          ...auth,
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(size),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 204 ? resolve(now()) : reject(new Error(`PATCH answered ${res.statusCode}`)),
        );
      },
    );
    req.once('finish', () => {
      lastByteAt = now();
    });
    pipeline(
      createReadStream(params.path, { highWaterMark: 256 * 1024 }),
      pace(params.bytesPerSec),
      req,
    ).catch(reject);
  });
  const doneAt = await answered;
  return { filename: params.filename, url: location, startAt, lastByteAt, doneAt, retries: 0 };
}

serve({
  checksumUpload,
  pacedUpload,
  upload: (params: {
    endpoint: string;
    token?: string;
    files: FileSpec[];
    chunkSize: number | null;
    concurrency?: number;
  }) =>
    pool(params.files, params.concurrency ?? 1, (file) =>
      tusUpload(file, {
        endpoint: params.endpoint,
        headers: params.token ? { Authorization: `Bearer ${params.token}` } : {},
        metadata: { filename: file.filename, filetype: 'video/mp4' },
        chunkSize: params.chunkSize,
      }),
    ),
  gcoreUpload: (params: { apiUrl: string; apiKey: string; files: FileSpec[]; chunkSize: number | null }) =>
    pool(params.files, 1, async (file) => {
      const startAt = now();
      const gcore = new GcoreClient({ baseUrl: params.apiUrl, apiKey: params.apiKey });
      const video = await gcore.createVideo({ name: file.filename.replace(/\.[^.]+$/, '') });
      const upload = await gcore.getUploadParams(video.id);
      return tusUpload(file, {
        // The emulator the bench runs against serves its upload server over plain HTTP on loopback.
        endpoint: chooseUploadEndpoint(upload, { allowInsecure: true }),
        headers: {},
        metadata: {
          filename: file.filename,
          filetype: 'video/mp4',
          token: upload.token,
          video_id: String(video.id),
          client_id: String(upload.video?.client_id ?? video.client_id ?? ''),
        },
        chunkSize: params.chunkSize,
        startAt,
      });
    }),
});
process.send?.({ ready: true });
