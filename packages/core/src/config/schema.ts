import { z } from 'zod';
import {
  bool,
  cidrList,
  corsOrigins,
  duration,
  endpoints,
  hostList,
  int,
  optionalString,
  optionalUrl,
  pathSecret,
  positive,
  publicUrl,
  tokenList,
  url,
  videoDefaults,
} from './parsers.js';

/** Letters, digits, `_ . -`, and at most one non-empty `{hash tag}`. */
const PREFIX = /^[A-Za-z0-9_.-]*(\{[A-Za-z0-9_.-]+\}[A-Za-z0-9_.-]*)?$/;

/** Every environment variable the relay reads, with its default. See docs/contract.md and README.md. */
export const configSchema = z.object({
  /** Relay HTTP port. Default 8080. */
  PORT: int(8080, 0, 65_535),
  /** Bind address. Default 0.0.0.0. */
  HOST: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || '0.0.0.0'),
  /** Uploads (`DATA_DIR/uploads`), the generated token and embedded Redis data. Default `./data`. */
  DATA_DIR: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || './data'),
  /**
   * One Redis server (or a primary behind a fixed address), e.g. `redis://user:pass@host:6379/0`
   * or `rediss://…`. Default: 127.0.0.1:6379 if it answers, else an embedded redis-server. Set at
   * most one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES.
   */
  REDIS_URL: optionalUrl(),
  /**
   * Redis Sentinel: the sentinels as `host:port,host:port` (port default 26379); the relay follows
   * the primary they name for REDIS_SENTINEL_NAME through failovers.
   */
  REDIS_SENTINELS: endpoints(26_379),
  /** The master name the sentinels monitor (`sentinel monitor <name> …`); required with REDIS_SENTINELS. */
  REDIS_SENTINEL_NAME: optionalString,
  /** Password of the sentinels themselves (`requirepass` in sentinel.conf), if they have one. */
  REDIS_SENTINEL_PASSWORD: optionalString,
  /**
   * Redis Cluster: some of its nodes as `host:port,host:port` (port default 6379); the rest are
   * discovered. Every key then shares one hash tag (see REDIS_PREFIX).
   */
  REDIS_CLUSTER_NODES: endpoints(6_379),
  /** ACL user name of the data nodes (Sentinel, Cluster; for REDIS_URL when the URL has none). */
  REDIS_USERNAME: optionalString,
  /** Password of the data nodes (Sentinel, Cluster; for REDIS_URL when the URL has none). */
  REDIS_PASSWORD: optionalString,
  /**
   * Prefix of every Redis key (jobs and queues), so several relays can share one Redis. Default
   * `gtr`. It may carry a hash tag (`{gtr}`, `app{gtr}`); with REDIS_CLUSTER_NODES a prefix without
   * one is wrapped in braces (`gtr` → `{gtr}`), so that every key lands in one slot.
   */
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(PREFIX, 'letters, digits, _ . - only, with at most one {hash tag}')
    .optional()
    .transform((v) => v || 'gtr'),
  /** Gcore API base URL. Default https://api.gcore.com. */
  GCORE_API_URL: url('https://api.gcore.com'),
  /** Gcore API key (`Authorization: APIKey <key>`). Never logged. */
  GCORE_API_KEY: optionalString,
  /**
   * Upload to TUS servers Gcore lists with `ssl: false`, over plain http. Default false: the upload
   * token would travel in clear text; only an emulator (e.g. docker compose's) needs it.
   */
  GCORE_ALLOW_INSECURE_UPLOAD: bool(false),
  /** Ceiling on Gcore API requests per second, shared by all workers. Default 4. */
  GCORE_API_RPS: positive(4),
  /**
   * Tools' tokens (TUS ingest, imports, their own jobs), comma-separated; an entry is `token` or
   * `name:token`. Without RELAY_OPERATOR_TOKENS they also have operator rights (as before roles).
   */
  RELAY_API_TOKENS: tokenList('tool'),
  /** Operators' tokens (the dashboard and every job; bull-board read-only), as RELAY_API_TOKENS. */
  RELAY_OPERATOR_TOKENS: tokenList('operator'),
  /** Admins' tokens (everything, bull-board's write actions included), as RELAY_API_TOKENS. */
  RELAY_ADMIN_TOKENS: tokenList('admin'),
  /** Bytes per PATCH to Gcore's TUS server. Default 10 000 000. */
  FORWARD_CHUNK_SIZE: int(10_000_000, 1_024),
  /**
   * `stream`: an upload of known length is forwarded to Gcore while it arrives (from its first
   * FORWARD_CHUNK_SIZE); `store`: only once it is complete. Default `stream`.
   */
  FORWARD_MODE: z
    .enum(['stream', 'store'])
    .optional()
    .transform((v) => v ?? 'stream'),
  /** Uploads forwarded at once per worker process. Default 2. */
  FORWARD_CONCURRENCY: int(2, 1, 1_000),
  /** Attempts per forward before a job is `failed` (429 pauses do not count). Default 8. */
  FORWARD_ATTEMPTS: int(8, 1, 1_000),
  /** Largest accepted upload in bytes; 0 means no limit. */
  MAX_UPLOAD_SIZE: int(0, 0),
  /**
   * Unfinished uploads one owner (token name) may have at once, partial concatenation uploads
   * included; one more is refused 429 `UPLOAD_QUOTA_EXCEEDED`. 0 means no limit. Default 200.
   */
  TOOL_MAX_OPEN_UPLOADS: int(200, 0),
  /**
   * Bytes the declared lengths of one owner's unfinished uploads may add up to (429
   * `UPLOAD_QUOTA_EXCEEDED` beyond). 0 means no limit. Default: a quarter of the size of the disk
   * of DATA_DIR, measured at start-up.
   */
  TOOL_MAX_OPEN_BYTES: int<number | undefined>(undefined, 0),
  /**
   * Free bytes the disk of DATA_DIR keeps: an upload whose declared length would leave less is
   * refused 507 `INSUFFICIENT_STORAGE`. 0: only what does not fit is refused. Default: 5 % of that
   * disk, at most 1 GiB, measured at start-up.
   */
  DISK_RESERVE_BYTES: int<number | undefined>(undefined, 0),
  /** When a job counts as done: `uploaded`, `viewable` or `ready`. */
  COMPLETE_ON: z
    .enum(['uploaded', 'viewable', 'ready'])
    .optional()
    .transform((v) => v ?? 'ready'),
  /** HMAC key for callbacks to internal tools. */
  CALLBACK_SECRET: optionalString,
  /**
   * Deprecated: also send `X-Relay-Signature` (HMAC of the body alone, no timestamp, so a recorded
   * callback can be replayed for ever) for receivers not yet checking `X-Relay-Signature-256`. Default false.
   */
  CALLBACK_LEGACY_SIGNATURE: bool(false),
  /**
   * Let callbacks reach loopback, private, link-local, CGNAT and other non-public addresses (a
   * tool on the relay's own network). Default false: such a callback_url is never called.
   */
  CALLBACK_ALLOW_PRIVATE: bool(false),
  /**
   * Comma-separated host names (any port) or `host:port` that callbacks may reach whatever
   * address they resolve to, for internal tools without opening every private address. Default none.
   */
  CALLBACK_ALLOWED_HOSTS: hostList(),
  /**
   * Unfinished uploads that received no byte for this long are removed (each accepted PATCH moves
   * `Upload-Expires` on). Default 24h.
   */
  UPLOAD_EXPIRY: duration('24h'),
  /**
   * How long a finished upload's URL still answers HEAD (`Upload-Offset` = `Upload-Length`) after
   * its file was forwarded and removed, so a client resuming it learns it is done instead of
   * uploading the file again. Counted from its last byte. Default 7d.
   */
  FINISHED_UPLOAD_RETENTION: duration('7d'),
  /**
   * How long a job is kept after it reached a final state (`ready`, `failed`, `canceled`), with
   * its index entries; a batch's jobs are kept until this long after the batch's last job ended,
   * so that its export stays whole. Default 30d.
   */
  JOB_RETENTION: duration('30d'),
  /** Keep local files after Gcore has them. Default false. */
  KEEP_FILES: bool(false),
  /** Check that an import URL answers before asking Gcore to pull it. Default true. */
  IMPORT_PREFLIGHT: bool(true),
  /** Let the relay fetch loopback/private addresses. Default false. */
  IMPORT_ALLOW_PRIVATE: bool(false),
  /** Build TUS `Location` URLs from X-Forwarded-* headers (behind a reverse proxy). Default false. */
  TRUST_PROXY: bool(false),
  /**
   * Browser origins allowed to call the relay (TUS `/files` and the JSON API) from another page:
   * `*` (any, the default) or a comma-separated list of origins (`https://app.example.com`). A
   * listed origin gets itself back in `Access-Control-Allow-Origin`; any other gets none of its own.
   */
  CORS_ORIGINS: corsOrigins(),
  /**
   * The relay's external base URL, as tools reach it (`https://relay.example.com`, maybe with a path
   * a reverse proxy strips). When set, TUS `Location` and every other URL the relay hands out are
   * built from it, never from the request's `Host` or `X-Forwarded-*` (which `TRUST_PROXY` reads
   * only when this is unset). http(s) only; no query or fragment. Default: unset.
   */
  PUBLIC_URL: publicUrl(),
  /**
   * Requests without a valid relay token one client address may make per minute; past it that
   * address gets 429 `TOO_MANY_AUTH_FAILURES` for a minute (counted in Redis, shared by all relays).
   * 0 turns it off. Default 20.
   */
  AUTH_FAILURE_LIMIT: int(20, 0, 1_000_000),
  /**
   * For benchmarks and single-relay debugging only: `memory` gives @tus/server its in-process
   * MemoryLocker instead of the upload locks in Redis, so TUS requests on different relays no
   * longer exclude each other (unsafe with more than one relay, or with a relay beside the expiry
   * of another). Maintenance keeps taking the Redis locks. Default `redis`.
   */
  UPLOAD_LOCKER: z
    .enum(['redis', 'memory'])
    .optional()
    .transform((v) => v ?? 'redis'),
  /** Port of a `pnpm start:worker` process's `/metrics` and `/healthz`; 0 turns it off. Default 9464. */
  WORKER_METRICS_PORT: int(9464, 0, 65_535),
  /**
   * How long a worker's claim on a job lasts without renewal (BullMQ lock); a killed worker's job
   * is picked up by another after about this long. Default 30s.
   */
  WORKER_LOCK_DURATION: duration('30s'),
  /**
   * A video whose status and renditions' progress at Gcore stay the same this long ends its job
   * `failed PROCESSING_STALLED`. Default 2h.
   */
  PROCESSING_STALL_TIMEOUT: duration('2h'),
  /** Where `pnpm start` runs the built-in emulator when it needs one. Default 8090. */
  EMULATOR_PORT: int(8090, 0, 65_535),
  /**
   * Create-video fields every video gets unless its upload's metadata or its import's body sets
   * them: a JSON object such as `{"auto_transcribe_audio_language":"disable","directory_id":12}`,
   * checked with the metadata's rules at start. Default `{}` (Gcore's own defaults, e.g.
   * `auto_transcribe_audio_language: auto`).
   */
  GCORE_VIDEO_DEFAULTS: videoDefaults(),
  /** pino level. Default info. */
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .optional()
    .transform((v) => v ?? 'info'),
  /**
   * The secret last segment of the relay's Gcore webhook route, `POST /hooks/gcore/<secret>` (Gcore
   * signs nothing, so the path is the only proof). At least MIN_TOKEN_LENGTH characters of
   * `[A-Za-z0-9_-]`. Default: unset, the route is off (404/401 like any unknown path).
   */
  GCORE_WEBHOOK_PATH_SECRET: pathSecret(),
  /**
   * Comma-separated CIDRs (`92.223.112.0/24,92.223.123.0/24`, Gcore's published ranges) the webhook
   * route accepts; other client addresses (Express's `req.ip`, so behind `TRUST_PROXY` the
   * forwarded one) get the answer of a wrong secret (as any unknown path). Default: unset, any
   * address.
   */
  GCORE_WEBHOOK_SOURCES: cidrList(),
  /**
   * The most bytes a Gcore webhook's body may have: a longer one is answered 413 `BODY_TOO_LARGE`
   * without reading the rest, and its connection closed. Gcore's are a few hundred bytes. Default
   * 1048576 (1 MiB).
   */
  WEBHOOK_MAX_BODY: int(1_048_576, 1_024, 64 * 1_048_576),
});

export type Config = z.output<typeof configSchema>;
