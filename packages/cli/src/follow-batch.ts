import type { PublicBatch, PublicJob } from '@gtr/contract';
import { type RelayClient, RelayError } from './api.js';
import { CliError, sleep } from './io.js';

export interface FollowBatchOptions {
  client: RelayClient;
  id: string;
  onUpdate: (batch: PublicBatch) => void;
  onOutage?: (error: RelayError) => void;
  signal?: AbortSignal | undefined;
  /** Pause between looks, in ms. Default 2000. */
  pollIntervalMs?: number;
  /** How long the relay may stay unreachable before giving up, in ms. Default 5 min. */
  outageLimitMs?: number;
  now?: () => number;
}

/**
 * Follows one batch with `GET /api/batches/{id}` — one request per look, whatever its size — until
 * its last job is final. Resolves with the last batch seen, and whether the signal stopped it.
 */
export async function followBatch(
  options: FollowBatchOptions,
): Promise<{ batch: PublicBatch; interrupted: boolean }> {
  const now = options.now ?? Date.now;
  const interval = options.pollIntervalMs ?? 2_000;
  const outageLimit = options.outageLimitMs ?? 300_000;
  let outageSince: number | null = null;
  let last: PublicBatch | null = null;
  for (;;) {
    try {
      last = await options.client.getBatch(options.id);
      outageSince = null;
      options.onUpdate(last);
      if (last.finished_at !== null) return { batch: last, interrupted: false };
    } catch (error) {
      if (!(error instanceof RelayError) || !error.transient) throw error;
      if (outageSince === null) {
        outageSince = now();
        options.onOutage?.(error);
      } else if (now() - outageSince > outageLimit) {
        throw new CliError(
          `stopped waiting: the relay has not answered for ${Math.round(outageLimit / 1000)} s (${error.message}); the batch goes on there`,
        );
      }
    }
    await sleep(interval, options.signal);
    if (options.signal?.aborted) {
      if (!last) throw new CliError('interrupted before the batch was seen');
      return { batch: last, interrupted: true };
    }
  }
}

/** Every job of the batch in `state`, page by page (for listing the failed ones). */
export async function* batchJobs(
  client: RelayClient,
  id: string,
  state: PublicJob['state'],
): AsyncGenerator<PublicJob> {
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<RelayClient['listJobs']>> = await client.listJobs({
      batch: id,
      state,
      limit: 500,
      ...(cursor ? { cursor } : {}),
    });
    yield* page.items;
    cursor = page.next;
  } while (cursor);
}
