import { AppError, type ErrorCode, type Logger } from '@gtr/core';
import { type RenderedError, renderAppError, renderError } from '../http-errors.js';
import { isDiskFull } from './disk.js';

// tus-node-server answers errors in plain text; the contract promises JSON everywhere.
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  403: 'INVALID_REQUEST',
  404: 'UPLOAD_NOT_FOUND',
  409: 'OFFSET_CONFLICT',
  410: 'UPLOAD_EXPIRED',
  412: 'TUS_VERSION_MISMATCH',
  413: 'UPLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_FORMAT',
  423: 'UPLOAD_LOCKED',
  431: 'METADATA_TOO_LARGE',
  500: 'INTERNAL_ERROR',
  501: 'NOT_SUPPORTED',
  503: 'SERVICE_UNAVAILABLE',
  507: 'INSUFFICIENT_STORAGE',
};

/**
 * @tus/server's `onResponseError`: the answer to an error its handlers or the relay's hooks threw,
 * as JSON; undefined for tus-node-server's own protocol errors (wrapped by `asJsonError`).
 */
export function tusErrorAnswer(
  error: Error | { status_code: number; body: string },
  logger: Logger,
): { status_code: number; body: string } | undefined {
  if (isDiskFull(error)) {
    logger.warn({ err: error }, 'upload dir is full');
    return forTus(renderError('INSUFFICIENT_STORAGE'));
  }
  // The hooks' refusals say whether sending the request again can help.
  if (error instanceof AppError) return forTus(renderAppError(error, true));
  if (!('status_code' in error)) {
    logger.error({ err: error }, 'TUS request failed');
    return forTus(renderError('INTERNAL_ERROR'));
  }
  // tus-node-server's own protocol errors: its plain text is wrapped by `asJsonError`.
  return undefined;
}

/** The body of an error answer as the relay's error JSON (tus-node-server's plain text wrapped). */
export async function asJsonError(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return text;
  } catch {
    // plain text from tus-node-server: wrapped below
  }
  const code = CODE_BY_STATUS[response.status] ?? 'INVALID_REQUEST';
  const message = text.trim().replace(/\s+/g, ' ') || `HTTP ${response.status}`;
  return JSON.stringify(renderError(code, message, { status: response.status }).body);
}

/** An error answer with `json` (from `asJsonError`) as its body, keeping its other headers. */
export function withJsonBody(response: Response, json: string): Response {
  const headers = new Headers(response.headers);
  headers.set('Content-Type', 'application/json');
  headers.set('Content-Length', String(Buffer.byteLength(json)));
  // Node knows no reason phrase for TUS's own 460.
  const statusText = response.status === 460 ? 'Checksum Mismatch' : '';
  return new Response(json, { status: response.status, statusText, headers });
}

/** A rendered error as tus-node-server's `onResponseError` returns it. */
const forTus = ({ status, body }: RenderedError) => ({ status_code: status, body: JSON.stringify(body) });

/** 410 with the relay's UPLOAD_EXPIRED error, keeping @tus/server's other headers (CORS, Tus-Resumable). */
export function gone(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.delete('Content-Length');
  const body = JSON.stringify({
    error: {
      code: 'UPLOAD_EXPIRED',
      message: 'the upload expired (UPLOAD_EXPIRY) and was removed; upload the file again',
    },
  });
  return new Response(body, { status: 410, headers });
}
