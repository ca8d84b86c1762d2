import { AppError, type JobError } from '@gtr/core';
import { GcoreError } from '@gtr/gcore';

export interface Classified {
  error: JobError;
  /** Set for a 429 (from the API or a PATCH): wait this long, without burning an attempt. */
  rateLimitMs?: number;
}

/** Turns whatever a step threw into the job's `error`, once. */
export function classify(error: unknown): Classified {
  if (error instanceof GcoreError) {
    const classified: Classified = {
      error: { code: error.code, message: error.message, retryable: error.retryable },
    };
    if (error.status === 429) classified.rateLimitMs = error.retryAfterMs ?? -1;
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

/**
 * Waits after a 429 that named no wait: 1 s, 2 s, 4 s … up to 60 s with ±50 % jitter, growing with
 * the 429s seen in a row by this process (reset by the next success).
 */
export class RateLimitBackoff {
  private streak = 0;

  next(advertisedMs: number | undefined): number {
    this.streak++;
    if (advertisedMs !== undefined && advertisedMs >= 0) return advertisedMs;
    const base = Math.min(1_000 * 2 ** (this.streak - 1), 60_000);
    return Math.round(base * (0.5 + Math.random()));
  }

  reset(): void {
    this.streak = 0;
  }
}
