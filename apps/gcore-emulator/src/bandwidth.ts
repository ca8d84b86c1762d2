import { setTimeout as sleep } from 'node:timers/promises';

const CATCH_UP_MS = 20;

/**
 * A bandwidth cap shared by every upload, like a server's uplink. Each chunk is released once the
 * cap would have let it through, so callers just `await take(n)` before passing `n` bytes on.
 */
export class Bandwidth {
  #nextFree = 0;

  constructor(
    private readonly bytesPerSec: () => number,
    private readonly signal: AbortSignal,
  ) {}

  get limited(): boolean {
    return this.bytesPerSec() > 0;
  }

  /** Largest piece worth delaying at once: about 50 ms of transfer, so the flow stays smooth. */
  pieceSize(): number {
    return Math.max(1_024, Math.floor(this.bytesPerSec() / 20));
  }

  async take(bytes: number): Promise<void> {
    const rate = this.bytesPerSec();
    if (rate <= 0) return;
    const now = performance.now();
    // A timer fires late and reading takes time: up to CATCH_UP_MS behind schedule is made up
    // (else the cap would deliver well under its rate at tens of MB/s), more is not (no burst
    // after an idle link).
    this.#nextFree = Math.max(now - CATCH_UP_MS, this.#nextFree) + (bytes * 1_000) / rate;
    const wait = this.#nextFree - now;
    if (wait >= 1) await sleep(wait, undefined, { signal: this.signal });
  }
}
