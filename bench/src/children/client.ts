/**
 * The uploading side, in a process of its own: ordinary tus-js-client uploads from disk, timed.
 * `upload` sends files to a TUS endpoint (the relay or the bare @tus/server); `gcoreUpload` is the
 * forward anchor — what a script would do without the relay: create the video, fetch the upload
 * parameters, and TUS the file to Gcore (here: the emulator).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
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

serve({
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
