import { isFinalState, type PublicJob } from '@gtr/contract';
import { forEachLimit } from '@gtr/core/async';
import { type RelayClient, RelayError } from './api.js';
import { pollThroughOutages } from './poll.js';

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
  const interval = options.pollIntervalMs ?? 1_000;
  const pending = new Set(options.ids);
  const jobs = new Map<string, PublicJob>();
  const gone: string[] = [];
  if (options.signal?.aborted) return { jobs, gone, interrupted: pending.size > 0 };
  const round = async (): Promise<boolean> => {
    if (pending.size === 0) return true;
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
    return pending.size === 0;
  };
  // A round that takes long (many jobs, a slow relay) stretches the pause after it.
  await pollThroughOutages(round, (roundMs) => Math.max(interval, roundMs * 2), {
    onOutage: options.onOutage,
    signal: options.signal,
    outageLimitMs: options.outageLimitMs,
    now: options.now,
    goesOn: 'the jobs go',
  });
  return { jobs, gone, interrupted: pending.size > 0 };
}
