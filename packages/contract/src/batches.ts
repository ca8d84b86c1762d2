import type { JobState } from './jobs.js';

/**
 * A batch: the jobs of one migration (`POST /api/imports/batch`, or uploads that named it in
 * their `Upload-Metadata`). Its counts move in the same Redis step as its jobs' states, so they
 * always add up to `total`.
 */
export interface PublicBatch {
  id: string;
  /** The request's `name`, or a default naming when and how it was made. */
  name: string;
  /** The name of the token that made it (never the token); null when unknown. */
  owner: string | null;
  /** Jobs in the batch. */
  total: number;
  /** Jobs per state: every state is present, and the numbers add up to `total`. */
  counts: Record<JobState, number>;
  bytes: {
    /** Sum of the sizes known when the jobs were made (an import's from its pre-flight). */
    total: number;
    /** Sum of the sizes of the jobs that are `ready`. */
    ready: number;
  };
  created_at: string;
  /** When a job of the batch last changed state (or joined it). */
  last_activity_at: string;
  /** When its last job reached a final state; null while any job is still on its way (or it has none). */
  finished_at: string | null;
  /** Jobs that reached a final state per minute, since the batch was made; null before the first. */
  rate_per_minute: number | null;
  /** Seconds until every job is final at that rate; 0 when finished, null when unknown. */
  eta_seconds: number | null;
}

/** `GET /api/batches`: newest first. */
export interface BatchPage {
  items: PublicBatch[];
  next: string | null;
}

/** The columns of `GET /api/batches/{id}/export`, in order. */
export const BATCH_EXPORT_COLUMNS = [
  'index',
  'origin_url',
  'idempotency_key',
  'job_id',
  'name',
  'state',
  'video_id',
  'slug',
  'hls_url',
  'error_code',
  'error',
] as const;
export type BatchExportColumn = (typeof BATCH_EXPORT_COLUMNS)[number];

/** One row of a batch's export: one per job, in the order the jobs were made. */
export type BatchExportRow = {
  index: number | null;
  origin_url: string | null;
  idempotency_key: string | null;
  job_id: string;
  name: string;
  state: JobState;
  video_id: number | null;
  slug: string | null;
  hls_url: string | null;
  error_code: string | null;
  error: string | null;
};
