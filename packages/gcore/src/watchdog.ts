/**
 * Calls `onStall` once nothing has happened for `timeoutMs`. tus-js-client's Node HTTP stack has
 * no request timeout, so a socket that goes quiet would otherwise hang an upload forever.
 */
export class Watchdog {
  readonly #timeoutMs: number;
  readonly #onStall: () => void;
  #deadline = 0;
  #paused = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, onStall: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onStall = onStall;
  }

  start(): void {
    this.touch();
    this.#schedule();
  }

  /** Something moved. `graceMs` extends the deadline, e.g. over a retry delay we chose ourselves. */
  touch(graceMs = 0): void {
    this.#deadline = Date.now() + this.#timeoutMs + graceMs;
  }

  /** Stops counting while we wait on someone else (the caller persisting the upload URL). */
  pause(): void {
    this.#paused++;
  }

  resume(): void {
    this.#paused = Math.max(0, this.#paused - 1);
    this.touch();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // One timer re-armed lazily: touch() runs for every 64 KiB of body, so it only stores a number.
  #schedule(): void {
    this.#timer = setTimeout(
      () => {
        if (this.#timer === undefined) return;
        if (this.#paused === 0 && Date.now() >= this.#deadline) {
          this.#timer = undefined;
          this.#onStall();
          return;
        }
        if (this.#paused > 0) this.touch();
        this.#schedule();
      },
      Math.max(10, this.#deadline - Date.now()),
    );
  }
}
