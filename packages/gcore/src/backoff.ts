/**
 * The project's one backoff policy: exponential from `firstMs`, capped at `maxMs`, each wait drawn
 * from the upper `jitter` share of its step so that workers retrying together do not align.
 * BullMQ's retries (packages/core queues), the forwarder's 429 waits and the worker's rate-limit
 * pauses all draw from it.
 */
export interface BackoffPolicy {
  /** The first wait. */
  firstMs: number;
  /** No wait is longer. */
  maxMs: number;
  /** Share of each step that is random: 0.5 draws from [step/2, step]. */
  jitter: number;
}

/** 1 s, 2 s, 4 s … up to 60 s: waits after a 429 that named none (Gcore's API and TUS servers). */
export const RATE_LIMIT_BACKOFF: BackoffPolicy = { firstMs: 1_000, maxMs: 60_000, jitter: 0.5 };

/** Retries of queued jobs: from the queue's first delay, up to 10 minutes. */
export const retryBackoff = (firstMs: number): BackoffPolicy => ({ firstMs, maxMs: 600_000, jitter: 0.5 });

/**
 * The wait before try `attempt` (1 = the first retry). `random` is injectable for tests.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.firstMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step * (1 - policy.jitter * random()));
}

/**
 * Waits after repeated 429s: the server's own `Retry-After` when it gave one, else the policy's
 * next step, growing with the 429s seen in a row (reset by the next success).
 */
export class RateLimitBackoff {
  private streak = 0;

  constructor(private readonly policy: BackoffPolicy = RATE_LIMIT_BACKOFF) {}

  next(advertisedMs?: number | undefined): number {
    this.streak++;
    if (advertisedMs !== undefined && advertisedMs >= 0) return advertisedMs;
    return backoffDelay(this.policy, this.streak);
  }

  reset(): void {
    this.streak = 0;
  }
}
