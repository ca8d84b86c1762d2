import { AppError } from '../errors.js';
import type { RedisClient } from '../redis.js';
import { batchIndexes, batchKeys } from './batches.js';
import { jobWords, matchesWords, searchWords } from './search.js';
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

export interface ListQuery {
  state?: JobState | undefined;
  kind?: JobKind | undefined;
  /** Only this owner's jobs (a tool's view). */
  owner?: string | undefined;
  /** Only this batch's jobs. */
  batch?: string | undefined;
  /** Every word of it begins a word of the job's name, filename, origin URL, id or video id (see search.ts). */
  q?: string | undefined;
  /** Only jobs created at or after this epoch ms. */
  since?: number | undefined;
  /** Default 50, at most 500. */
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

export interface JobPage {
  items: JobRecord[];
  /**
   * The cursor of the next page, or null at the end. A page may hold fewer than `limit` items
   * while `next` is set: a request looks at a bounded number of candidates (see SCAN_BUDGET).
   */
  next: string | null;
}

/** Most candidate jobs one list request reads before it answers (with a cursor to go on from). */
export const SCAN_BUDGET = 2_000;

export interface UpdateOptions {
  /** Apply only when the job is in one of these states (guards against racing a cancel or a retry). */
  onlyFrom?: readonly JobState[];
}

/** Search entries carry `MAX_SEQ - seq`, zero-padded, so that a word's range is newest first. */
const MAX_SEQ = 999_999_999_999;
const OPEN_STATES = JOB_STATES.filter((state) => !isFinalState(state));
const FINAL_TABLE = `{ ${JOB_STATES.filter(isFinalState)
  .map((state) => `${state} = true`)
  .join(', ')} }`;

// Lua shared by the job scripts. A search entry is `word \0 inverted-seq \0 id` in one sorted set
// whose scores are all 0: a word's jobs are then a lexicographic range, newest first, and a
// prefix's words are a range too. A batch's counts move with its jobs; `settle` keeps its
// `finished_at` (and its place in the finished index) true to them.
const LUA_HELPERS = `
-- Whole numbers as Redis takes them: never "-0" or "1e+15".
local function int(n)
  return string.format('%d', n)
end
local function member(word, seq, id)
  return word .. '\\0' .. string.format('%012d', ${MAX_SEQ} - tonumber(seq)) .. '\\0' .. id
end
local function batchOf(job)
  local raw = redis.call('HGET', job, 'batch')
  local bid = raw and cjson.decode(raw)
  if type(bid) ~= 'string' then return '' end
  return bid
end
local function settle(key, bid, now, finished)
  local open = 0
  for _, s in ipairs({ ${OPEN_STATES.map((s) => `'n:${s}'`).join(', ')} }) do
    open = open + (tonumber(redis.call('HGET', key, s)) or 0)
  end
  if open > 0 then
    redis.call('HDEL', key, 'finished_at')
    redis.call('ZREM', finished, bid)
  elseif (tonumber(redis.call('HGET', key, 'total')) or 0) > 0 then
    redis.call('HSETNX', key, 'finished_at', now)
    redis.call('ZADD', finished, redis.call('HGET', key, 'finished_at'), bid)
  else
    redis.call('HDEL', key, 'finished_at')
    redis.call('ZADD', finished, now, bid)
  end
end
`;

// Every field is stored JSON-encoded in one Redis hash per job, so partial updates from the
// relay (bytes received) and the workers (state, video) never overwrite each other.
// KEYS: the job, the sequence, the index of all jobs, its state's, its kind's, its owner's, the
// search index, the finished index, its batch (hash, jobs) and the finished batches.
// ARGV: id, owner, events channel, batch id, state, now, final ('1'), size counted for the batch,
// number of search words, the words, then field/value pairs.
const CREATE = `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local bid = ARGV[4]
if bid ~= '' and redis.call('EXISTS', KEYS[9]) == 0 then return -1 end
local seq = redis.call('INCR', KEYS[2])
local words = tonumber(ARGV[9])
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 10 + words))
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[5], seq, ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[6], seq, ARGV[1]) end
for i = 10, 9 + words do redis.call('ZADD', KEYS[7], 0, member(ARGV[i], seq, ARGV[1])) end
if bid ~= '' then
  redis.call('HSET', KEYS[1], 'batch_bytes', ARGV[8])
  redis.call('HINCRBY', KEYS[9], 'total', 1)
  redis.call('HINCRBY', KEYS[9], 'n:' .. ARGV[5], 1)
  redis.call('HINCRBY', KEYS[9], 'bytes', ARGV[8])
  redis.call('HSET', KEYS[9], 'last_at', ARGV[6])
  redis.call('ZADD', KEYS[10], seq, ARGV[1])
  settle(KEYS[9], bid, ARGV[6], KEYS[11])
elseif ARGV[7] == '1' then
  redis.call('ZADD', KEYS[8], ARGV[6], ARGV[1])
end
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

// KEYS: the job, the callback outbox (sorted set + hash), one index per state in JOB_STATES
// order, then the finished index, the job's batch and the finished batches. ARGV: id, allowed
// current states, target state, events channel, outbox entry (empty unless the target is final),
// now (its score), the job's batch id ('' for none), then field/value pairs.
// Reaching a final state with a callback_url writes the job as it is now into the outbox in the
// same step, so no caller can forget the callback (JobLifecycle delivers and clears it). The
// batch's counts move in the same step, so they add up to its total at every moment.
const STATE_KEY = JOB_STATES.map((state, i) => `${state} = ${i + 4}`).join(', ');
const AFTER_STATES = 4 + JOB_STATES.length;
const TRANSITION = `${LUA_HELPERS}
local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return nil end
local current = cjson.decode(raw)
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
local bid = batchOf(KEYS[1])
if bid ~= ARGV[7] then return redis.error_reply('BATCH_MISMATCH job ' .. ARGV[1]) end
local index = { ${STATE_KEY} }
local final = ${FINAL_TABLE}
local to = ARGV[3]
if to ~= current then
  local seq = redis.call('HGET', KEYS[1], 'seq')
  redis.call('ZREM', KEYS[index[current]], ARGV[1])
  redis.call('ZADD', KEYS[index[to]], seq, ARGV[1])
end
redis.call('HSET', KEYS[1], 'state', cjson.encode(to), unpack(ARGV, 8))
local batch = KEYS[${AFTER_STATES + 1}]
if bid ~= '' then
  if to ~= current then
    redis.call('HINCRBY', batch, 'n:' .. current, -1)
    redis.call('HINCRBY', batch, 'n:' .. to, 1)
    local size = tonumber(cjson.decode(redis.call('HGET', KEYS[1], 'size') or 'null')) or 0
    if to == 'ready' then redis.call('HINCRBY', batch, 'bytes_ready', int(size)) end
    if current == 'ready' then redis.call('HINCRBY', batch, 'bytes_ready', int(0 - size)) end
  end
  redis.call('HSET', batch, 'last_at', ARGV[6])
  settle(batch, bid, ARGV[6], KEYS[${AFTER_STATES + 2}])
elseif final[to] then
  redis.call('ZADD', KEYS[${AFTER_STATES}], ARGV[6], ARGV[1])
else
  redis.call('ZREM', KEYS[${AFTER_STATES}], ARGV[1])
end
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

// KEYS: the job, the index of all jobs, one index per state in JOB_STATES order, one per kind in
// JOB_KINDS order, its owner's, the search index, the finished index, its batch (hash, jobs), the
// finished batches and its import claim (every key a script touches is declared: a cluster
// checks them). ARGV: id, events channel, its batch id ('' for none), now, '1' when it has a claim.
const KIND_KEY = JOB_KINDS.map((kind, i) => `${kind} = ${i + 3 + JOB_STATES.length}`).join(', ');
const AFTER_KINDS = 3 + JOB_STATES.length + JOB_KINDS.length;
const REMOVE = `${LUA_HELPERS}
local raw = redis.call('HGET', KEYS[1], 'state')
if not raw then return 0 end
local bid = batchOf(KEYS[1])
if bid ~= ARGV[3] then return redis.error_reply('BATCH_MISMATCH job ' .. ARGV[1]) end
local states = { ${JOB_STATES.map((state, i) => `${state} = ${i + 3}`).join(', ')} }
local kinds = { ${KIND_KEY} }
local name = cjson.decode(raw)
local state = states[name]
local kind = kinds[cjson.decode(redis.call('HGET', KEYS[1], 'kind') or 'null')]
if state then redis.call('ZREM', KEYS[state], ARGV[1]) end
if kind then redis.call('ZREM', KEYS[kind], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[${AFTER_KINDS}], ARGV[1])
local seq = redis.call('HGET', KEYS[1], 'seq')
local words = cjson.decode(redis.call('HGET', KEYS[1], 'search') or '[]')
if seq and type(words) == 'table' then
  for _, w in ipairs(words) do redis.call('ZREM', KEYS[${AFTER_KINDS + 1}], member(w, seq, ARGV[1])) end
end
redis.call('ZREM', KEYS[${AFTER_KINDS + 2}], ARGV[1])
if bid ~= '' then
  local batch = KEYS[${AFTER_KINDS + 3}]
  redis.call('HINCRBY', batch, 'total', -1)
  redis.call('HINCRBY', batch, 'n:' .. name, -1)
  redis.call('HINCRBY', batch, 'bytes', int(0 - (tonumber(redis.call('HGET', KEYS[1], 'batch_bytes')) or 0)))
  if name == 'ready' then
    local size = tonumber(cjson.decode(redis.call('HGET', KEYS[1], 'size') or 'null')) or 0
    redis.call('HINCRBY', batch, 'bytes_ready', int(0 - size))
  end
  redis.call('ZREM', KEYS[${AFTER_KINDS + 4}], ARGV[1])
  settle(batch, bid, ARGV[4], KEYS[${AFTER_KINDS + 5}])
end
if ARGV[5] == '1' and redis.call('GET', KEYS[${AFTER_KINDS + 6}]) == ARGV[1] then
  redis.call('DEL', KEYS[${AFTER_KINDS + 6}])
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`;

// KEYS: the video index, the job, the search index. ARGV: video id, job id. The video id becomes
// one of the job's search words.
const INDEX_VIDEO = `${LUA_HELPERS}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local seq = redis.call('HGET', KEYS[2], 'seq')
if not seq then return 0 end
local words = cjson.decode(redis.call('HGET', KEYS[2], 'search') or '[]')
if type(words) ~= 'table' then words = {} end
for _, w in ipairs(words) do
  if w == ARGV[1] then return 1 end
end
words[#words + 1] = ARGV[1]
redis.call('HSET', KEYS[2], 'search', cjson.encode(words))
redis.call('ZADD', KEYS[3], 0, member(ARGV[1], seq, ARGV[2]))
return 1
`;

// The distinct indexed words that begin with ARGV[1], at most ARGV[2] of them, in order: one
// O(log n) step per word however many jobs each has. KEYS: the search index.
const EXPAND = `
local out = {}
local min = '[' .. ARGV[1]
local max = '[' .. ARGV[1] .. '\\255'
for _ = 1, tonumber(ARGV[2]) do
  local m = redis.call('ZRANGEBYLEX', KEYS[1], min, max, 'LIMIT', 0, 1)[1]
  if not m then break end
  local word = string.sub(m, 1, string.find(m, '\\0', 1, true) - 1)
  out[#out + 1] = word
  min = '(' .. word .. '\\0\\255'
end
return out
`;

/** Most words a query word's prefix is expanded to (each read as its own range of the index). */
const MAX_EXPANSION = 32;
/** A prefix of more words is read as one range when it has at most this many entries. */
const PREFIX_READ_LIMIT = 5_000;

/** A source of candidate jobs for a list: newest first, strictly below `before` (a sequence). */
interface Candidates {
  /** How many jobs it may yield (an upper bound is fine): the smallest source is read. */
  estimate: number;
  read(
    before: number | null,
    count: number,
  ): Promise<{ items: Array<{ id: string; seq: number }>; more: boolean }>;
}

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

/**
 * Job records in Redis: one hash per job, a sorted set of all jobs and one per state, per kind,
 * per owner and per batch (scored by a creation sequence, so listing is newest first with an
 * exact cursor), a search index of the words jobs can be found by (see search.ts), an index of
 * finished jobs by when they finished (for JOB_RETENTION), and a pub/sub channel that carries the
 * id of every job that changed.
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

  /** `word \0 inverted seq \0 id` for every searchable word of every job (scores all 0). */
  private get searchIndex(): string {
    return `${this.prefix}:jobs:search`;
  }

  /** Jobs outside any batch in a final state, scored by when they got there (epoch ms). */
  private get finishedIndex(): string {
    return this.index('finished');
  }

  /** The batch keys a script names: real ones, or placeholders (never written) for no batch. */
  private batchKeysOf(batch: string | null | undefined): [string, string, string] {
    const keys = batchKeys(this.prefix, batch || '-');
    return [keys.hash, keys.jobs, batchIndexes(this.prefix).finished];
  }

  /** Set while Gcore's webhooks arrive (see {@link noteWebhook}). */
  private get webhookSeenKey(): string {
    return `${this.prefix}:webhooks:seen`;
  }

  /** Remembers which job follows Gcore video `videoId` (written once the video exists); the id becomes searchable. */
  async indexVideo(videoId: number, jobId: string): Promise<void> {
    await this.redis.eval(
      INDEX_VIDEO,
      3,
      this.videoIndex,
      this.key(jobId),
      this.searchIndex,
      String(videoId),
      jobId,
    );
  }

  /** The id of the job following Gcore video `videoId`, or null. */
  async jobOfVideo(videoId: number): Promise<string | null> {
    return this.redis.hget(this.videoIndex, String(videoId));
  }

  /** {@link jobOfVideo} of each id, in one round trip. */
  async jobsOfVideos(videoIds: readonly number[]): Promise<Array<string | null>> {
    if (videoIds.length === 0) return [];
    return this.redis.hmget(this.videoIndex, ...videoIds.map(String));
  }

  /** A webhook from Gcore arrived: for the next `ttlMs`, {@link webhooksArriving} says yes. */
  async noteWebhook(ttlMs: number): Promise<void> {
    await this.redis.set(this.webhookSeenKey, String(this.now()), 'PX', Math.max(1, Math.round(ttlMs)));
  }

  /** Whether a Gcore webhook arrived within the last `ttlMs` of the latest {@link noteWebhook}. */
  async webhooksArriving(): Promise<boolean> {
    return (await this.redis.exists(this.webhookSeenKey)) === 1;
  }

  /**
   * Creates the job unless one with this id exists; either way returns the stored record. With
   * `batch`, the job joins that batch in the same step; throws AppError `BATCH_NOT_FOUND` when the
   * batch does not exist (any more).
   */
  async create(job: NewJob): Promise<{ record: JobRecord; created: boolean }> {
    const now = this.now();
    const at = job.created_at ?? new Date(now).toISOString();
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
      batch: job.batch ?? null,
      batch_index: job.batch ? (job.batch_index ?? null) : null,
    };
    const words = jobWords({ ...record, videoId: job.progress.video_id });
    const internal: Record<string, unknown> = { search: words, ...(job.claim ? { claim: job.claim } : {}) };
    const seq = (await this.redis.eval(
      CREATE,
      11,
      this.key(job.id),
      this.index('seq'),
      this.index('all'),
      this.index(`state:${job.state}`),
      this.index(`kind:${job.kind}`),
      this.index(`owner:${job.owner ?? ''}`),
      this.searchIndex,
      this.finishedIndex,
      ...this.batchKeysOf(job.batch),
      job.id,
      job.owner ?? '',
      this.eventsChannel,
      job.batch ?? '',
      job.state,
      now,
      isFinalState(job.state) ? '1' : '',
      job.size ?? 0,
      words.length,
      ...words,
      ...encode(record),
      ...encode(internal as Partial<JobRecord>),
    )) as number;
    if (seq === -1) throw new AppError('BATCH_NOT_FOUND', `no batch with id "${job.batch}"`, 404);
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
    return (await this.getManyHashes(ids)).map(decode);
  }

  private async getManyHashes(ids: readonly string[]): Promise<Array<Record<string, string>>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    const hashes: Array<Record<string, string>> = [];
    for (const [error, hash] of results) {
      if (error) throw error;
      const h = hash as Record<string, string>;
      if (h.state) hashes.push(h);
    }
    return hashes;
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

  /** The batch a job belongs to ('' for none): it never changes, so scripts can name its keys up front. */
  private async batchOf(id: string): Promise<string> {
    const raw = await this.redis.hget(this.key(id), 'batch');
    const batch = raw ? (JSON.parse(raw) as string | null) : null;
    return batch ?? '';
  }

  /**
   * Moves a job to `to` when it is in one of `from`, with `patch` in the same step; a final
   * state with a callback_url also lands in the callback outbox, and the job's batch counts move
   * with it. Only {@link JobLifecycle} calls this (it holds the table of allowed moves); tests use
   * it to set up fixtures.
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
    const batch = await this.batchOf(id);
    const result = (await this.redis.eval(
      TRANSITION,
      3 + JOB_STATES.length + 3,
      this.key(id),
      this.outboxIndex,
      this.outboxData,
      ...JOB_STATES.map((state) => this.index(`state:${state}`)),
      this.finishedIndex,
      this.batchKeysOf(batch)[0],
      this.batchKeysOf(batch)[2],
      id,
      from.join(','),
      to,
      this.eventsChannel,
      outbox ?? '',
      at,
      batch,
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

  /** Removes the job with every index entry of it (its batch counts it no more). */
  async remove(id: string): Promise<boolean> {
    // A job's owner, batch and claim never change, so their keys can be named before the script runs.
    const [ownerRaw, progressRaw, batchRaw, claimRaw] = await this.redis.hmget(
      this.key(id),
      'owner',
      'progress',
      'batch',
      'claim',
    );
    const owner = JSON.parse(ownerRaw ?? 'null') as string | null;
    const progress = JSON.parse(progressRaw ?? 'null') as { video_id?: number | null } | null;
    const batch = (JSON.parse(batchRaw ?? 'null') as string | null) ?? '';
    const claim = JSON.parse(claimRaw ?? 'null') as string | null;
    if (typeof progress?.video_id === 'number') {
      const videoId = String(progress.video_id);
      if ((await this.redis.hget(this.videoIndex, videoId)) === id)
        await this.redis.hdel(this.videoIndex, videoId);
    }
    // A claim key is always one of this prefix's (ImportClaims); anything else is not touched.
    const claimKey = claim?.startsWith(`${this.prefix}:`) ? claim : this.index('no-claim');
    const removed = await this.redis.eval(
      REMOVE,
      3 + JOB_STATES.length + JOB_KINDS.length + 6,
      this.key(id),
      this.index('all'),
      ...JOB_STATES.map((state) => this.index(`state:${state}`)),
      ...JOB_KINDS.map((kind) => this.index(`kind:${kind}`)),
      this.index(`owner:${owner ?? ''}`),
      this.searchIndex,
      this.finishedIndex,
      ...this.batchKeysOf(batch),
      claimKey,
      id,
      this.eventsChannel,
      batch,
      this.now(),
      claim?.startsWith(`${this.prefix}:`) ? '1' : '',
    );
    // No record (removed meanwhile, or lost): an entry left in the finished index goes too.
    if (removed !== 1) await this.redis.zrem(this.finishedIndex, id);
    return removed === 1;
  }

  /** Ids of jobs outside any batch that reached a final state before `before` (epoch ms), oldest first. */
  async finishedBefore(before: number, limit = 500): Promise<string[]> {
    return this.redis.zrangebyscore(this.finishedIndex, '-inf', before, 'LIMIT', 0, limit);
  }

  /**
   * Newest first, every filter applied; `cursor` is the `next` of the previous page (a job's
   * creation sequence, so a page never shifts while jobs change state). The smallest index among
   * the filters is read, the other filters are checked on what it yields.
   */
  async list(query: ListQuery = {}): Promise<JobPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const words = query.q ? searchWords(query.q) : [];
    const source = await this.candidates(query, words);
    // Words are checked against the ones the job is indexed by (the same as the index's answer).
    const matches = (record: JobRecord, indexed: string | undefined) =>
      (!query.state || record.state === query.state) &&
      (!query.kind || record.kind === query.kind) &&
      (query.owner === undefined || record.owner === query.owner) &&
      (query.batch === undefined || record.batch === query.batch) &&
      (words.length === 0 || matchesWords(indexedWords(record, indexed), words));
    const batch = words.length > 0 || filterCount(query) > 1 ? Math.max(limit * 2, 100) : limit + 1;
    let before = query.cursor ? Number(query.cursor) : null;
    const items: JobRecord[] = [];
    let lastSeq: number | null = null;
    let scanned = 0;
    for (;;) {
      const { items: page, more } = await source.read(before, batch);
      if (page.length === 0) return { items, next: null };
      const hashes = await this.getManyHashes(page.map((c) => c.id));
      const byId = new Map(hashes.map((h) => [JSON.parse(h.id ?? 'null') as string, h]));
      for (const candidate of page) {
        const hash = byId.get(candidate.id);
        if (!hash) continue;
        const record = decode(hash);
        // Newest first: once one is older than `since`, so is every later one.
        if (query.since !== undefined && Date.parse(record.created_at) < query.since)
          return { items, next: null };
        if (!matches(record, hash.search)) continue;
        if (items.length === limit) return { items, next: String(lastSeq) };
        items.push(record);
        lastSeq = candidate.seq;
      }
      if (!more) return { items, next: null };
      before = page[page.length - 1]!.seq;
      scanned += page.length;
      if (scanned >= SCAN_BUDGET) return { items, next: String(before) };
    }
  }

  /** The narrowest source of candidates for a query: an index of one filter, or a query word's. */
  private async candidates(query: ListQuery, words: readonly string[]): Promise<Candidates> {
    const sets = [
      query.state ? this.index(`state:${query.state}`) : null,
      query.kind ? this.index(`kind:${query.kind}`) : null,
      query.owner !== undefined ? this.index(`owner:${query.owner}`) : null,
      query.batch !== undefined ? batchKeys(this.prefix, query.batch).jobs : null,
    ].filter((key): key is string => key !== null);
    if (sets.length === 0) sets.push(this.index('all'));
    const pipeline = this.redis.pipeline();
    for (const key of sets) pipeline.zcard(key);
    for (const word of words) pipeline.zlexcount(this.searchIndex, `[${word}`, lexEnd(word));
    const sizes = ((await pipeline.exec()) ?? []).map(([error, n]) => {
      if (error) throw error;
      return Number(n);
    });
    const smallestSet = sets.reduce((best, key, i) => (sizes[i]! < sizes[sets.indexOf(best)]! ? key : best));
    const setSize = sizes[sets.indexOf(smallestSet)]!;
    const wordSizes = sizes.slice(sets.length);
    const rarest = words.reduce<number>(
      (best, _, i) => (best < 0 || wordSizes[i]! < wordSizes[best]! ? i : best),
      -1,
    );
    if (rarest >= 0 && wordSizes[rarest]! < setSize) {
      const source = await this.wordSource(words[rarest]!, wordSizes[rarest]!);
      if (source) return source;
    }
    return this.setSource(smallestSet, setSize);
  }

  private setSource(key: string, estimate: number): Candidates {
    return {
      estimate,
      read: async (before, count) => {
        const page = await this.redis.zrevrangebyscore(
          key,
          before === null ? '+inf' : `(${before}`,
          '-inf',
          'WITHSCORES',
          'LIMIT',
          0,
          count,
        );
        const items: Array<{ id: string; seq: number }> = [];
        for (let i = 0; i < page.length; i += 2) items.push({ id: page[i]!, seq: Number(page[i + 1]) });
        return { items, more: items.length === count };
      },
    };
  }

  /**
   * The jobs with a word that begins with `prefix`: the distinct words it expands to (at most
   * MAX_EXPANSION), each a newest-first range of the search index, merged; a prefix of more words
   * but few entries, its whole range; else null (too broad to read this way).
   */
  private async wordSource(prefix: string, estimate: number): Promise<Candidates | null> {
    const expanded = (await this.redis.eval(
      EXPAND,
      1,
      this.searchIndex,
      prefix,
      MAX_EXPANSION + 1,
    )) as string[];
    if (expanded.length > MAX_EXPANSION)
      return estimate <= PREFIX_READ_LIMIT ? this.prefixSource(prefix, estimate) : null;
    return {
      estimate,
      read: async (before, count) => {
        const from = before === null ? '' : pad(MAX_SEQ - before + 1);
        const pipeline = this.redis.pipeline();
        for (const word of expanded)
          pipeline.zrangebylex(this.searchIndex, `[${word}\0${from}`, lexEnd(`${word}\0`), 'LIMIT', 0, count);
        const lists = ((await pipeline.exec()) ?? []).map(([error, members]) => {
          if (error) throw error;
          return (members as string[]).map((m) => {
            const [, inv, id] = m.split('\0');
            return { id: id!, seq: MAX_SEQ - Number(inv) };
          });
        });
        // A full list may go on below its last entry: merged results are complete only down to
        // the highest such last entry.
        let bound = Number.NEGATIVE_INFINITY;
        for (const list of lists)
          if (list.length === count) bound = Math.max(bound, list[list.length - 1]!.seq);
        const seen = new Set<string>();
        const items = lists
          .flat()
          .filter((c) => c.seq >= bound)
          .sort((a, b) => b.seq - a.seq)
          .filter((c) => !seen.has(c.id) && Boolean(seen.add(c.id)));
        return { items, more: bound > Number.NEGATIVE_INFINITY };
      },
    };
  }

  /**
   * A prefix of many words but few entries (`43` of `4301`, `4302`, …): its whole range, read at
   * once (at most PREFIX_READ_LIMIT entries) and put in newest-first order.
   */
  private prefixSource(prefix: string, estimate: number): Candidates {
    let all: Array<{ id: string; seq: number }> | null = null;
    return {
      estimate,
      read: async (before, count) => {
        if (!all) {
          const members = await this.redis.zrangebylex(this.searchIndex, `[${prefix}`, lexEnd(prefix));
          const seen = new Set<string>();
          all = members
            .map((m) => {
              const [, inv, id] = m.split('\0');
              return { id: id!, seq: MAX_SEQ - Number(inv) };
            })
            .sort((a, b) => b.seq - a.seq)
            .filter((c) => !seen.has(c.id) && Boolean(seen.add(c.id)));
        }
        const from = before === null ? 0 : all.findIndex((c) => c.seq < before);
        const items = from < 0 ? [] : all.slice(from, from + count);
        return { items, more: from >= 0 && from + count < all.length };
      },
    };
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

/** The words a job is indexed by; records written before the index existed: recomputed. */
function indexedWords(record: JobRecord, raw: string | undefined): string[] {
  if (raw) return JSON.parse(raw) as string[];
  return jobWords({ ...record, videoId: record.progress?.video_id ?? record.video?.id ?? null });
}

const pad = (n: number): string => String(n).padStart(12, '0');

/** The inclusive end of a lexicographic range of members beginning with `prefix` (no member has a 0xff byte). */
function lexEnd(prefix: string): Buffer {
  return Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
}

function filterCount(query: ListQuery): number {
  return [query.state, query.kind, query.owner, query.batch, query.since].filter((v) => v !== undefined)
    .length;
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
