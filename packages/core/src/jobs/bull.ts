import { type ConnectionOptions, Queue } from 'bullmq';
import {
  type ForwardJobData,
  type ForwardJobName,
  type NotifyJobData,
  QUEUE_PREFIX,
  QUEUES,
  type TrackJobData,
} from './queues.js';
import type { ImportVia, JobKind } from './types.js';

export interface RelayQueues {
  forward: Queue<ForwardJobData, unknown, ForwardJobName>;
  import: Queue<ForwardJobData, unknown, ForwardJobName>;
  track: Queue<TrackJobData>;
  notify: Queue<NotifyJobData>;
  close(): Promise<void>;
}

export interface QueueOptions {
  /** Attempts per forward before the job is failed (429 pauses do not count). */
  forwardAttempts: number;
  /** Default `gtr`; tests use a fresh one each. */
  prefix?: string;
  /** Connection errors (Redis down); without a listener BullMQ prints each one. */
  onError?: (error: Error) => void;
}

/**
 * Retries wait by the project's one backoff policy (`backoffDelay` in @gtr/gcore, registered by
 * every worker as BullMQ's custom strategy): exponential from `delay`, capped, with jitter.
 */
export const RETRY_BACKOFF = 'relay';
const retryFrom = (delay: number) => ({ type: RETRY_BACKOFF, delay });

/** The queues with their retry policies, the same for the relay and every worker. */
export function createQueues(connection: ConnectionOptions, options: QueueOptions): RelayQueues {
  const prefix = options.prefix ?? QUEUE_PREFIX;
  // BullMQ keeps finished jobs only for a while: the relay's job records are the history.
  const keep = { removeOnComplete: { age: 24 * 3_600, count: 5_000 }, removeOnFail: { age: 7 * 24 * 3_600 } };
  const forwarding = {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: options.forwardAttempts,
      backoff: retryFrom(2_000),
      ...keep,
    },
  };
  const forward = new Queue<ForwardJobData, unknown, ForwardJobName>(QUEUES.forward, forwarding);
  const imports = new Queue<ForwardJobData, unknown, ForwardJobName>(QUEUES.import, forwarding);
  const track = new Queue<TrackJobData>(QUEUES.track, {
    connection,
    prefix,
    // Tracking reschedules itself between polls; attempts cover Gcore API errors while polling.
    defaultJobOptions: { attempts: 20, backoff: retryFrom(1_000), ...keep },
  });
  const notify = new Queue<NotifyJobData>(QUEUES.notify, {
    connection,
    prefix,
    defaultJobOptions: { attempts: 10, backoff: retryFrom(1_000), ...keep },
  });
  const onError = options.onError ?? (() => {});
  for (const queue of [forward, imports, track, notify]) queue.on('error', onError);
  return {
    forward,
    import: imports,
    track,
    notify,
    close: async () => {
      await Promise.all([forward.close(), imports.close(), track.close(), notify.close()]);
    },
  };
}

/** The queue a job's forward runs on: imports Gcore pulls itself go to the light `import` queue. */
export function forwardQueueOf(
  queues: Pick<RelayQueues, 'forward' | 'import'>,
  kind: JobKind,
  via: ImportVia | undefined,
): RelayQueues['forward'] {
  return kind === 'import' && (via ?? 'gcore') === 'gcore' ? queues.import : queues.forward;
}

/**
 * Puts a job on its forward queue unless it is already there. BullMQ ignores add() for a job id
 * it still holds, so a finished or failed copy is retried or replaced first.
 */
export async function ensureForwarding(
  queues: Pick<RelayQueues, 'forward' | 'import'>,
  id: string,
  kind: JobKind,
  via?: ImportVia,
): Promise<void> {
  const queue = forwardQueueOf(queues, kind, via);
  const existing = await queue.getJob(id);
  if (existing) {
    const state = await existing.getState();
    if (state === 'failed') {
      await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return;
    }
    if (state !== 'completed' && state !== 'unknown') return;
    await existing.remove();
  }
  await queue.add(kind, { id }, { jobId: id });
}

/** A parked forward (a delayed job) of a streamed upload runs again now. */
export async function resumeParked(queues: Pick<RelayQueues, 'forward'>, id: string): Promise<void> {
  const job = await queues.forward.getJob(id);
  if (job && (await job.isDelayed())) await job.promote();
}

/** Starts (or keeps) following Gcore's processing of a job's video. */
export async function ensureTracking(queues: Pick<RelayQueues, 'track'>, id: string): Promise<void> {
  const existing = await queues.track.getJob(id);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
    await existing.remove();
  }
  await queues.track.add('track', { id, polls: 0 }, { jobId: id });
}
