/** One API request as the emulator received it (list and batch endpoints), for tests to inspect. */
export interface LoggedRequest {
  method: string;
  /** Path under `/streaming`, e.g. `/videos` or `/videos/batch`. */
  path: string;
  query: Record<string, string>;
  /** Items in a batch create; absent otherwise. */
  items?: number;
}

/** The list and batch calls received since start or the last stats reset (the latest 10 000). */
export class RequestLog {
  #entries: LoggedRequest[] = [];

  add(entry: LoggedRequest): void {
    this.#entries.push(entry);
    if (this.#entries.length > 10_000) this.#entries.shift();
  }

  entries(): LoggedRequest[] {
    return this.#entries.map((e) => ({ ...e, query: { ...e.query } }));
  }

  clear(): void {
    this.#entries = [];
  }
}
