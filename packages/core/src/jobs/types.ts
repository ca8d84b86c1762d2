// What clients see of a job is the contract's; the rest of this file is the relay's own.
export {
  BATCH_EXPORT_COLUMNS,
  type BatchExportRow,
  type BatchPage,
  CALLBACK_STATES,
  type CallbackState,
  FINAL_STATES,
  IMPORT_VIAS,
  type ImportVia,
  isFinalState,
  JOB_KINDS,
  JOB_STATES,
  type JobCallback,
  type JobError,
  type JobKind,
  type JobState,
  type JobVideo,
  type PublicBatch,
  type PublicJob,
  VIDEO_STATUSES,
  type VideoStatus,
} from '@gtr/contract';

import type { ImportVia, JobCallback, PublicJob } from '@gtr/contract';

/** Fields passed to Gcore's create-video call, as the tool gave them (already validated). */
export interface GcoreVideoFields {
  directory_id?: number;
  client_user_id?: number;
  quality_set_id?: number;
  priority?: number;
  projection?: string;
  clip_start_seconds?: number;
  clip_duration_seconds?: number;
  auto_transcribe_audio_language?: string;
  auto_translate_subtitles_language?: string;
  origin_http_headers?: string;
}

/** What the tool asked for; never changes after creation. */
export interface JobRequest {
  description: string | null;
  filetype: string | null;
  fields: GcoreVideoFields;
  callback_url: string | null;
  /** Default `gcore`. Records written before this field existed lack it: read it as `via ?? 'gcore'`. */
  via: ImportVia;
  /** An import's `idempotency_key`, shown in its batch's export; absent for uploads and older records. */
  idempotency_key?: string | null;
}

/**
 * Progress of the forwarding steps, saved before each next step so that a retry, crash or
 * restart continues where it stopped. Internal: never shown as is (it holds the TUS token).
 */
export interface ForwardProgress {
  video_id: number | null;
  client_id: number | null;
  /** The TUS upload at Gcore's server, once created. */
  upload_url: string | null;
  /** Gcore's TUS session token: a secret, dropped once the upload is done. */
  token: string | null;
  /** The TUS endpoint chosen from the upload parameters' servers. */
  endpoint: string | null;
  /** Epoch ms when `token` was fetched; tokens live 4 hours. */
  token_at: number | null;
  /** Set once Gcore holds all bytes. */
  uploaded_at: number | null;
  /**
   * Set just before the create-video call: a retry that finds it without a `video_id` looks for
   * the video that call may have created before its answer was lost, instead of making another.
   */
  create_started_at: number | null;
  /**
   * A `via: "relay"` import's partial download: the validator (ETag or Last-Modified) of the
   * origin's answer it came from, sent as `If-Range` when the download resumes. Absent in jobs
   * written before the field.
   */
  origin_validator?: string | null;
}

/** A job as stored: the public fields plus what the relay needs to carry on. */
export interface JobRecord extends PublicJob {
  request: JobRequest;
  progress: ForwardProgress;
  /** Set by a cancel with `delete_video=true`: whoever holds the video id deletes it at Gcore. */
  delete_video: boolean;
  /**
   * When an upload's last byte arrived (ISO time, set as it leaves `receiving`); null while it
   * receives, for imports, and in records written before the field existed.
   */
  received_at: string | null;
  /** The item's position in its batch request (null: no batch, or an upload that joined one). */
  batch_index: number | null;
}

export const emptyProgress = (): ForwardProgress => ({
  video_id: null,
  client_id: null,
  upload_url: null,
  token: null,
  endpoint: null,
  token_at: null,
  uploaded_at: null,
  create_started_at: null,
  origin_validator: null,
});

/** A callback not tried yet: what a job with callback_url starts with. */
export const pendingCallback = (): JobCallback => ({
  state: 'pending',
  attempts: 0,
  last_error: null,
  delivered_at: null,
});

/** The one place a stored job becomes what users see: internal progress (and its token) stays in. */
export function toPublicJob(record: JobRecord): PublicJob {
  return {
    id: record.id,
    kind: record.kind,
    state: record.state,
    name: record.name,
    filename: record.filename,
    size: record.size,
    bytes_received: record.bytes_received,
    bytes_forwarded: record.bytes_forwarded,
    origin_url: record.origin_url,
    video: record.video,
    attempts: record.attempts,
    error: record.error,
    owner: record.owner ?? null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    finished_at: record.finished_at,
    // Records written before the field existed have none: pending when there is a callback_url.
    callback: record.callback ?? (record.request?.callback_url ? pendingCallback() : null),
    sha256: record.sha256 ?? null,
    batch: record.batch ?? null,
  };
}
