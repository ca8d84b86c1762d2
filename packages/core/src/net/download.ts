import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createPrivateFile } from '../uploads/files.js';
import { SafeFetchError } from './errors.js';
import { type ResolveHost, type SafeFetchResponse, safeFetch } from './safe-fetch.js';

export interface DownloadOptions {
  /** Let the download reach loopback/private/link-local addresses. Default false. */
  allowPrivate?: boolean;
  /** Largest file accepted, in bytes: refused up front when the origin announces more, else cut there. Default: no limit. */
  maxBytes?: number;
  /** Aborting stops the download (the partial file stays, to resume from). */
  signal?: AbortSignal;
  /** Called as bytes land, with the file's size so far and the full size when known. */
  onProgress?: (bytes: number, total: number | null) => void;
  /** Extra request headers (e.g. from `origin_http_headers`). */
  headers?: Record<string, string>;
  /** Fail when no byte arrives for this long (ms). Default 60 000. */
  idleTimeoutMs?: number;
  /** Deadline for the whole download (ms); 0 = none. Default 0: large files take what they take. */
  timeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Name resolution for the SSRF guard; default the system's. */
  resolve?: ResolveHost;
  /**
   * The validator of the answer that started the partial `file` (as `onStart` gave it): sent as
   * `If-Range` with the `Range` of a resume, so a changed origin answers 200 and the file starts
   * over instead of being stitched from two versions. Without one, a partial file is not resumed.
   */
  validator?: string | null;
  /**
   * Called, and awaited, before the first byte of a download from byte 0 is written, with the
   * answer's validator for a later `If-Range` (its strong `ETag`, else its `Last-Modified`; null
   * when it has neither, or only a weak ETag): keep it for the next call's `validator`.
   */
  onStart?: (validator: string | null) => void | Promise<void>;
}

export interface DownloadResult {
  /** The file's size now. */
  bytes: number;
  /** The size the origin announced, or null when it did not say. */
  total: number | null;
  /** Whether bytes from an earlier attempt were kept (a 206 answer to `Range`). */
  resumed: boolean;
  contentType: string | null;
  /** The URL that answered, after redirects. */
  url: string;
  /** The validator of the file's version (see `DownloadOptions.onStart`). */
  validator: string | null;
}

interface ContentRange {
  start: number | null;
  total: number | null;
}

/** `bytes 100-199/1000`, `bytes 100-199/*`, `bytes *\/1000`. */
function parseContentRange(value: string | undefined): ContentRange | null {
  const match = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  if (!match) return null;
  return {
    start: match[1] === undefined ? null : Number(match[1]),
    total: match[2] === '*' ? null : Number(match[2]),
  };
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

const retryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * What an answer can be resumed against with `If-Range`: a strong ETag, else Last-Modified. A weak
 * ETag (`W/"…"`) is not allowed in If-Range (RFC 9110, 13.1.5).
 */
export function rangeValidator(headers: {
  etag?: string | undefined;
  'last-modified'?: string | undefined;
}): string | null {
  const etag = headers.etag?.trim();
  if (etag && !etag.startsWith('W/')) return etag;
  return headers['last-modified']?.trim() || null;
}

/**
 * Streams `url` into `file` through `safeFetch` (same SSRF guard). When `file` already holds
 * bytes and `validator` names their version, asks for the rest with `Range: bytes=<size>-` and
 * `If-Range: <validator>` and appends if the origin answers 206 from exactly there; a 200 (the
 * origin changed, or ignores ranges) or a different range starts the file over from byte 0. A cut
 * connection rejects with a retryable DOWNLOAD_INCOMPLETE and keeps what arrived, so calling
 * again resumes. Over `maxBytes` rejects with TOO_LARGE (the partial file stays for the caller
 * to remove).
 */
export async function downloadToFile(
  url: string | URL,
  file: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const fetchOptions = {
    ...(options.allowPrivate !== undefined ? { allowPrivate: options.allowPrivate } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.maxRedirects !== undefined ? { maxRedirects: options.maxRedirects } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    timeoutMs: options.timeoutMs ?? 0,
  };
  const get = (range?: number) =>
    safeFetch(url, {
      ...fetchOptions,
      headers: {
        ...options.headers,
        ...(range && options.validator ? { range: `bytes=${range}-`, 'if-range': options.validator } : {}),
      },
    });

  // A partial file without the validator of its version cannot be told apart from a changed
  // origin's: start it over.
  const existing = options.validator ? await sizeOf(file) : 0;
  let res: SafeFetchResponse = await get(existing);
  let append = false;
  let total: number | null = null;
  if (existing > 0) {
    const range = parseContentRange(res.headers['content-range']);
    if (res.status === 206 && range?.start === existing) {
      append = true;
      total = range.total;
    } else if (res.status === 416 && range?.total === existing) {
      // Everything arrived last time; only the answer was lost.
      res.discard();
      return {
        bytes: existing,
        total: existing,
        resumed: true,
        contentType: null,
        url: res.url,
        validator: options.validator ?? null,
      };
    } else if (res.status === 206 || res.status === 416) {
      // A range we did not ask for, or a refusal of the range: start over with a plain GET.
      res.discard();
      res = await get();
    }
  }
  if (res.status !== 200 && !append) {
    res.discard();
    throw new SafeFetchError(
      'ORIGIN_STATUS',
      `the origin answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''} to GET ${res.url}`,
      retryableStatus(res.status),
      { status: res.status },
    );
  }
  if (!append) {
    const length = Number(res.headers['content-length'] ?? Number.NaN);
    total = Number.isFinite(length) ? length : null;
  }
  const { maxBytes } = options;
  if (maxBytes !== undefined && total !== null && total > maxBytes) {
    res.discard();
    throw new SafeFetchError('TOO_LARGE', `${res.url} is ${total} bytes, over the limit of ${maxBytes}`);
  }

  // A 200 here is a new start (a first download, or the origin changed since the partial file):
  // the caller keeps its validator before any byte lands, and the file is truncated.
  const validator = append ? (options.validator ?? null) : rangeValidator(res.headers);
  if (!append) {
    try {
      await options.onStart?.(validator);
    } catch (error) {
      res.discard();
      throw error;
    }
  }
  let bytes = append ? existing : 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (maxBytes !== undefined && bytes > maxBytes) {
        callback(new SafeFetchError('TOO_LARGE', `${res.url} sent more than ${maxBytes} bytes`));
        return;
      }
      options.onProgress?.(bytes, total);
      callback(null, chunk);
    },
  });
  try {
    // The download becomes an upload file: 0600 before its first byte, whatever the umask.
    await createPrivateFile(file);
    await pipeline(res.body, counter, fs.createWriteStream(file, { flags: append ? 'a' : 'w' }));
  } catch (error) {
    // Our own refusals, the caller's abort and disk errors pass through as they are.
    if (
      error instanceof SafeFetchError ||
      options.signal?.aborted ||
      (error as NodeJS.ErrnoException).syscall
    ) {
      throw error;
    }
    throw incomplete(bytes, total, res.url, error);
  }
  if (total !== null && bytes !== total) throw incomplete(bytes, total, res.url);
  const type = res.headers['content-type'];
  return { bytes, total, resumed: append, contentType: type ?? null, url: res.url, validator };
}

function incomplete(bytes: number, total: number | null, url: string, cause?: unknown): SafeFetchError {
  return new SafeFetchError(
    'DOWNLOAD_INCOMPLETE',
    `the download of ${url} stopped after ${bytes}${total === null ? '' : ` of ${total}`} bytes; trying again resumes it`,
    true,
    cause === undefined ? undefined : { cause },
  );
}
