import type { ExtraFields } from '../catalog.js';

/** Gcore's 422 body: `{"errors": {"name": ["can't be blank"]}}`. */
export type FieldErrors = Record<string, string[]>;

export interface VideoInput {
  name?: string;
  description?: string | null;
  originUrl?: string | null;
  originHttpHeaders?: string | null;
  /** Other known create-video fields, checked, stored and echoed back. */
  extra: ExtraFields;
}

type Check = (value: unknown) => { value: unknown } | { error: string };

const POSTER_MAX_BYTES = 1_048_576;

function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  const error =
    min === -10 ? `must be an integer between ${min} and ${max}` : 'must be a non-negative integer';
  return (value) => {
    if (value === null) return { value: null };
    // Loose like Gcore: "5" is read as 5.
    const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? { value: n } : { error };
  };
}

function oneOf(allowed: readonly string[], pattern?: RegExp): Check {
  return (value) =>
    typeof value === 'string' && (allowed.includes(value) || pattern?.test(value))
      ? { value }
      : { error: 'is not included in the list' };
}

const nullableString: Check = (value) =>
  value === null || typeof value === 'string' ? { value } : { error: 'must be a string' };

function url(schemes: readonly string[]): Check {
  return (value) => {
    if (value === null || value === '') return { value: null };
    if (typeof value !== 'string') return { error: 'must be a string' };
    try {
      if (schemes.includes(new URL(value).protocol)) return { value };
    } catch {}
    return { error: 'is invalid' };
  };
}

const EXTRA_FIELDS: Record<string, Check> = {
  priority: integer(-10, 10),
  quality_set_id: integer(0),
  clip_start_seconds: integer(0),
  clip_duration_seconds: integer(0),
  directory_id: integer(0),
  screenshot_id: integer(0),
  client_user_id: integer(0),
  source_bitrate_limit: (value) =>
    typeof value === 'boolean' ? { value } : { error: 'must be true or false' },
  poster: (value) =>
    value === null ||
    (typeof value === 'string' && value.startsWith('data:image/') && value.length <= POSTER_MAX_BYTES)
      ? { value }
      : { error: 'must be an image data URI of at most 1 MB' },
  remote_poster_url: url(['http:', 'https:']),
  auto_transcribe_audio_language: oneOf(['disable', 'auto'], /^[a-z]{3}$/),
  auto_translate_subtitles_language: oneOf(['disable', 'default'], /^[a-z]{3}(,[a-z]{3})*$/),
  projection: oneOf(['regular', 'vr360', 'vr180', 'vr360tb']),
};

const CORE_FIELDS: Record<string, Check> = {
  description: nullableString,
  origin_url: url(['http:', 'https:', 'sftp:']),
  origin_http_headers: nullableString,
};

/** A create body is `{"video": {...}}` (docs) or the fields themselves (Gcore's mobile apps). */
export function unwrapVideo(body: unknown): unknown {
  if (typeof body === 'object' && body !== null && 'video' in body) {
    const inner = (body as { video: unknown }).video;
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) return inner;
  }
  return body;
}

/**
 * Reads create-video (`requireName`) or update fields. Unknown fields are ignored, as Gcore does;
 * wrong types of known ones are 422 errors.
 */
export function readVideoFields(
  body: unknown,
  requireName: boolean,
): { input: VideoInput; errors: FieldErrors } {
  const fields = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<
    string,
    unknown
  >;
  const errors: FieldErrors = {};
  const input: VideoInput = { extra: {} };

  if ('name' in fields || requireName) {
    const name = fields.name;
    if (typeof name === 'string' && name.trim() !== '') input.name = name;
    else
      errors.name = [
        typeof name === 'string' || name === undefined || name === null
          ? "can't be blank"
          : 'must be a string',
      ];
  }
  for (const [key, check] of Object.entries({ ...CORE_FIELDS, ...EXTRA_FIELDS })) {
    if (!(key in fields)) continue;
    const result = check(fields[key]);
    if ('error' in result) {
      errors[key] = [result.error];
      continue;
    }
    const value = result.value as string | null;
    if (key === 'description') input.description = value;
    else if (key === 'origin_url') input.originUrl = value;
    else if (key === 'origin_http_headers') input.originHttpHeaders = value;
    else input.extra[key] = result.value;
  }
  return { input, errors };
}
