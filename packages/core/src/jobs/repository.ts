import type { RedisClient } from '../redis.js';
import { clearCallback, pendingCallbacks } from './callback-outbox.js';
import { type JobContext, jobContext } from './context.js';
import { type JobPage, type ListQuery, listJobs } from './job-list.js';
import { createJob, transitionJob, type UpdateOptions, updateJob } from './job-writes.js';
import { BIRTH_STATES, mayBeBornIn, mayBeRestoredIn } from './lifecycle.js';
import { decode, type JobPatch, type NewJob, readField, readHashes } from './record.js';
import { finishedBefore, removeJob } from './retention.js';
import { JOB_STATES, type JobRecord, type JobState } from './types.js';
import { indexVideo, jobOfVideo, jobsOfVideos, noteWebhook, webhooksArriving } from './video-index.js';

export { callbackKey } from './callback-outbox.js';
export { type JobPage, type ListQuery, SCAN_BUDGET } from './job-list.js';
export type { UpdateOptions } from './job-writes.js';
export type { JobPatch, NewJob } from './record.js';

/**
 * Job records in Redis: one hash per job (record.ts), a sorted set of all jobs and one per state,
 * per kind, per owner and per batch (scored by a creation sequence, so listing is newest first
 * with an exact cursor; job-list.ts), a search index of the words jobs can be found by, an index
 * of finished jobs by when they finished (for JOB_RETENTION; retention.ts), the callback outbox
 * (callback-outbox.ts), the video index (video-index.ts) and a pub/sub channel that carries the id
 * of every job that changed. Every key is named in keys.ts; every change is one script of
 * job-writes.ts. This class is the one door to all of them.
 */
export class JobRepository {
  readonly eventsChannel: string;
  private readonly ctx: JobContext;

  constructor(redis: RedisClient, prefix = 'gtr', now: () => number = Date.now) {
    this.ctx = jobContext(redis, prefix, now);
    this.eventsChannel = this.ctx.keys.events;
  }

  /** Remembers which job follows Gcore video `videoId` (written once the video exists); the id becomes searchable. */
  indexVideo(videoId: number, jobId: string): Promise<void> {
    return indexVideo(this.ctx, videoId, jobId);
  }

  /** The id of the job following Gcore video `videoId`, or null. */
  jobOfVideo(videoId: number): Promise<string | null> {
    return jobOfVideo(this.ctx, videoId);
  }

  /** {@link jobOfVideo} of each id, in one round trip. */
  jobsOfVideos(videoIds: readonly number[]): Promise<Array<string | null>> {
    return jobsOfVideos(this.ctx, videoIds);
  }

  /** A webhook from Gcore arrived: for the next `ttlMs`, {@link webhooksArriving} says yes. */
  noteWebhook(ttlMs: number): Promise<void> {
    return noteWebhook(this.ctx, ttlMs);
  }

  /** Whether a Gcore webhook arrived within the last `ttlMs` of the latest {@link noteWebhook}. */
  webhooksArriving(): Promise<boolean> {
    return webhooksArriving(this.ctx);
  }

  /**
   * Creates the job unless one with this id exists; either way returns the stored record. With
   * `batch`, the job joins that batch in the same step; throws AppError `BATCH_NOT_FOUND` when the
   * batch does not exist (any more). Throws when `job.state` is not one of `BIRTH_STATES[job.kind]`.
   */
  async create(job: NewJob): Promise<{ record: JobRecord; created: boolean }> {
    if (!mayBeBornIn(job.kind, job.state)) {
      throw new Error(
        `a new ${job.kind} job starts in ${BIRTH_STATES[job.kind].join(' or ')}, not ${job.state}`,
      );
    }
    return createJob(this.ctx, job);
  }

  /**
   * Rebuilds a job Redis lost (from its upload's manifest) in the state its manifest proves, unless
   * one with this id exists; otherwise as {@link create}. Throws when `job.state` is not one of
   * `RESTORE_STATES[job.kind]`.
   */
  async restore(job: NewJob): Promise<{ record: JobRecord; created: boolean }> {
    if (!mayBeRestoredIn(job.kind, job.state)) {
      throw new Error(`a lost ${job.kind} job is not rebuilt in ${job.state}`);
    }
    return createJob(this.ctx, job);
  }

  /** Only the owner of a job (one field, not the record): checked on every TUS request of a tool. */
  ownerOf(id: string): Promise<string | null> {
    return readField<string>(this.ctx, id, 'owner');
  }

  async get(id: string): Promise<JobRecord | null> {
    const hash = await this.ctx.redis.hgetall(this.ctx.keys.job(id));
    return hash.state ? decode(hash) : null;
  }

  async getMany(ids: readonly string[]): Promise<JobRecord[]> {
    return (await readHashes(this.ctx, ids)).map(decode);
  }

  /**
   * Changes some fields atomically, without moving the job. Returns the record after the change,
   * or `null` when the job does not exist or was not in one of `onlyFrom` (then nothing changed).
   */
  update(id: string, patch: JobPatch, options: UpdateOptions = {}): Promise<JobRecord | null> {
    return updateJob(this.ctx, id, patch, options);
  }

  /**
   * Moves a job to `to` when it is in one of `from`, with `patch` in the same step; a final
   * state with a callback_url also lands in the callback outbox, and the job's batch counts move
   * with it. Only {@link JobLifecycle} calls this (it holds the table of allowed moves); tests use
   * it to set up fixtures.
   */
  transition(
    id: string,
    to: JobState,
    from: readonly JobState[],
    patch: JobPatch = {},
  ): Promise<{ record: JobRecord; outbox: string | null } | null> {
    return transitionJob(this.ctx, id, to, from, patch);
  }

  /** Callback outbox entries written at least `olderThanMs` ago, with the job as it was then. */
  pendingCallbacks(olderThanMs: number, limit = 100): Promise<Array<{ key: string; job: JobRecord }>> {
    return pendingCallbacks(this.ctx, olderThanMs, limit);
  }

  /** The callback of this outbox entry is queued: forget the entry. */
  clearCallback(key: string): Promise<void> {
    return clearCallback(this.ctx, key);
  }

  /** Removes the job with every index entry of it (its batch counts it no more). */
  remove(id: string): Promise<boolean> {
    return removeJob(this.ctx, id);
  }

  /** Ids of jobs outside any batch that reached a final state before `before` (epoch ms), oldest first. */
  finishedBefore(before: number, limit = 500): Promise<string[]> {
    return finishedBefore(this.ctx, before, limit);
  }

  /**
   * Newest first, every filter applied; `cursor` is the `next` of the previous page (a job's
   * creation sequence, so a page never shifts while jobs change state).
   */
  list(query: ListQuery = {}): Promise<JobPage> {
    return listJobs(this.ctx, query);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const pipeline = this.ctx.redis.pipeline();
    for (const state of JOB_STATES) pipeline.zcard(this.ctx.keys.state(state));
    const results = (await pipeline.exec()) ?? [];
    return Object.fromEntries(JOB_STATES.map((state, i) => [state, Number(results[i]?.[1] ?? 0)])) as Record<
      JobState,
      number
    >;
  }

  /** Ids in one state, oldest first (for reconciling and recovery). */
  idsInState(state: JobState, limit = 1_000): Promise<string[]> {
    return this.ctx.redis.zrangebyscore(this.ctx.keys.state(state), '-inf', '+inf', 'LIMIT', 0, limit);
  }
}
