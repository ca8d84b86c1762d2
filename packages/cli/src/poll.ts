import { sleep } from '@gtr/core/async';
import { RelayError } from './api.js';
import { CliError } from './io.js';

export interface PollOptions {
  /** Called once per outage, when the relay stops answering while polling. */
  onOutage?: ((error: RelayError) => void) | undefined;
  /** Stops polling (Ctrl-C): the pause ends at once and the poll resolves `false`. */
  signal?: AbortSignal | undefined;
  /** How long the relay may stay unreachable before giving up, in ms. Default 5 min. */
  outageLimitMs?: number | undefined;
  now?: (() => number) | undefined;
  /** What goes on at the relay when the CLI gives up waiting, for the message ("the jobs go"). */
  goesOn: string;
}

/**
 * Calls `look` until it answers `true` (done: resolves `true`) or the signal stops the wait
 * (resolves `false`), pausing `pauseMs(ms the look took)` between looks. A transient RelayError is
 * an outage, survived for `outageLimitMs` and then a CliError; any other error is thrown.
 */
export async function pollThroughOutages(
  look: () => Promise<boolean>,
  pauseMs: (lookMs: number) => number,
  options: PollOptions,
): Promise<boolean> {
  const now = options.now ?? Date.now;
  const outageLimit = options.outageLimitMs ?? 300_000;
  let outageSince: number | null = null;
  for (;;) {
    const started = now();
    try {
      if (await look()) return true;
      outageSince = null;
    } catch (error) {
      if (!(error instanceof RelayError) || !error.transient) throw error;
      if (outageSince === null) {
        outageSince = now();
        options.onOutage?.(error);
      } else if (now() - outageSince > outageLimit) {
        throw new CliError(
          `stopped waiting: the relay has not answered for ${Math.round(outageLimit / 1000)} s (${error.message}); ${options.goesOn} on there`,
        );
      }
    }
    // A Ctrl-C ends the pause early; the signal says so below.
    await sleep(pauseMs(now() - started), options.signal).catch(() => {});
    if (options.signal?.aborted) return false;
  }
}
