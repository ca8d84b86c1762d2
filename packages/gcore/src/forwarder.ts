import { stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { RateLimitBackoff } from './backoff.js';
import { ChunkReader } from './chunk-reader.js';
import {
  ForwardAbortedError,
  ForwardStalledError,
  GcoreError,
  GcoreTokenError,
  GcoreTusError,
} from './errors.js';
import { FORWARD_DEFAULTS, type ForwardOptions, type ForwardResult } from './forward-options.js';
import { SendHash } from './send-hash.js';
import { type ForwardState, runAttempt } from './tus-attempt.js';

/**
 * Uploads a file from disk to a Gcore TUS server with tus-js-client, resuming from
 * `options.uploadUrl` when given. Within one call it recovers from stalls (abandon the request,
 * HEAD, continue), 429s (wait, HEAD, continue) and 5xx/network failures (tus-js-client's own
 * retries); anything else rejects with a classified {@link GcoreError}. Token rejections reject
 * with `GcoreTokenError` at once: only fresh upload parameters help.
 */
export async function forwardFile(options: ForwardOptions): Promise<ForwardResult> {
  const { signal, logger } = options;
  const chunkSize = options.chunkSize ?? FORWARD_DEFAULTS.chunkSize;
  const stallTimeoutMs = options.stallTimeoutMs ?? FORWARD_DEFAULTS.stallTimeoutMs;
  const maxStallRetries = options.maxStallRetries ?? FORWARD_DEFAULTS.maxStallRetries;
  const maxRateLimitWaitMs = options.maxRateLimitWaitMs ?? FORWARD_DEFAULTS.maxRateLimitWaitMs;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1)
    throw new RangeError(`chunkSize must be a positive integer`);
  if (!(stallTimeoutMs > 0)) throw new RangeError('stallTimeoutMs must be positive');
  if (signal?.aborted) throw new ForwardAbortedError();

  const size = options.size ?? (await fileSize(options.filePath));
  // Read errors surface through tus-js-client (a failed PATCH, retried, then the run's error).
  const fileReader = new ChunkReader(
    options.filePath,
    size,
    options.available,
    options.sha256 ? new SendHash(options.filePath, size, options.sha256) : undefined,
  );

  const state: ForwardState = {
    uploadUrl: options.uploadUrl,
    reportedUrl: options.uploadUrl,
    offset: 0,
    resumedFrom: undefined,
    bytesSent: 0,
  };
  let stallsInRow = 0;
  let stallRestarts = 0;
  let offsetAtLastStall = -1;
  let rateLimitWaitMs = 0;
  const rateLimits = new RateLimitBackoff();

  try {
    for (;;) {
      const outcome = await runAttempt({
        fileReader,
        endpoint: options.endpoint,
        size,
        chunkSize,
        metadata: tusMetadata(options.metadata),
        retryDelays: options.retryDelays ?? [...FORWARD_DEFAULTS.retryDelays],
        stallTimeoutMs,
        secrets: [options.metadata.token],
        signal,
        logger,
        onUploadUrl: options.onUploadUrl,
        onProgress: options.onProgress,
        state,
      });

      if (outcome.kind === 'done') {
        return {
          uploadUrl: state.uploadUrl ?? '',
          bytesSent: state.bytesSent,
          resumedFrom: state.resumedFrom ?? 0,
          stallRestarts,
          rateLimitWaitMs,
        };
      }

      if (outcome.kind === 'stalled') {
        // Progress between stalls means the link is slow or flaky, not dead: start counting again.
        stallsInRow = state.offset > offsetAtLastStall ? 1 : stallsInRow + 1;
        offsetAtLastStall = state.offset;
        if (stallsInRow > maxStallRetries)
          throw new ForwardStalledError(stallTimeoutMs, stallsInRow, state.offset);
        stallRestarts++;
        logger?.warn(
          { offset: state.offset, stallTimeoutMs, stallsInRow },
          'Gcore TUS upload stalled; resuming from the last acknowledged offset',
        );
        continue;
      }

      const { error } = outcome;
      if (!(error instanceof GcoreTusError) || error.status !== 429 || error instanceof GcoreTokenError)
        throw error;
      const waitMs = rateLimits.next(error.retryAfterMs);
      if (rateLimitWaitMs + waitMs > maxRateLimitWaitMs) {
        throw new GcoreTusError({
          status: 429,
          method: error.method,
          url: error.url,
          body: error.body,
          retryAfterMs: waitMs,
        });
      }
      logger?.warn(
        { waitMs, method: error.method },
        'Gcore TUS server is rate limiting; waiting before resuming',
      );
      options.onRateLimited?.(waitMs);
      await waitOutRateLimit(waitMs, signal);
      rateLimitWaitMs += waitMs;
    }
  } finally {
    await fileReader.close();
  }
}

function tusMetadata(metadata: ForwardOptions['metadata']): Record<string, string> {
  return {
    filename: metadata.filename,
    ...(metadata.filetype ? { filetype: metadata.filetype } : {}),
    token: metadata.token,
    video_id: String(metadata.video_id),
    client_id: String(metadata.client_id),
  };
}

async function fileSize(filePath: string): Promise<number> {
  try {
    return (await stat(filePath)).size;
  } catch (error) {
    throw new GcoreError(
      'FORWARD_FILE_UNREADABLE',
      `Cannot read the file to forward: ${error instanceof Error ? error.message : String(error)}`,
      { retryable: false, cause: error },
    );
  }
}

/** Waits out a 429's `Retry-After`; an abort meanwhile ends the forward (ForwardAbortedError). */
async function waitOutRateLimit(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    if (signal?.aborted) throw new ForwardAbortedError();
    throw error;
  }
}
