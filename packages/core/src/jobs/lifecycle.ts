import type { Logger } from '../logger.js';
import type { RelayQueues } from './bull.js';
import type { JobPatch, JobRepository } from './repository.js';
import {
  isFinalState,
  JOB_STATES,
  type JobError,
  type JobKind,
  type JobRecord,
  type JobState,
  toPublicJob,
} from './types.js';

/**
 * Every move a job may make, and no other. Self-moves of the forwarding states are a new attempt
 * of the same step (a retry, or a worker that took over a stalled job).
 */
export const TRANSITIONS = {
  receiving: ['queued', 'failed', 'canceled'],
  queued: ['queued', 'creating', 'uploading', 'processing', 'failed', 'canceled'],
  creating: ['queued', 'creating', 'uploading', 'processing', 'failed', 'canceled'],
  uploading: ['queued', 'creating', 'uploading', 'processing', 'failed', 'canceled'],
  processing: ['ready', 'failed', 'canceled'],
  // A ready job is canceled only to delete its video (`DELETE /api/jobs/{id}?delete_video=true`).
  ready: ['canceled'],
  failed: ['queued', 'processing', 'canceled'],
  canceled: [],
} as const satisfies Record<JobState, readonly JobState[]>;

/**
 * The states a job may be created in, per kind: an upload is born when its TUS upload is created
 * and its first byte is still to come; an import is born with its URL checked, ready for a worker.
 * Every later state is reached through the moves above, so no caller makes a job `ready`.
 */
export const BIRTH_STATES = {
  upload: ['receiving'],
  import: ['queued'],
} as const satisfies Record<JobKind, readonly JobState[]>;

/**
 * The states a job lost from Redis may be rebuilt in, per kind: what an upload's manifest on disk
 * proves it reached (bytes still arriving, all of them here, or Gcore has them). An import has no
 * manifest: lost, it is not rebuilt.
 */
export const RESTORE_STATES = {
  upload: ['receiving', 'queued', 'processing'],
  import: [],
} as const satisfies Record<JobKind, readonly JobState[]>;

export const mayBeBornIn = (kind: JobKind, state: JobState): boolean =>
  (BIRTH_STATES[kind] as readonly JobState[]).includes(state);

export const mayBeRestoredIn = (kind: JobKind, state: JobState): boolean =>
  (RESTORE_STATES[kind] as readonly JobState[]).includes(state);

/** States in which a job is the forward queue's to move on. */
export const FORWARDING = ['queued', 'creating', 'uploading'] as const satisfies readonly JobState[];
export type ForwardingState = (typeof FORWARDING)[number];

export const canMove = (from: JobState, to: JobState): boolean =>
  (TRANSITIONS[from] as readonly JobState[]).includes(to);

/** The states a job may reach `to` from, narrowed to `only` when given. */
function sources(to: JobState, only?: readonly JobState[]): JobState[] {
  return JOB_STATES.filter((from) => canMove(from, to) && (!only || only.includes(from)));
}

const NOT_FINAL = JOB_STATES.filter((s) => !isFinalState(s));

export interface LifecycleDeps {
  jobs: JobRepository;
  queues: Pick<RelayQueues, 'notify'>;
  logger: Logger;
}

/**
 * The only way a job changes state. Each function is one move of the table above, applied
 * atomically in Redis with its fields; reaching `ready`, `failed` or `canceled` writes the
 * callback into an outbox in the same step, which this class then turns into a notify job (and
 * `deliverDueCallbacks` does for an entry whose writer died in between). A move that the table or
 * the job's current state does not allow changes nothing and answers `null`.
 */
export class JobLifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  /** The last byte arrived: receiving → queued. */
  queue(id: string, patch: JobPatch = {}): Promise<JobRecord | null> {
    return this.move(id, 'queued', patch, ['receiving']);
  }

  /** A worker took the job up: into `creating` or `uploading`. */
  advance(id: string, to: 'creating' | 'uploading'): Promise<JobRecord | null> {
    return this.move(id, to, { error: null }, FORWARDING);
  }

  /** A forward attempt failed in a way that a later attempt can fix: back to `queued`. */
  requeue(id: string, error: JobError): Promise<JobRecord | null> {
    return this.move(id, 'queued', { error }, FORWARDING);
  }

  /** Gcore has the bytes (or is pulling them): its processing is followed from here. */
  handOver(id: string, patch: JobPatch = {}): Promise<JobRecord | null> {
    return this.move(id, 'processing', { error: null, ...patch }, FORWARDING);
  }

  /** Done as COMPLETE_ON says. */
  finish(id: string, patch: JobPatch = {}): Promise<JobRecord | null> {
    return this.move(id, 'ready', { error: null, ...patch });
  }

  /** Failed for good (until a retry); `from` narrows which states the failure applies to. */
  fail(id: string, error: JobError, from: readonly JobState[] = NOT_FINAL): Promise<JobRecord | null> {
    return this.move(id, 'failed', { error }, from);
  }

  /** The tool or an operator canceled it; `from` narrows (a TUS DELETE only cancels `receiving`). */
  cancel(
    id: string,
    { deleteVideo = false, from }: { deleteVideo?: boolean; from?: readonly JobState[] } = {},
  ): Promise<JobRecord | null> {
    return this.move(id, 'canceled', deleteVideo ? { delete_video: true } : {}, from);
  }

  /** A failed job tried again: from its first step, or (Gcore has the bytes) from processing. */
  retry(id: string, to: 'queued' | 'processing'): Promise<JobRecord | null> {
    return this.move(id, to, { error: null }, ['failed']);
  }

  /**
   * Queues the callbacks whose outbox entries are older than `olderThanMs` (their writer died
   * before queueing them, or Redis refused the notify job). Runs in every worker and relay.
   */
  async deliverDueCallbacks(olderThanMs = 5_000): Promise<number> {
    const due = await this.deps.jobs.pendingCallbacks(olderThanMs);
    for (const { key, job } of due) await this.queueCallback(key, job);
    return due.length;
  }

  private async move(
    id: string,
    to: JobState,
    patch: JobPatch,
    only?: readonly JobState[],
  ): Promise<JobRecord | null> {
    const moved = await this.deps.jobs.transition(id, to, sources(to, only), patch);
    if (!moved) return null;
    if (moved.outbox) {
      await this.queueCallback(moved.outbox, moved.record).catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, jobId: id },
          'callback not queued yet; the outbox delivers it shortly',
        ),
      );
    }
    return moved.record;
  }

  private async queueCallback(key: string, job: JobRecord): Promise<void> {
    const url = job.request.callback_url;
    if (url) {
      await this.deps.queues.notify.add('notify', { id: job.id, url, job: toPublicJob(job) }, { jobId: key });
    }
    await this.deps.jobs.clearCallback(key);
  }
}
