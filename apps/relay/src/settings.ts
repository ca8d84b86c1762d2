import type { TokenEntry } from '@gtr/core';
import type { GcoreHookSettings } from './hooks.js';
import type { ImportSettings } from './imports/importer.js';
import type { QuotaLimits } from './ingest/quota.js';

/** What a relay is configured with (from-config.ts maps the environment onto it). */
export interface RelaySettings {
  /** Uploads go to `DATA_DIR/uploads`. */
  dataDir: string;
  /** Accepted tokens: entries with a name and role, or plain strings (tools' tokens). */
  tokens: readonly (string | TokenEntry)[];
  /** Bytes; 0 = no limit. */
  maxUploadSize: number;
  /** Milliseconds without a new byte after which unfinished uploads are removed. */
  uploadExpiryMs: number;
  /**
   * `FINISHED_UPLOAD_RETENTION`: how long after its last byte a finished upload's URL answers HEAD
   * as finished once its file is forwarded and removed. Default 7 days.
   */
  finishedUploadRetentionMs?: number;
  /**
   * `JOB_RETENTION`: milliseconds a job is kept after it reached a final state (a batch's jobs:
   * after the batch's last one did). Default 30 days.
   */
  jobRetentionMs?: number;
  /** Build TUS `Location` from X-Forwarded-* headers. Default false. */
  trustProxy?: boolean;
  /** `CORS_ORIGINS`: `*` (default) or the browser origins allowed on `/files` and the JSON API. */
  corsOrigins?: '*' | readonly string[];
  /**
   * `PUBLIC_URL`: the relay's external base URL (`https://relay.example.com`, maybe with a path).
   * When set, `Location` and every other URL the relay hands out are built from it, never from the
   * request's `Host` or forwarded headers.
   */
  publicUrl?: string | undefined;
  /**
   * `AUTH_FAILURE_LIMIT`: requests without a valid token per client address and minute before
   * that address gets 429 for a minute (counted in Redis); 0 turns it off. Default 20.
   */
  authFailuresPerMinute?: number;
  /** Copy-from-URL imports: `IMPORT_PREFLIGHT` and `IMPORT_ALLOW_PRIVATE`. Default: pre-flight on, public addresses only. */
  imports?: ImportSettings;
  /** The Gcore API the workers forward to, shown on the dashboard (`emulator`: the built-in one). */
  upstream?: { url: string; emulator: boolean };
  /**
   * `UPLOAD_LOCKER`, for benchmarks and single-relay debugging only: `memory` hands @tus/server
   * its MemoryLocker (unsafe with more than one relay); maintenance keeps the Redis locks.
   * Default `redis`.
   */
  uploadLocker?: 'redis' | 'memory';
  /**
   * Internal, for the bench's baseline only: `false` stops hashing uploads as they arrive (jobs
   * then have no `sha256` and the worker checks nothing). Default true.
   */
  receiveHash?: boolean;
  /**
   * `GCORE_WEBHOOK_PATH_SECRET` and `GCORE_WEBHOOK_SOURCES`: Gcore's status webhooks at
   * `POST /hooks/gcore/<secret>` (see hooks.ts). Default: no such route.
   */
  gcoreWebhooks?: GcoreHookSettings | undefined;
  /**
   * `FORWARD_MODE` and `FORWARD_CHUNK_SIZE`: whether uploads are forwarded while they arrive, and
   * the chunk that starts it. Default `stream`, 10 000 000 bytes.
   */
  forward?: { mode: 'stream' | 'store'; chunkSize: number };
  /**
   * `TOOL_MAX_OPEN_UPLOADS`, `TOOL_MAX_OPEN_BYTES` and `DISK_RESERVE_BYTES` (0 turns one off).
   * Defaults: 200 uploads, a quarter of the size of the upload dir's disk, and 5 % of that disk
   * but at most 1 GiB (the disk measured once, at start-up).
   */
  quota?: Partial<QuotaLimits>;
}
