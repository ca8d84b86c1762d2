import type { JobContext } from './context.js';
import {
  type ForwardProgress,
  isFinalState,
  type JobKind,
  type JobRecord,
  type JobRequest,
  type JobState,
  pendingCallback,
} from './types.js';

/*
 * How a job record is stored: one Redis hash per job, every field JSON-encoded, so partial
 * updates from the relay (bytes received) and the workers (state, video) never overwrite each
 * other. Besides the record's fields the hash holds `seq` (its creation sequence), `search` (the
 * words it is indexed by), `claim` (its import claim key) and `batch_bytes`: internal, never read
 * into the record.
 */

/** What a new job starts from; the repository fills in counters and timestamps. */
export interface NewJob {
  id: string;
  kind: JobKind;
  state: JobState;
  name: string;
  filename: string | null;
  size: number | null;
  origin_url: string | null;
  request: JobRequest;
  progress: ForwardProgress;
  bytes_received?: number;
  created_at?: string;
  /** The name of the token that made it (see Principal); null when unknown. */
  owner?: string | null;
  /** An upload's last byte arrived then (a job made past `receiving`); default null. */
  received_at?: string | null;
  /** The file's SHA-256 when already known (a job rebuilt from a complete upload's manifest). */
  sha256?: string | null;
  /** The batch it joins (which must exist): see BatchRepository. */
  batch?: string | null;
  /** Its position in the batch request (imports). */
  batch_index?: number | null;
  /** The import claim key naming it (see ImportClaims): removed with the job. */
  claim?: string | null;
}

/**
 * Fields a writer may change without moving the job. `updated_at` is always set. The state (and
 * `finished_at`, which follows it) changes only through {@link JobLifecycle}.
 */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | 'name'
    | 'size'
    | 'bytes_received'
    | 'bytes_forwarded'
    | 'video'
    | 'attempts'
    | 'error'
    | 'progress'
    | 'delete_video'
    | 'callback'
    | 'received_at'
    | 'sha256'
  >
>;

const RECORD_FIELDS = [
  'id',
  'kind',
  'state',
  'name',
  'filename',
  'size',
  'bytes_received',
  'bytes_forwarded',
  'origin_url',
  'video',
  'attempts',
  'error',
  'created_at',
  'updated_at',
  'finished_at',
  'request',
  'progress',
  'delete_video',
  'owner',
  'callback',
  'received_at',
  'sha256',
  'batch',
  'batch_index',
] as const satisfies readonly (keyof JobRecord)[];

/** The record a new job is stored as, created at `at` (ISO) unless it says when. */
export function newRecord(job: NewJob, at: string): JobRecord {
  const created = job.created_at ?? at;
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    name: job.name,
    filename: job.filename,
    size: job.size,
    bytes_received: job.bytes_received ?? 0,
    bytes_forwarded: 0,
    origin_url: job.origin_url,
    video: null,
    attempts: 0,
    error: null,
    created_at: created,
    updated_at: created,
    finished_at: isFinalState(job.state) ? created : null,
    request: job.request,
    progress: job.progress,
    delete_video: false,
    received_at: job.received_at ?? null,
    owner: job.owner ?? null,
    callback: job.request.callback_url ? pendingCallback() : null,
    sha256: job.sha256 ?? null,
    batch: job.batch ?? null,
    batch_index: job.batch ? (job.batch_index ?? null) : null,
  };
}

/** Field/value pairs for HSET: each defined field JSON-encoded. */
export function encode(fields: Partial<JobRecord> | Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    args.push(key, JSON.stringify(value));
  }
  return args;
}

/** The record a job hash holds (a field it lacks, written before the field existed, is null). */
export function decode(hash: Record<string, string>): JobRecord {
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const raw = hash[field];
    record[field] = raw === undefined ? null : JSON.parse(raw);
  }
  record.delete_video = record.delete_video === true;
  return record as unknown as JobRecord;
}

/** HGETALL's answer inside a script (`[field, value, …]`) as a hash. */
export function pairsToObject(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) out[pairs[i]!] = pairs[i + 1]!;
  return out;
}

/** One JSON-encoded field of a job hash, decoded (null when missing). */
export async function readField<T>(ctx: JobContext, id: string, field: string): Promise<T | null> {
  const raw = await ctx.redis.hget(ctx.keys.job(id), field);
  return raw ? (JSON.parse(raw) as T | null) : null;
}

/** The hashes of the jobs that exist among `ids`, in one round trip (in order, missing ones left out). */
export async function readHashes(
  ctx: JobContext,
  ids: readonly string[],
): Promise<Array<Record<string, string>>> {
  if (ids.length === 0) return [];
  const pipeline = ctx.redis.pipeline();
  for (const id of ids) pipeline.hgetall(ctx.keys.job(id));
  const results = (await pipeline.exec()) ?? [];
  const hashes: Array<Record<string, string>> = [];
  for (const [error, hash] of results) {
    if (error) throw error;
    const h = hash as Record<string, string>;
    if (h.state) hashes.push(h);
  }
  return hashes;
}
