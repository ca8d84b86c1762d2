import type { Logger } from 'pino';

export interface RepeatedErrorLogOptions {
  /** At most one line per kind of error this often. Default 10 s. */
  intervalMs?: number;
  /** pino level of the lines. Default `warn`. */
  level?: 'error' | 'warn' | 'info';
  /** Kinds of error remembered at once; beyond that they share one line. Default 50. */
  maxKinds?: number;
}

interface Entry {
  repeats: number;
  last: { fields: Record<string, unknown>; error: unknown };
  timer: NodeJS.Timeout;
}

/**
 * Logs errors that may come again and again (a Redis that refuses every command, BullMQ spinning
 * on an error) at most once per interval per kind: the first one at once, then one line per
 * interval with `repeated` (how many came since) while they keep coming. A kind is the message and
 * the error's text, so a different error is never hidden behind a repeated one.
 */
export class RepeatedErrorLog {
  private readonly entries = new Map<string, Entry>();
  private readonly intervalMs: number;
  private readonly level: 'error' | 'warn' | 'info';
  private readonly maxKinds: number;

  constructor(
    private readonly logger: Logger,
    options: RepeatedErrorLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.level = options.level ?? 'warn';
    this.maxKinds = options.maxKinds ?? 50;
  }

  log(error: unknown, message: string, fields: Record<string, unknown> = {}): void {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    let kind = `${message}\u0000${text.slice(0, 200)}`;
    if (!this.entries.has(kind) && this.entries.size >= this.maxKinds)
      kind = `${message}\u0000(other errors)`;
    const entry = this.entries.get(kind);
    if (entry) {
      entry.repeats += 1;
      entry.last = { fields, error };
      return;
    }
    this.logger[this.level]({ ...fields, err: error }, message);
    const timer = setInterval(() => this.flush(kind, message), this.intervalMs);
    timer.unref();
    this.entries.set(kind, { repeats: 0, last: { fields, error }, timer });
  }

  /** A function for `emitter.on('error', …)`. */
  handler(message: string, fields: Record<string, unknown> = {}): (error: unknown) => void {
    return (error) => this.log(error, message, fields);
  }

  /** Logs what is still counted and forgets it (at shutdown). */
  close(): void {
    for (const [kind, entry] of [...this.entries]) {
      this.flush(kind, kind.slice(0, kind.indexOf('\u0000')));
      clearInterval(entry.timer);
    }
    this.entries.clear();
  }

  private flush(kind: string, message: string): void {
    const entry = this.entries.get(kind);
    if (!entry) return;
    if (entry.repeats === 0) {
      // Quiet for a whole interval: the next one is logged at once again.
      clearInterval(entry.timer);
      this.entries.delete(kind);
      return;
    }
    this.logger[this.level](
      { ...entry.last.fields, err: entry.last.error, repeated: entry.repeats, intervalMs: this.intervalMs },
      `${message} (repeated ${entry.repeats} times in ${formatInterval(this.intervalMs)})`,
    );
    entry.repeats = 0;
  }
}

const formatInterval = (ms: number): string => (ms % 1_000 === 0 ? `${ms / 1_000} s` : `${ms} ms`);
