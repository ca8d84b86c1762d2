import type { RedisClient } from '../redis.js';
import {
  type ForwardProgress,
  isFinalState,
  JOB_KINDS,
  JOB_STATES,
  type JobKind,
  type JobRecord,
  type JobRequest,
  type JobState,
  pendingCallback,
} from './types.js';

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

export interface ListQuery {
  state?: JobState | undefined;
  kind?: JobKind | undefined;
  /** Only this owner's jobs (a tool's view). */
  owner?: string | undefined;
  /** Default 50, at most 500. */
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

export interface JobPage {
  items: JobRecord[];
  next: string | null;
}

export interface UpdateOptions {
  /** Apply only when the job is in one of these states (guards against racing a cancel or a retry). */
  onlyFrom?: readonly JobState[];
}

// Every field is stored JSON-encoded in one Redis hash per job, so partial updates from the
// relay (bytes received) and the workers (state, video) never overwrite each other.
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[5], seq, ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[6], seq, ARGV[1]) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return seq
`;

const UPDATE = `
local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return nil end
if ARGV[3] ~= '' then
  local current = cjson.decode(raw)
  local allowed = false
  for s in string.gmatch(ARGV[3], '[^,]+') do
    if s == current then allowed = true end
  end
  if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
end
if #ARGV >= 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {1, redis.call('HGETALL', KEYS[1])}
`;

// KEYS: the job, the callback outbox (sorted set + hash), then one index per state in
// JOB_STATES order. ARGV: id, allowed current states, target state, events channel, outbox
// entry (empty unless the target is final), its score, then field/value pairs.
// Reaching a final state with a callback_url writes the job as it is now into the outbox in the
// same step, so no caller can forget the callback (JobLifecycle delivers and clears it).
const STATE_KEY = JOB_STATES.map((state, i) => `${state} = ${i + 4}`).join(', ');
const TRANSITION = `
local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return nil end
local current = cjson.decode(raw)
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
local index = { ${STATE_KEY} }
local to = ARGV[3]
if to ~= current then
  local seq = redis.call('HGET', KEYS[1], 'seq')
  redis.call('ZREM', KEYS[index[current]], ARGV[1])
  redis.call('ZADD', KEYS[index[to]], seq, ARGV[1])
end
redis.call('HSET', KEYS[1], 'state', cjson.encode(to), unpack(ARGV, 7))
if ARGV[5] ~= '' then
  local request = cjson.decode(redis.call('HGET', KEYS[1], 'request') or 'null')
  if type(request) == 'table' and type(request.callback_url) == 'string' and request.callback_url ~= '' then
    redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
    redis.call('HSET', KEYS[3], ARGV[5], cjson.encode(redis.call('HGETALL', KEYS[1])))
  end
end
redis.call('PUBLISH', ARGV[4], ARGV[1])
return {1, redis.call('HGETALL', KEYS[1])}
`;

// KEYS: the job, the index of all jobs, one index per state in JOB_STATES order, then one per
// kind in JOB_KINDS order (every key a script touches is declared: a cluster checks them).
// ARGV: id, events channel.
const KIND_KEY = JOB_KINDS.map((kind, i) => `${kind} = ${i + 3 + JOB_STATES.length}`).join(', ');
const REMOVE = `
local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return 0 end
local states = { ${JOB_STATES.map((state, i) => `${state} = ${i + 3}`).join(', ')} }
local kinds = { ${KIND_KEY} }
local state = states[cjson.decode(raw)]
local kind = kinds[cjson.decode(redis.call('HGET', KEYS[1], 'kind') or 'null')]
if state then redis.call('ZREM', KEYS[state], ARGV[1]) end
if kind then redis.call('ZREM', KEYS[kind], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[#KEYS], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`;

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
] as const satisfies readonly (keyof JobRecord)[];

/**
 * Job records in Redis: one hash per job, a sorted set of all jobs and one per state and per
 * kind (scored by a creation sequence, so listing is newest first with an exact cursor), and a
 * pub/sub channel that carries the id of every job that changed.
 */
export class JobRepository {
  readonly eventsChannel: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'gtr',
    private readonly now: () => number = Date.now,
  ) {
    this.eventsChannel = `${prefix}:job-events`;
  }

  private key(id: string): string {
    return `${this.prefix}:job:${id}`;
  }

  private index(name: string): string {
    return `${this.prefix}:jobs:${name}`;
  }

  private get outboxIndex(): string {
    return `${this.prefix}:callbacks:due`;
  }

  private get outboxData(): string {
    return `${this.prefix}:callbacks:jobs`;
  }

  /** Gcore video id → the id of the job that made it (for Gcore's webhooks, which name only the video). */
  private get videoIndex(): string {
    return `${this.prefix}:videos`;
  }

  /** Set while Gcore's webhooks arrive (see {@link noteWebhook}). */
  private get webhookSeenKey(): string {
    return `${this.prefix}:webhooks:seen`;
  }

  /** Remembers which job follows Gcore video `videoId` (written once the video exists). */
  async indexVideo(videoId: number, jobId: string): Promise<void> {
    await this.redis.hset(this.videoIndex, String(videoId), jobId);
  }

  /** The id of the job following Gcore video `videoId`, or null. */
  async jobOfVideo(videoId: number): Promise<string | null> {
    return this.redis.hget(this.videoIndex, String(videoId));
  }

  /** A webhook from Gcore arrived: for the next `ttlMs`, {@link webhooksArriving} says yes. */
  async noteWebhook(ttlMs: number): Promise<void> {
    await this.redis.set(this.webhookSeenKey, String(this.now()), 'PX', Math.max(1, Math.round(ttlMs)));
  }

  /** Whether a Gcore webhook arrived within the last `ttlMs` of the latest {@link noteWebhook}. */
  async webhooksArriving(): Promise<boolean> {
    return (await this.redis.exists(this.webhookSeenKey)) === 1;
  }

  /** Creates the job unless one with this id exists; either way returns the stored record. */
  async create(job: NewJob): Promise<{ record: JobRecord; created: boolean }> {
    const at = job.created_at ?? new Date(this.now()).toISOString();
    const record: JobRecord = {
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
      created_at: at,
      updated_at: at,
      finished_at: isFinalState(job.state) ? at : null,
      request: job.request,
      progress: job.progress,
      delete_video: false,
      received_at: job.received_at ?? null,
      owner: job.owner ?? null,
      callback: job.request.callback_url ? pendingCallback() : null,
      sha256: job.sha256 ?? null,
    };
    const seq = (await this.redis.eval(
      CREATE,
      6,
      this.key(job.id),
      this.index('seq'),
      this.index('all'),
      this.index(`state:${job.state}`),
      this.index(`kind:${job.kind}`),
      this.index(`owner:${job.owner ?? ''}`),
      job.id,
      job.owner ?? '',
      this.eventsChannel,
      ...encode(record),
    )) as number;
    if (seq === 0) {
      const existing = await this.get(job.id);
      if (existing) return { record: existing, created: false };
      // Removed between the two calls: a very unlikely race; try once more.
      return this.create(job);
    }
    return { record, created: true };
  }

  /** Only the owner of a job (one field, not the record): checked on every TUS request of a tool. */
  async ownerOf(id: string): Promise<string | null> {
    const raw = await this.redis.hget(this.key(id), 'owner');
    return raw ? (JSON.parse(raw) as string | null) : null;
  }

  async get(id: string): Promise<JobRecord | null> {
    const hash = await this.redis.hgetall(this.key(id));
    return hash.state ? decode(hash) : null;
  }

  async getMany(ids: readonly string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    const records: JobRecord[] = [];
    for (const [error, hash] of results) {
      if (error) throw error;
      const h = hash as Record<string, string>;
      if (h.state) records.push(decode(h));
    }
    return records;
  }

  /**
   * Changes some fields atomically, without moving the job. Returns the record after the change,
   * or `null` when the job does not exist or was not in one of `onlyFrom` (then nothing changed).
   */
  async update(id: string, patch: JobPatch, options: UpdateOptions = {}): Promise<JobRecord | null> {
    const full: Partial<JobRecord> = { ...patch, updated_at: new Date(this.now()).toISOString() };
    const result = (await this.redis.eval(
      UPDATE,
      1,
      this.key(id),
      id,
      this.eventsChannel,
      (options.onlyFrom ?? []).join(','),
      ...encode(full),
    )) as [number, string[]] | null;
    if (!result || result[0] === 0) return null;
    return decode(pairsToObject(result[1]));
  }

  /**
   * Moves a job to `to` when it is in one of `from`, with `patch` in the same step; a final
   * state with a callback_url also lands in the callback outbox. Only {@link JobLifecycle} calls
   * this (it holds the table of allowed moves); tests use it to set up fixtures.
   */
  async transition(
    id: string,
    to: JobState,
    from: readonly JobState[],
    patch: JobPatch = {},
  ): Promise<{ record: JobRecord; outbox: string | null } | null> {
    const at = this.now();
    const updated_at = new Date(at).toISOString();
    const full: Partial<JobRecord> = {
      ...patch,
      updated_at,
      finished_at: isFinalState(to) ? updated_at : null,
    };
    const outbox = isFinalState(to) ? callbackKey(id, to, at) : null;
    const result = (await this.redis.eval(
      TRANSITION,
      3 + JOB_STATES.length,
      this.key(id),
      this.outboxIndex,
      this.outboxData,
      ...JOB_STATES.map((state) => this.index(`state:${state}`)),
      id,
      from.join(','),
      to,
      this.eventsChannel,
      outbox ?? '',
      at,
      ...encode(full),
    )) as [number, string[]] | null;
    if (!result || result[0] === 0) return null;
    return { record: decode(pairsToObject(result[1])), outbox };
  }

  /** Callback outbox entries written at least `olderThanMs` ago, with the job as it was then. */
  async pendingCallbacks(olderThanMs: number, limit = 100): Promise<Array<{ key: string; job: JobRecord }>> {
    const keys = await this.redis.zrangebyscore(
      this.outboxIndex,
      '-inf',
      this.now() - olderThanMs,
      'LIMIT',
      0,
      limit,
    );
    if (keys.length === 0) return [];
    const snapshots = await this.redis.hmget(this.outboxData, ...keys);
    const pending: Array<{ key: string; job: JobRecord }> = [];
    for (const [i, key] of keys.entries()) {
      const snapshot = snapshots[i];
      if (snapshot) pending.push({ key, job: decode(pairsToObject(JSON.parse(snapshot) as string[])) });
      else await this.clearCallback(key);
    }
    return pending;
  }

  /** The callback of this outbox entry is queued: forget the entry. */
  async clearCallback(key: string): Promise<void> {
    await this.redis.multi().zrem(this.outboxIndex, key).hdel(this.outboxData, key).exec();
  }

  async remove(id: string): Promise<boolean> {
    // A job's owner never changes, so its owner index can be named before the script runs.
    const owner = JSON.parse((await this.redis.hget(this.key(id), 'owner')) ?? 'null') as string | null;
    const progress = JSON.parse((await this.redis.hget(this.key(id), 'progress')) ?? 'null') as {
      video_id?: number | null;
    } | null;
    if (typeof progress?.video_id === 'number') {
      const videoId = String(progress.video_id);
      if ((await this.redis.hget(this.videoIndex, videoId)) === id)
        await this.redis.hdel(this.videoIndex, videoId);
    }
    const removed = await this.redis.eval(
      REMOVE,
      3 + JOB_STATES.length + JOB_KINDS.length,
      this.key(id),
      this.index('all'),
      ...JOB_STATES.map((state) => this.index(`state:${state}`)),
      ...JOB_KINDS.map((kind) => this.index(`kind:${kind}`)),
      this.index(`owner:${owner ?? ''}`),
      id,
      this.eventsChannel,
    );
    return removed === 1;
  }

  /** Newest first. `state` and `kind` filter; `cursor` is the `next` of the previous page. */
  async list(query: ListQuery = {}): Promise<JobPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    // Read the narrowest index; the other filters apply to what it yields, in batches.
    const primary = query.state
      ? `state:${query.state}`
      : query.owner !== undefined
        ? `owner:${query.owner}`
        : query.kind
          ? `kind:${query.kind}`
          : 'all';
    const index = this.index(primary);
    const matches = (record: JobRecord) =>
      (!query.kind || record.kind === query.kind) &&
      (query.owner === undefined || record.owner === query.owner);
    const filtered =
      Boolean(query.kind && !primary.startsWith('kind:')) ||
      (query.owner !== undefined && !primary.startsWith('owner:'));
    let max = query.cursor ? `(${Number(query.cursor)}` : '+inf';
    const items: JobRecord[] = [];
    let lastSeq: string | null = null;
    for (;;) {
      const batch = filtered ? Math.max(limit * 2, 100) : limit + 1;
      const page = await this.redis.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', 0, batch);
      if (page.length === 0) return { items, next: null };
      const ids: string[] = [];
      const seqs: string[] = [];
      for (let i = 0; i < page.length; i += 2) {
        ids.push(page[i]!);
        seqs.push(page[i + 1]!);
      }
      const records = await this.getMany(ids);
      const byId = new Map(records.map((r) => [r.id, r]));
      for (let i = 0; i < ids.length; i++) {
        const record = byId.get(ids[i]!);
        if (!record || !matches(record)) continue;
        if (items.length === limit) return { items, next: lastSeq };
        items.push(record);
        lastSeq = seqs[i]!;
      }
      if (ids.length < batch) return { items, next: null };
      max = `(${seqs[seqs.length - 1]}`;
    }
  }

  async countByState(): Promise<Record<JobState, number>> {
    const pipeline = this.redis.pipeline();
    for (const state of JOB_STATES) pipeline.zcard(this.index(`state:${state}`));
    const results = (await pipeline.exec()) ?? [];
    return Object.fromEntries(JOB_STATES.map((state, i) => [state, Number(results[i]?.[1] ?? 0)])) as Record<
      JobState,
      number
    >;
  }

  /** Ids in one state, oldest first (for reconciling and recovery). */
  async idsInState(state: JobState, limit = 1_000): Promise<string[]> {
    return this.redis.zrangebyscore(this.index(`state:${state}`), '-inf', '+inf', 'LIMIT', 0, limit);
  }
}

/**
 * One callback per job per final state reached: the notify queue's job id, so queueing the same
 * outbox entry twice (a crash between queueing and clearing it) still delivers once.
 */
export function callbackKey(id: string, state: JobState, at: number): string {
  return `notify-${id}-${state}-${at}`;
}

function encode(fields: Partial<JobRecord>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    args.push(key, JSON.stringify(value));
  }
  return args;
}

function decode(hash: Record<string, string>): JobRecord {
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const raw = hash[field];
    record[field] = raw === undefined ? null : JSON.parse(raw);
  }
  record.delete_video = record.delete_video === true;
  return record as unknown as JobRecord;
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) out[pairs[i]!] = pairs[i + 1]!;
  return out;
}
