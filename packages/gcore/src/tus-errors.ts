import type { DetailedError, HttpResponse } from 'tus-js-client';
import { GcoreError, GcoreNetworkError, GcoreTokenError, GcoreTusError, tokenErrorKind } from './errors.js';
import { redact, truncate } from './redact.js';
import { parseRetryAfter } from './retry-after.js';

/**
 * Turns what tus-js-client reports into one of our errors. Its own `DetailedError` is never kept as
 * a cause: its message embeds the response body, which for Gcore's token errors holds the token.
 */
export function classifyTusError(error: unknown, secrets: readonly string[]): GcoreError {
  if (error instanceof GcoreError) return error;
  if (!isDetailedError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new GcoreError('FORWARD_FAILED', `Gcore TUS upload failed: ${redact(message, secrets)}`, {
      retryable: false,
    });
  }
  if (error.causingError instanceof GcoreError) return error.causingError;

  const request = error.originalRequest;
  const response = error.originalResponse;
  const method = request.getMethod();
  const url = request.getURL();
  if (!response) return new GcoreNetworkError(`Gcore TUS ${method} ${url}`, error.causingError ?? undefined);
  return tusResponseError(method, url, response, secrets, error.message);
}

/** The error for a TUS answer we will not accept. */
export function tusResponseError(
  method: string,
  url: string,
  response: HttpResponse,
  secrets: readonly string[],
  tusMessage = '',
): GcoreTusError {
  const status = response.getStatus();
  const raw = response.getBody() ?? '';
  // A 2xx lands here only when tus-js-client found it malformed (e.g. no Upload-Offset); say that.
  const said = status < 300 ? (tusMessage.split(', originated')[0] ?? '') : raw;
  const init = { status, method, url, body: truncate(redact(said.trim(), secrets)) };
  const kind = status >= 400 ? tokenErrorKind(raw) : undefined;
  if (kind) return new GcoreTokenError(kind, init);
  const retryAfterMs =
    status === 429 || status === 503
      ? parseRetryAfter({ get: (name) => headerValue(response, name) })
      : undefined;
  return new GcoreTusError({ ...init, retryAfterMs });
}

function headerValue(response: HttpResponse, name: string): string | null {
  const value = response.getHeader(name) as string | string[] | undefined;
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function isDetailedError(error: unknown): error is DetailedError {
  return error instanceof Error && 'originalRequest' in error && error.originalRequest != null;
}
