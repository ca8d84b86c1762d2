import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import { Transform } from 'node:stream';
import { Upload } from 'tus-js-client';

export interface ClientUploadOptions {
  endpoint: string;
  token: string;
  chunkSize: number;
  metadata: Record<string, string>;
  /** The client's uplink in bytes per second (so uploads are still running when something breaks). */
  bytesPerSecond: number;
  /** tus-js-client's retry delays: long enough to outlast whatever the test breaks. */
  retryDelays: number[];
  onProgress?: (bytes: number) => void;
  /** Called with the running upload, so a test can pause (abort), resume (start) or terminate it. */
  onStart?: (upload: Upload) => void;
}

/** An ordinary tus-js-client upload of a file from disk over a throttled link; resolves with its URL. */
export function clientUpload(file: string, options: ClientUploadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    fs.stat(file).then(({ size }) => {
      const tus = new Upload(createReadStream(file).pipe(throttle(options.bytesPerSecond)), {
        endpoint: options.endpoint,
        uploadSize: size,
        chunkSize: options.chunkSize,
        metadata: options.metadata,
        headers: { Authorization: `Bearer ${options.token}` },
        retryDelays: options.retryDelays,
        storeFingerprintForResuming: false,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        onError: reject,
        onSuccess: () => resolve(tus.url!),
      });
      options.onStart?.(tus);
      tus.start();
    }, reject);
  });
}

/** Passes bytes on no faster than `bytesPerSecond`. */
export function throttle(bytesPerSecond: number): Transform {
  const start = Date.now();
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      passed += chunk.length;
      const wait = start + (passed / bytesPerSecond) * 1_000 - Date.now();
      if (wait > 0) setTimeout(() => done(null, chunk), wait);
      else done(null, chunk);
    },
  });
}

/** A TUS upload sent as one PATCH whose body leaves no faster than `bytesPerSecond`. */
export interface CappedUpload {
  /** The upload's (and job's) id. */
  id: string;
  url: string;
  /** Resolves with the PATCH's status once the relay answered it. */
  done: Promise<number>;
}

/**
 * Creates the upload, then streams the file in one PATCH at a capped rate: the relay receives it
 * at that pace. (tus-js-client, given a stream, first buffers a whole chunk, then sends it at full
 * speed; this is what a slow link looks like.)
 */
export async function cappedUpload(
  endpoint: string,
  token: string,
  file: string,
  options: { bytesPerSecond: number; metadata: Record<string, string> },
): Promise<CappedUpload> {
  const { size } = await fs.stat(file);
  const metadata = Object.entries(options.metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
  const headers = { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0' };
  const created = await fetch(endpoint, {
    method: 'POST',
    headers: { ...headers, 'Upload-Length': String(size), 'Upload-Metadata': metadata },
  });
  if (created.status !== 201) throw new Error(`creation answered ${created.status}`);
  const url = new URL(created.headers.get('location')!, endpoint).toString();
  const done = new Promise<number>((resolve, reject) => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: {
        ...headers,
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
        'Content-Length': String(size),
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    createReadStream(file).pipe(throttle(options.bytesPerSecond)).pipe(req);
  });
  return { id: url.split('/').pop()!, url, done };
}

/** Starts the upload and stops it (the tool pausing) once the relay has `bytes` of it. */
export function pauseAt(upload: Upload, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    upload.options.onError = reject;
    upload.options.onChunkComplete = (_chunk, accepted) => {
      if (accepted < bytes) return;
      upload.options.onChunkComplete = null;
      void upload.abort(false).then(resolve, reject);
    };
    upload.start();
  });
}

/** Resumes a paused upload (HEAD, then the rest) and resolves when it is complete. */
export function resume(upload: Upload): Promise<void> {
  return new Promise((resolve, reject) => {
    upload.options.onError = reject;
    upload.options.onSuccess = () => resolve();
    upload.start();
  });
}
