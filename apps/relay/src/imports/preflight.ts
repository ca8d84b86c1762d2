import { checkVideoFormat } from '@gtr/contract';
import { AppError, type ResolveHost, SafeFetchError, type SafeFetchResponse, safeFetch } from '@gtr/core';
import type { ImportIntent } from './validate.js';

export interface PreflightOptions {
  /** Let the check reach loopback/private addresses (`IMPORT_ALLOW_PRIVATE`). */
  allowPrivate: boolean;
  /** For HEAD and the ranged GET together. */
  timeoutMs: number;
  resolve?: ResolveHost | undefined;
}

export interface PreflightResult {
  method: 'HEAD' | 'GET';
  status: number;
  contentType: string | null;
  /** From Content-Length (or the total of a 206's Content-Range); null when the origin did not say. */
  size: number | null;
  /** The URL that answered, after redirects. */
  url: string;
}

// Servers (and S3-style signed URLs, signed for GET only) that refuse HEAD answer these.
const HEAD_REFUSED: ReadonlySet<number> = new Set([403, 405, 501]);

// Types that say nothing about the content: the URL's extension decides.
const GENERIC_TYPES: ReadonlySet<string> = new Set([
  '',
  'application/octet-stream',
  'binary/octet-stream',
  'application/binary',
  'application/x-binary',
  'application/download',
  'application/x-download',
  'application/force-download',
  'application/unknown',
]);

/**
 * Asks the origin what Gcore will ask: `HEAD` (or a ranged `GET bytes=0-0` when HEAD is
 * refused) must answer 200/206 with something that can be a video. Throws the AppError that
 * refuses the import: 422 ORIGIN_UNREACHABLE (naming the status), 415 UNSUPPORTED_FORMAT,
 * 400 ORIGIN_NOT_ALLOWED (the SSRF guard).
 */
export async function preflightOrigin(
  intent: ImportIntent,
  options: PreflightOptions,
): Promise<PreflightResult> {
  const deadline = Date.now() + options.timeoutMs;
  let method: 'HEAD' | 'GET' = 'HEAD';
  let answer = await ask(intent, 'HEAD', options, options.timeoutMs);
  if (HEAD_REFUSED.has(answer.status)) {
    method = 'GET';
    answer = await ask(intent, 'GET', options, Math.max(deadline - Date.now(), 1));
  }
  const { status, headers } = answer;
  if (status !== 200 && status !== 206) {
    const fallback = method === 'GET' ? ' (HEAD was refused too)' : '';
    throw new AppError(
      'ORIGIN_UNREACHABLE',
      `the origin answered ${status}${answer.statusText ? ` ${answer.statusText}` : ''} to ${method} ${answer.url}${fallback};` +
        ' Gcore needs it to answer 200',
      422,
    );
  }
  const contentType = headers['content-type'] ?? null;
  checkContentType(intent, contentType, answer.url);
  return { method, status, contentType, size: sizeOf(status, headers), url: answer.url };
}

async function ask(
  intent: ImportIntent,
  method: 'HEAD' | 'GET',
  options: PreflightOptions,
  timeoutMs: number,
): Promise<SafeFetchResponse> {
  try {
    const res = await safeFetch(intent.originUrl, {
      method,
      headers: { ...intent.headers, ...(method === 'GET' ? { range: 'bytes=0-0' } : {}) },
      allowPrivate: options.allowPrivate,
      timeoutMs,
      idleTimeoutMs: timeoutMs,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
    // Only the headers matter; a server that ignored the range must not stream the whole file.
    res.discard();
    return res;
  } catch (error) {
    if (!(error instanceof SafeFetchError)) throw error;
    if (error.code === 'ADDRESS_NOT_ALLOWED') {
      throw new AppError('ORIGIN_NOT_ALLOWED', `origin_url: ${error.message}`, 400, false, { cause: error });
    }
    throw new AppError(
      'ORIGIN_UNREACHABLE',
      `cannot check origin_url: ${error.message}`,
      422,
      error.retryable,
      {
        cause: error,
      },
    );
  }
}

function checkContentType(intent: ImportIntent, contentType: string | null, url: string): void {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (GENERIC_TYPES.has(type)) {
    if (!intent.needsVideoType) return;
    throw new AppError(
      'UNSUPPORTED_FORMAT',
      `origin_url has no file extension and the origin does not say it is a video (Content-Type: ${type || 'none'})`,
      415,
    );
  }
  // With a video extension, only a type that is clearly something else refuses (servers label
  // .m2ts as video/mp2t, .ogg as audio/ogg, .mp4 as application/mp4); without one, the type
  // has to vouch for the content by itself.
  const refused = intent.needsVideoType ? !checkVideoFormat('', type).ok : isClearlyNotVideo(type);
  if (!refused) return;
  const hint = type === 'text/html' ? ' (an HTML page: a login, error or player page?)' : '';
  throw new AppError(
    'UNSUPPORTED_FORMAT',
    `the origin serves ${url} as ${type}, not as a video Gcore accepts${hint}`,
    415,
  );
}

const NOT_VIDEO_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'audio/mpegurl',
  'audio/x-mpegurl',
  'application/dash+xml',
  'application/json',
  'application/xml',
  'application/xhtml+xml',
  'application/javascript',
  'application/pdf',
  'application/zip',
]);

function isClearlyNotVideo(type: string): boolean {
  const major = type.split('/')[0];
  return NOT_VIDEO_TYPES.has(type) || major === 'text' || major === 'image' || major === 'font';
}

function sizeOf(status: number, headers: SafeFetchResponse['headers']): number | null {
  if (status === 206) {
    const total = /\/(\d+)\s*$/.exec(headers['content-range'] ?? '')?.[1];
    return total === undefined ? null : Number(total);
  }
  const length = headers['content-length'];
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
}
