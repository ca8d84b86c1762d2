import { type DetailedError, type HttpRequest, type HttpResponse, Upload } from 'tus-js-client';
import type { ChunkReader } from './chunk-reader.js';
import { ForwardAbortedError, GcoreError, tokenErrorKind } from './errors.js';
import type { ForwardLogger } from './forward-options.js';
import { ObservedHttpStack } from './observed-http-stack.js';
import { classifyTusError, tusResponseError } from './tus-errors.js';
import { Watchdog } from './watchdog.js';

/** What one forward call has learnt so far; survives from one tus-js-client run to the next. */
export interface ForwardState {
  /** The TUS upload URL, once known. */
  uploadUrl: string | undefined;
  /** The last URL handed to `onUploadUrl` (or given by the caller), so each is reported once. */
  reportedUrl: string | undefined;
  /** The offset the server last acknowledged (PATCH answer or HEAD). */
  offset: number;
  /** Offset the first HEAD reported, or 0 once a new upload was created. */
  resumedFrom: number | undefined;
  bytesSent: number;
}

export interface AttemptInput {
  /** The file, read chunk by chunk (see chunk-reader.ts); one reader serves every run of a forward. */
  fileReader: ChunkReader;
  endpoint: string;
  size: number;
  chunkSize: number;
  metadata: Record<string, string>;
  retryDelays: number[];
  stallTimeoutMs: number;
  /** Strings that must never reach an error message (the TUS token). */
  secrets: string[];
  signal: AbortSignal | undefined;
  logger: ForwardLogger | undefined;
  onUploadUrl: ((url: string) => void | Promise<void>) | undefined;
  onProgress: ((bytesAcknowledged: number, total: number) => void) | undefined;
  state: ForwardState;
}

/** How a run ended when it did not fail for good. */
export type AttemptOutcome = { kind: 'done' } | { kind: 'stalled' } | { kind: 'failed'; error: GcoreError };

/**
 * One run of tus-js-client: resumes from `state.uploadUrl` (HEAD → offset) or creates the upload,
 * then PATCHes chunks until done, a stall, the caller's abort, or an error tus-js-client gave up on.
 * A fresh `Upload` per run keeps late callbacks of an aborted run from touching the next one.
 */
export function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const { state, logger } = input;
  return new Promise<AttemptOutcome>((resolve, reject) => {
    let settled = false;
    let persisting: Promise<void> | undefined;

    const finish = (outcome: AttemptOutcome | Error, abortUpload: boolean): void => {
      if (settled) return;
      settled = true;
      watchdog.stop();
      if (input.fileReader.observer === observer) input.fileReader.observer = undefined;
      input.signal?.removeEventListener('abort', onAbort);
      if (abortUpload) void upload.abort(false).catch(() => {});
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onAbort = (): void => finish(new ForwardAbortedError(), true);
    // A throwing progress callback must not look like a failed request to tus-js-client's retries.
    const progress = (acknowledged: number): void => {
      try {
        input.onProgress?.(acknowledged, input.size);
      } catch (error) {
        logger?.warn({ err: error }, 'onProgress threw; ignored');
      }
    };
    const watchdog = new Watchdog(input.stallTimeoutMs, () => finish({ kind: 'stalled' }, true));
    // A slice waiting for bytes still to arrive (a streamed upload) is not a stalled transfer.
    const observer = {
      waiting: () => watchdog.pause(),
      done: () => watchdog.resume(),
    };

    const reportUrl = (url: string): void => {
      state.uploadUrl = url;
      if (url === state.reportedUrl) return;
      state.reportedUrl = url;
      state.resumedFrom ??= 0;
      logger?.info({ uploadUrl: url }, 'Gcore TUS upload created');
      const { onUploadUrl } = input;
      if (!onUploadUrl) return;
      watchdog.pause();
      persisting = Promise.resolve()
        .then(() => onUploadUrl(url))
        .finally(() => watchdog.resume());
      persisting.catch((error: unknown) =>
        finish(error instanceof Error ? error : new Error(String(error)), true),
      );
    };

    const inspectResponse = (req: HttpRequest, res: HttpResponse): void => {
      watchdog.touch();
      if (req.getMethod() !== 'HEAD') return;
      const status = res.getStatus();
      if (status >= 200 && status < 300) {
        const offset = Number.parseInt(res.getHeader('Upload-Offset') ?? '', 10);
        if (Number.isNaN(offset)) return;
        state.offset = offset;
        state.resumedFrom ??= offset;
        progress(offset);
        return;
      }
      if (status === 404 || status === 410) {
        logger?.warn({ uploadUrl: req.getURL(), status }, 'Gcore TUS upload is gone; starting a new one');
        return;
      }
      if (status === 423) return;
      // tus-js-client would answer any other 4xx on HEAD by creating a new upload and sending the
      // whole file again; a 429 or 403 says nothing about the upload being gone, so stop here.
      throw tusResponseError('HEAD', req.getURL(), res, input.secrets);
    };

    const shouldRetry = (error: DetailedError, attempt: number): boolean => {
      // Errors thrown from our own hooks above are final for this run.
      if (settled || error.causingError instanceof GcoreError) return false;
      const res = error.originalResponse;
      const status = res?.getStatus() ?? 0;
      const method = error.originalRequest?.getMethod() ?? '';
      let retry: boolean;
      if (status === 0) retry = true;
      else if (status === 429 || tokenErrorKind(res?.getBody() ?? '')) retry = false;
      else if (status >= 500) retry = true;
      // 409: offset mismatch, 423: locked — both resolve after a HEAD; a PATCH 404/410 means the
      // upload expired, and a new run's HEAD sees that and creates a new one.
      else
        retry =
          status === 409 || status === 423 || (method === 'PATCH' && (status === 404 || status === 410));
      if (retry) {
        const delayMs = input.retryDelays[attempt] ?? 0;
        watchdog.touch(delayMs);
        logger?.warn({ method, status, attempt: attempt + 1, delayMs }, 'Gcore TUS request failed; retrying');
      }
      return retry;
    };

    const upload = new Upload(
      // Upload wants a file argument; the fileReader below is what reads the file.
      input.fileReader as unknown as Buffer,
      {
        endpoint: input.endpoint,
        uploadUrl: state.uploadUrl ?? null,
        uploadSize: input.size,
        chunkSize: input.chunkSize,
        metadata: input.metadata,
        retryDelays: input.retryDelays,
        // The caller persists the upload URL; no process-wide fingerprint store.
        storeFingerprintForResuming: false,
        removeFingerprintOnSuccess: false,
        fileReader: input.fileReader,
        httpStack: new ObservedHttpStack({
          onBodyBytes: (bytes) => {
            if (settled) return;
            state.bytesSent += bytes;
            watchdog.touch();
          },
        }),
        onUploadUrlAvailable: () => {
          if (!settled && upload.url) reportUrl(upload.url);
        },
        onBeforeRequest: async () => {
          watchdog.touch();
          // Bytes flow only once the caller has stored the URL they can resume from.
          if (persisting) await persisting;
        },
        onAfterResponse: (req, res) => {
          if (!settled) inspectResponse(req, res);
        },
        onShouldRetry: (error, attempt) => shouldRetry(error, attempt),
        onProgress: () => watchdog.touch(),
        onChunkComplete: (_chunk, acknowledged) => {
          state.offset = acknowledged;
          progress(acknowledged);
        },
        onSuccess: () => {
          void Promise.resolve(persisting).then(
            () => finish({ kind: 'done' }, false),
            () => {},
          );
        },
        onError: (error) => {
          if (!settled) finish({ kind: 'failed', error: classifyTusError(error, input.secrets) }, false);
        },
      },
    );

    if (input.signal?.aborted) {
      reject(new ForwardAbortedError());
      return;
    }
    input.fileReader.observer = observer;
    input.signal?.addEventListener('abort', onAbort, { once: true });
    watchdog.start();
    upload.start();
  });
}
