import { jobWords } from '@gtr/contract';
import { AppError } from '../errors.js';
import { batchIndexes, batchKeys } from '../keys.js';
import { JOB_CREATE, JOB_SCHEMA, JOB_TRANSITION, JOB_UPDATE } from '../lua-scripts.js';
import { callbackKey } from './callback-outbox.js';
import type { JobContext } from './context.js';
import { decode, encode, type JobPatch, type NewJob, newRecord, pairsToObject, readField } from './record.js';
import { isFinalState, JOB_STATES, type JobRecord, type JobState } from './types.js';

/*
 * Creating a job and changing it: each one script, so a job's indexes, its batch's counts and its
 * callback outbox entry move in the same step as its record.
 */

export interface UpdateOptions {
  /** Apply only when the job is in one of these states (guards against racing a cancel or a retry). */
  onlyFrom?: readonly JobState[];
}

/** The batch keys a script names: real ones, or placeholders (never written) for no batch. */
export function batchKeysOf(ctx: JobContext, batch: string | null | undefined): [string, string, string] {
  const keys = batchKeys(ctx.prefix, batch || '-');
  return [keys.hash, keys.jobs, batchIndexes(ctx.prefix).finished];
}

/** The batch a job belongs to ('' for none): it never changes, so scripts can name its keys up front. */
export async function batchOfJob(ctx: JobContext, id: string): Promise<string> {
  return (await readField<string>(ctx, id, 'batch')) ?? '';
}

/**
 * Creates the job unless one with this id exists; either way returns the stored record. With
 * `batch`, the job joins that batch in the same step; throws AppError `BATCH_NOT_FOUND` when the
 * batch does not exist (any more).
 */
export async function createJob(
  ctx: JobContext,
  job: NewJob,
): Promise<{ record: JobRecord; created: boolean }> {
  const now = ctx.now();
  const record = newRecord(job, new Date(now).toISOString());
  const words = jobWords({ ...record, videoId: job.progress.video_id });
  const internal: Record<string, unknown> = { search: words, ...(job.claim ? { claim: job.claim } : {}) };
  const { keys } = ctx;
  const seq = await JOB_CREATE.run(
    ctx.redis,
    [
      keys.job(job.id),
      keys.seq,
      keys.all,
      keys.state(job.state),
      keys.kind(job.kind),
      keys.owner(job.owner ?? ''),
      keys.search,
      keys.finished,
      ...batchKeysOf(ctx, job.batch),
    ],
    [
      JOB_SCHEMA,
      job.id,
      job.owner ?? '',
      keys.events,
      job.batch ?? '',
      job.state,
      now,
      isFinalState(job.state) ? '1' : '',
      job.size ?? 0,
      words.length,
      ...words,
      ...encode(record),
      ...encode(internal),
    ],
  );
  if (seq === -1) throw new AppError('BATCH_NOT_FOUND', `no batch with id "${job.batch}"`, 404);
  if (seq === 0) {
    const hash = await ctx.redis.hgetall(keys.job(job.id));
    if (hash.state) return { record: decode(hash), created: false };
    // Removed between the two calls: a very unlikely race; try once more.
    return createJob(ctx, job);
  }
  return { record, created: true };
}

/**
 * Changes some fields atomically, without moving the job. Returns the record after the change,
 * or `null` when the job does not exist or was not in one of `onlyFrom` (then nothing changed).
 */
export async function updateJob(
  ctx: JobContext,
  id: string,
  patch: JobPatch,
  options: UpdateOptions = {},
): Promise<JobRecord | null> {
  const full: Partial<JobRecord> = { ...patch, updated_at: new Date(ctx.now()).toISOString() };
  const result = await JOB_UPDATE.run(
    ctx.redis,
    [ctx.keys.job(id)],
    [id, ctx.keys.events, (options.onlyFrom ?? []).join(','), ...encode(full)],
  );
  if (!result || result[0] === 0) return null;
  return decode(pairsToObject(result[1]));
}

/**
 * Moves a job to `to` when it is in one of `from`, with `patch` in the same step; a final
 * state with a callback_url also lands in the callback outbox, and the job's batch counts move
 * with it.
 */
export async function transitionJob(
  ctx: JobContext,
  id: string,
  to: JobState,
  from: readonly JobState[],
  patch: JobPatch = {},
): Promise<{ record: JobRecord; outbox: string | null } | null> {
  const at = ctx.now();
  const updated_at = new Date(at).toISOString();
  const full: Partial<JobRecord> = {
    ...patch,
    updated_at,
    finished_at: isFinalState(to) ? updated_at : null,
  };
  const outbox = isFinalState(to) ? callbackKey(id, to, at) : null;
  const batch = await batchOfJob(ctx, id);
  const [batchHash, , finishedBatches] = batchKeysOf(ctx, batch);
  const { keys } = ctx;
  const result = await JOB_TRANSITION.run(
    ctx.redis,
    [
      keys.job(id),
      keys.callbacksDue,
      keys.callbacksJobs,
      ...JOB_STATES.map(keys.state),
      keys.finished,
      batchHash,
      finishedBatches,
    ],
    [JOB_SCHEMA, id, from.join(','), to, keys.events, outbox ?? '', at, batch, ...encode(full)],
  );
  if (!result || result[0] === 0) return null;
  return { record: decode(pairsToObject(result[1])), outbox };
}
