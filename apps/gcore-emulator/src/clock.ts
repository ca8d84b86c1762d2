/** The emulator's time: a base clock plus an offset that tests push forward to expire tokens. */
export class Clock {
  #offset = 0;

  constructor(private readonly base: () => number = Date.now) {}

  /** Epoch milliseconds. */
  now(): number {
    return this.base() + this.#offset;
  }

  advance(ms: number): void {
    this.#offset += ms;
  }

  reset(): void {
    this.#offset = 0;
  }
}
