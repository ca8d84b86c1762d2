import { checkVideoFormat, extensionOf, STREAMING_EXTENSIONS } from '@gtr/contract';
import {
  AppError,
  IMPORT_VIAS,
  type ImportVia,
  type JobRequest,
  originRequestHeaders,
  parseVideoRequest,
} from '@gtr/core';
import { normalizeOriginUrl } from './idempotency.js';

/** One import as asked for, validated; nothing fetched yet. */
export interface ImportIntent {
  /** Normalized (see normalizeOriginUrl): what Gcore is given, and what idempotency keys on without `idempotencyKey`. */
  originUrl: string;
  /**
   * The tool's `idempotency_key`: when given, it and not the URL names the import (presigned URLs
   * differ on every run, the object they point at does not). Null when not given.
   */
  idempotencyKey: string | null;
  /** The last path segment, decoded; null when the path has none. */
  filename: string | null;
  /** The tool's `name`, or the file name without extension (host name when there is none). */
  name: string;
  /** Whether the URL's path has no extension: then only a video Content-Type can vouch for it. */
  needsVideoType: boolean;
  /** `origin_http_headers` as a header object, for the pre-flight. */
  headers: Record<string, string>;
  request: JobRequest;
}

export interface ValidateOptions {
  /** Whether a pre-flight will run (decides what happens to a URL without an extension). */
  preflight: boolean;
}

const STREAMING_KINDS: Record<string, string> = {
  m3u8: 'an HLS manifest',
  mpd: 'a DASH manifest',
  ts: 'an HLS segment',
  m4s: 'a DASH segment',
};

const invalid = (message: string) => new AppError('INVALID_ORIGIN_URL', message, 400);

/** Longest `idempotency_key` taken. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

/**
 * Reads one import request (the body of `POST /api/imports`, or one batch item) or throws the
 * AppError that refuses it: 400 INVALID_ORIGIN_URL for the URL, 400 INVALID_FIELD for the rest.
 */
export function readImportRequest(input: unknown, options: ValidateOptions): ImportIntent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AppError('INVALID_REQUEST', 'an import must be a JSON object with an origin_url', 400);
  }
  const body = input as Record<string, unknown>;
  const raw = body.origin_url;
  if (raw === undefined || raw === null || raw === '') throw invalid('origin_url is required');
  if (typeof raw !== 'string') throw invalid('origin_url must be a string');
  const text = raw.trim();
  if (text.length > 2_048) throw invalid('origin_url must be at most 2048 characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`origin_url "${text.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`origin_url must be an http or https URL, not ${url.protocol.replace(/:$/, '')}`);
  }

  const filename = lastSegment(url);
  const ext = filename ? extensionOf(filename) : '';
  if (STREAMING_EXTENSIONS.has(ext)) {
    throw invalid(
      `origin_url points at ${STREAMING_KINDS[ext] ?? 'a streaming file'} (.${ext});` +
        ' Gcore needs the original video file (.mp4, .mov, .mkv, …)',
    );
  }
  if (ext) {
    const verdict = checkVideoFormat(filename!);
    if (!verdict.ok) throw invalid(`origin_url: ${verdict.reason}`);
  } else if (!options.preflight) {
    throw invalid(
      'origin_url has no file extension, and with IMPORT_PREFLIGHT off the relay cannot check that it is a video;' +
        ' use a URL ending in .mp4, .mov, … or turn the pre-flight on',
    );
  }

  const via = body.via ?? 'gcore';
  if (!IMPORT_VIAS.includes(via as ImportVia)) {
    throw new AppError('INVALID_FIELD', `via must be one of ${IMPORT_VIAS.join(', ')}`, 400);
  }
  const idempotencyKey = readIdempotencyKey(body.idempotency_key);
  const parsed = parseVideoRequest(body);
  const headers = originRequestHeaders(parsed.fields.origin_http_headers);
  return {
    originUrl: normalizeOriginUrl(url),
    idempotencyKey,
    filename,
    name: parsed.name ?? defaultName(filename, url),
    needsVideoType: !ext,
    headers,
    request: {
      description: parsed.description,
      filetype: null,
      fields: parsed.fields,
      callback_url: parsed.callback_url,
      via: via as ImportVia,
    },
  };
}

function readIdempotencyKey(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new AppError(
      'INVALID_FIELD',
      `idempotency_key must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
      400,
    );
  }
  return value;
}

function lastSegment(url: URL): string | null {
  const segment = url.pathname.split('/').pop() ?? '';
  if (!segment) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function defaultName(filename: string | null, url: URL): string {
  if (!filename) return url.hostname;
  const dot = filename.lastIndexOf('.');
  return (dot > 0 ? filename.slice(0, dot) : filename).trim().slice(0, 255) || url.hostname;
}
