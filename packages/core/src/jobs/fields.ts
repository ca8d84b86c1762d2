import { z } from 'zod';
import { AppError } from '../errors.js';
import { isOriginAuthorization, ORIGIN_HTTP_HEADERS_SHAPE } from '../net/headers.js';
import type { GcoreVideoFields } from './types.js';

// Upload-Metadata values are strings; JSON bodies may carry numbers. Accept both, strictly.
const integer = (min: number, max: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^-?\d+$/, 'must be a whole number'),
    ])
    .pipe(
      z.coerce
        .number<string | number>()
        .int('must be a whole number')
        .min(min, `must be at least ${min}`)
        .max(max, `must be at most ${max}`),
    );

const httpUrl = z
  .string()
  .trim()
  .max(2_048, 'must be at most 2048 characters')
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

const fieldsSchema = z
  .object({
    directory_id: integer(1, 2 ** 31 - 1),
    client_user_id: integer(1, 2 ** 31 - 1),
    quality_set_id: integer(1, 2 ** 31 - 1),
    priority: integer(-10, 10),
    projection: z.enum(['regular', 'vr360', 'vr180', 'vr360tb'], {
      error: 'must be one of regular, vr360, vr180, vr360tb',
    }),
    clip_start_seconds: integer(0, 10 * 86_400),
    clip_duration_seconds: integer(1, 10 * 86_400),
    auto_transcribe_audio_language: z
      .string()
      .trim()
      .regex(/^(disable|auto|[a-z]{3})$/, 'must be disable, auto or a 3-letter ISO 639-2 code'),
    auto_translate_subtitles_language: z
      .string()
      .trim()
      .regex(
        /^(disable|default|[a-z]{3}(,[a-z]{3})*)$/,
        'must be disable, default or comma-separated 3-letter ISO 639-2 codes',
      ),
    // One `Authorization: <scheme> <params>` header, the only shape Gcore documents (see
    // ORIGIN_AUTHORIZATION in net/headers.ts for the source).
    origin_http_headers: z
      .string()
      .trim()
      .max(8_192, 'must be at most 8192 characters')
      .refine(isOriginAuthorization, ORIGIN_HTTP_HEADERS_SHAPE),
  })
  .partial();

const requestSchema = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters').optional(),
  description: z.string().max(5_000, 'must be at most 5000 characters').optional(),
  callback_url: httpUrl.optional(),
});

export interface ParsedVideoRequest {
  name: string | undefined;
  description: string | null;
  callback_url: string | null;
  fields: GcoreVideoFields;
}

/**
 * Validates what a tool asks the relay to pass to Gcore (from Upload-Metadata or a JSON body).
 * Unknown keys are ignored, so Uppy's and tus-js-client's own metadata pass through harmlessly.
 * Throws AppError `INVALID_FIELD` (400) naming the first bad field.
 */
export function parseVideoRequest(input: Record<string, unknown>): ParsedVideoRequest {
  const present = Object.fromEntries(
    Object.entries(input).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  );
  const fields = fieldsSchema.safeParse(present);
  const request = requestSchema.safeParse(present);
  const issue = (!fields.success && fields.error.issues[0]) || (!request.success && request.error.issues[0]);
  if (issue) {
    const field = String(issue.path[0] ?? 'metadata');
    throw new AppError('INVALID_FIELD', `${field} ${issue.message}`, 400);
  }
  const f = fields.data!;
  const r = request.data!;
  return {
    name: r.name,
    description: r.description ?? null,
    callback_url: r.callback_url ?? null,
    fields: Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as GcoreVideoFields,
  };
}

/** Create-video fields an operator may set once for every video (GCORE_VIDEO_DEFAULTS). */
export const VIDEO_DEFAULT_FIELDS = [
  'directory_id',
  'client_user_id',
  'quality_set_id',
  'priority',
  'projection',
  'clip_start_seconds',
  'clip_duration_seconds',
  'auto_transcribe_audio_language',
  'auto_translate_subtitles_language',
] as const;

/**
 * Reads GCORE_VIDEO_DEFAULTS: a JSON object of create-video fields, checked with the same rules as
 * a tool's metadata. Unlike metadata, an unknown key is an error (a typo would otherwise be
 * silently dropped), and so is `origin_http_headers` (a credential for one origin, not a default).
 * Throws an Error whose message says what is wrong.
 */
export function parseVideoDefaults(text: string): GcoreVideoFields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(
      'expected a JSON object such as {"auto_transcribe_audio_language":"disable"}, got invalid JSON',
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('expected a JSON object such as {"auto_transcribe_audio_language":"disable"}');
  }
  const unknown = Object.keys(value).filter(
    (key) => !(VIDEO_DEFAULT_FIELDS as readonly string[]).includes(key),
  );
  if (unknown.length > 0) {
    throw new Error(
      `${unknown.join(', ')}: not a field that can have a default (one of ${VIDEO_DEFAULT_FIELDS.join(', ')})`,
    );
  }
  try {
    return parseVideoRequest(value as Record<string, unknown>).fields;
  } catch (error) {
    throw new Error(error instanceof AppError ? error.message : String(error));
  }
}
