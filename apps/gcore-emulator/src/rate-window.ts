/** Event times inside a sliding window (1 s by default), for rate limits and peak-rate tracking. */
export class SlidingWindow {
  #times: number[] = [];

  constructor(private readonly windowMs = 1_000) {}

  /** Events within the window ending at `now`. */
  count(now: number): number {
    this.#prune(now);
    return this.#times.length;
  }

  add(now: number): void {
    this.#times.push(now);
  }

  /** Milliseconds until the oldest event in the window leaves it. */
  msUntilSlot(now: number): number {
    this.#prune(now);
    const oldest = this.#times[0];
    return oldest === undefined ? 0 : Math.max(1, oldest + this.windowMs - now);
  }

  clear(): void {
    this.#times = [];
  }

  #prune(now: number): void {
    let drop = 0;
    while (drop < this.#times.length && (this.#times[drop] as number) <= now - this.windowMs) drop++;
    if (drop > 0) this.#times.splice(0, drop);
  }
}

/**
 * Admits at most `limit` events per window. Only admitted events count, so a client that keeps
 * retrying is not starved for ever.
 */
export class RateLimiter {
  #admitted = new SlidingWindow();

  /** Returns 0 when admitted, else the milliseconds until a slot frees. */
  tryAcquire(now: number, limit: number): number {
    if (limit <= 0) return 0;
    if (this.#admitted.count(now) < limit) {
      this.#admitted.add(now);
      return 0;
    }
    return this.#admitted.msUntilSlot(now);
  }

  clear(): void {
    this.#admitted.clear();
  }
}
