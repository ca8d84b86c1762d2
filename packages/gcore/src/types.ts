/**
 * Gcore Streaming API wire shapes, as Gcore sends and accepts them (snake_case kept on purpose so
 * nothing has to be mapped twice). Gcore adds fields without notice, so every object type tolerates
 * unknown extra keys; only the fields the relay reads are named.
 */

/** A video's lifecycle: `empty → pending → viewable → ready`; any of them may become `error`. */
export type GcoreVideoStatus = 'empty' | 'pending' | 'viewable' | 'ready' | 'error';

export interface GcoreConvertedVideo {
  name: string;
  /** 0–100. */
  progress: number;
  status: 'processing' | 'complete' | 'error' | (string & {});
  error: string | null;
  mp4_url: string | null;
  [extra: string]: unknown;
}

export interface GcoreVideo {
  id: number;
  name: string;
  description?: string | null;
  client_id: number;
  slug: string;
  status: GcoreVideoStatus;
  /** Set when processing or the origin download failed, e.g. `"File Invalid"`; the status may stay `empty`. */
  error?: string | null;
  /** Milliseconds; null until known. */
  duration?: number | null;
  origin_size?: number | null;
  origin_url?: string | null;
  hls_url?: string | null;
  dash_url?: string | null;
  screenshots?: string[];
  converted_videos?: GcoreConvertedVideo[];
  /** ISO 8601. */
  created_at?: string;
  /** ISO 8601. */
  updated_at?: string;
  directory_id?: number | null;
  client_user_id?: number | null;
  [extra: string]: unknown;
}

/** Body of `POST /streaming/videos` (sent wrapped as `{"video": …}`). Only `name` is required. */
export interface CreateVideoFields {
  name: string;
  description?: string;
  /** http, https or sftp URL that Gcore downloads itself. */
  origin_url?: string;
  /** Sent by Gcore when it downloads `origin_url`, e.g. `"Authorization: Bearer x"`. */
  origin_http_headers?: string;
  /** −10..10. */
  priority?: number;
  quality_set_id?: number;
  clip_start_seconds?: number;
  clip_duration_seconds?: number;
  source_bitrate_limit?: boolean;
  directory_id?: number;
  /** Data URI, at most 1 MB. */
  poster?: string;
  remote_poster_url?: string;
  screenshot_id?: number;
  client_user_id?: number;
  /** `disable`, `auto` or an ISO 639-2 code. */
  auto_transcribe_audio_language?: string;
  auto_translate_subtitles_language?: string;
  /** Deprecated upstream. */
  projection?: 'regular' | 'vr360' | 'vr180' | 'vr360tb';
}

/** Body of `PATCH /streaming/videos/{id}` (flat, not wrapped). */
export type UpdateVideoFields = Partial<CreateVideoFields>;

/** One TUS upload server from `GET /streaming/videos/{id}/upload`. */
export interface UploadServer {
  id?: number;
  hostname: string;
  role?: string;
  /** Prefer active servers; any listed server accepts uploads. */
  active?: boolean;
  /** `false` means plain `http://`; absent means `https://`. */
  ssl?: boolean;
  [extra: string]: unknown;
}

/** Answer of `GET /streaming/videos/{id}/upload`. The token is valid for 4 hours. */
export interface UploadParams {
  servers: UploadServer[];
  token: string;
  video: GcoreVideo;
  [extra: string]: unknown;
}

/** Query of `GET /streaming/videos`. */
export interface ListVideosQuery {
  search?: string;
  status?: GcoreVideoStatus | (string & {});
  page?: number;
  per_page?: number;
  [extra: string]: string | number | boolean | undefined;
}
