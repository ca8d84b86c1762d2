import type { PublicBatch, PublicJob } from '@gtr/contract';
import type { RelayClient, RelayError } from './api.js';
import { CliError } from './io.js';
import { pollThroughOutages } from './poll.js';

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
  const interval = options.pollIntervalMs ?? 2_000;
  let last: PublicBatch | null = null;
  const look = async (): Promise<boolean> => {
    last = await options.client.getBatch(options.id);
    options.onUpdate(last);
    return last.finished_at !== null;
  };
  const finished = await pollThroughOutages(look, () => interval, {
    onOutage: options.onOutage,
    signal: options.signal,
    outageLimitMs: options.outageLimitMs,
    now: options.now,
    goesOn: 'the batch goes',
  });
  if (!last) throw new CliError('interrupted before the batch was seen');
  return { batch: last, interrupted: !finished };
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
