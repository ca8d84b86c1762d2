import type { ErrorCode } from './errors.js';

/** Where a job is, in the order a job goes through them. */
export const JOB_STATES = [
  'receiving',
  'queued',
  'creating',
  'uploading',
  'processing',
  'ready',
  'failed',
  'canceled',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves by itself (only a retry moves a failed job on). */
export const FINAL_STATES: readonly JobState[] = ['ready', 'failed', 'canceled'];
export const isFinalState = (state: JobState): boolean => FINAL_STATES.includes(state);

export const JOB_KINDS = ['upload', 'import'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Gcore's processing status of a video, in the order a video goes through them (`error` aside). */
export const VIDEO_STATUSES = ['empty', 'pending', 'viewable', 'ready', 'error'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

/**
 * Who fetches an import's `origin_url`: `gcore` passes it to Gcore's create-video call (Gcore
 * pulls it); `relay` has the worker download it (through the SSRF guard) and upload it over TUS
 * like an upload. Uploads are always `gcore` (nothing to fetch).
 */
export const IMPORT_VIAS = ['gcore', 'relay'] as const;
export type ImportVia = (typeof IMPORT_VIAS)[number];

export interface JobVideo {
  id: number;
  status: VideoStatus;
  error: string | null;
  hls_url: string | null;
  slug: string | null;
}

/** Why a job failed (or, while it is still retried, why its last attempt did). */
export interface JobError {
  /**
   * One of the catalogue's codes (`ERROR_CODES`). Typed open (any string fits, the catalogue's
   * are suggested): a job stored by an older or newer relay may carry a code this one lacks.
   */
  code: ErrorCode | (string & {});
  message: string;
  /** Whether trying again can help (the relay retries by itself while the job is not `failed`). */
  retryable: boolean;
}

/**
 * Where a job's callback stands: `pending` (not delivered yet; retried while `last_error` is set),
 * `delivered` (a 2xx answer), `failed` (every try failed), `refused` (the callback_url's address is
 * one the relay does not call: never tried, never retried).
 */
export const CALLBACK_STATES = ['pending', 'delivered', 'failed', 'refused'] as const;
export type CallbackState = (typeof CALLBACK_STATES)[number];

/** The delivery of the callback of a job with `callback_url`. */
export interface JobCallback {
  state: CallbackState;
  /** Tries of the latest delivery so far. */
  attempts: number;
  /** Why the last try did not deliver, in words that name no address, port or socket error. */
  last_error: string | null;
  delivered_at: string | null;
}

/** The job as the public API shows it. */
export interface PublicJob {
  id: string;
  kind: JobKind;
  state: JobState;
  name: string;
  filename: string | null;
  size: number | null;
  bytes_received: number;
  bytes_forwarded: number;
  origin_url: string | null;
  video: JobVideo | null;
  attempts: number;
  error: JobError | null;
  /**
   * The name of the token that made the job (never the token); null for jobs made before owners
   * existed. Tools see only their own jobs; operators and admins see all.
   */
  owner: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** Null when the job has no callback_url. */
  callback: JobCallback | null;
  /**
   * SHA-256 (lowercase hex) of the file as the relay received it, computed while the bytes
   * arrived; null until the upload is complete, and for imports and jobs made before the field.
   * The worker checks the file against it before the last chunk goes to Gcore.
   */
  sha256: string | null;
  /**
   * The id of the batch (a migration) the job belongs to, or null. Set when the job is made and
   * never changed: a job belongs to one batch at most.
   */
  batch: string | null;
}
