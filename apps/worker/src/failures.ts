import { AppError, type JobError } from '@gtr/core';
import { GcoreError } from '@gtr/gcore';

export interface Classified {
  error: JobError;
  /**
   * Set for a 429 (from the API or a PATCH), which waits without burning an attempt:
   * `advertisedMs` is the wait Gcore asked for, `undefined` when it named none.
   */
  rateLimited?: { advertisedMs: number | undefined };
}

/** Turns whatever a step threw into the job's `error`, once. */
export function classify(error: unknown): Classified {
  if (error instanceof GcoreError) {
    const classified: Classified = {
      error: { code: error.code, message: error.message, retryable: error.retryable },
    };
    if (error.status === 429) classified.rateLimited = { advertisedMs: error.retryAfterMs };
    return classified;
  }
  if (error instanceof AppError) {
    return { error: { code: error.code, message: error.message, retryable: error.retryable } };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return {
      error: {
        code: 'FILE_MISSING',
        message: 'the uploaded file is no longer on the relay; upload it again',
        retryable: false,
      },
    };
  }
  return {
    error: {
      code: 'INTERNAL_ERROR',
      message: error instanceof Error ? error.message : String(error),
      retryable: true,
    },
  };
}
