import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
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
