import { isFinalState, type PublicJob } from '@gtr/contract';
import { type RelayClient, RelayError } from './api.js';
import { CliError, sleep } from './io.js';

export interface FollowOptions {
  client: RelayClient;
  ids: readonly string[];
  /** Called with every job fetched (also unchanged ones; displays dedupe). */
  onUpdate: (job: PublicJob) => void;
  /** Called once per outage, when the relay stops answering while jobs are followed. */
  onOutage?: (error: RelayError) => void;
  /** Stops following (Ctrl-C); the jobs go on at the relay. */
  signal?: AbortSignal | undefined;
  /** Pause between rounds, in ms. Default 1000; a round that takes long stretches it. */
  pollIntervalMs?: number;
  /** How long the relay may stay unreachable before giving up, in ms. Default 5 min. */
  outageLimitMs?: number;
  /** Requests in flight at once. Default 16. */
  concurrency?: number;
  now?: () => number;
}

export interface FollowResult {
  /** The last state seen of every job. */
  jobs: Map<string, PublicJob>;
  /** Jobs the relay no longer knows (404). */
  gone: string[];
  /** True when stopped by the signal before every job was final. */
  interrupted: boolean;
}

/** Polls `GET /api/jobs/{id}` until every job is `ready`, `failed` or `canceled`. */
export async function followJobs(options: FollowOptions): Promise<FollowResult> {
  const now = options.now ?? Date.now;
  const interval = options.pollIntervalMs ?? 1_000;
  const outageLimit = options.outageLimitMs ?? 300_000;
  const pending = new Set(options.ids);
  const jobs = new Map<string, PublicJob>();
  const gone: string[] = [];
  let outageSince: number | null = null;

  while (pending.size > 0 && !options.signal?.aborted) {
    const started = now();
    try {
      await forEachLimit([...pending], options.concurrency ?? 16, async (id) => {
        let job: PublicJob;
        try {
          job = await options.client.getJob(id);
        } catch (error) {
          if (error instanceof RelayError && error.status === 404) {
            pending.delete(id);
            gone.push(id);
            return;
          }
          throw error;
        }
        jobs.set(id, job);
        if (isFinalState(job.state)) pending.delete(id);
        options.onUpdate(job);
      });
      outageSince = null;
    } catch (error) {
      if (!(error instanceof RelayError) || !error.transient) throw error;
      if (outageSince === null) {
        outageSince = now();
        options.onOutage?.(error);
      } else if (now() - outageSince > outageLimit) {
        throw new CliError(
          `stopped waiting: the relay has not answered for ${Math.round(outageLimit / 1000)} s (${error.message}); the jobs go on there`,
        );
      }
    }
    if (pending.size > 0) await sleep(Math.max(interval, (now() - started) * 2), options.signal);
  }
  return { jobs, gone, interrupted: pending.size > 0 };
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
