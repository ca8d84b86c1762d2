import { STATUS_CODES } from 'node:http';
import type { ErrorCode } from '@gtr/contract';

export interface GcoreErrorOptions {
  retryable: boolean;
  status?: number | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/**
 * Every failure this package reports. `code` is stable and SNAKE_CASE; `retryable` says whether the
 * same request can succeed later (the worker maps `false` to an unrecoverable job). Messages and
 * `cause` chains never contain the API key or a TUS token.
 */
export class GcoreError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** HTTP status of the answer that caused this, when there was one. */
  declare readonly status?: number;
  /** How long the server asked us to wait, from `Retry-After`/`retry-after-ms` or our own backoff. */
  declare readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options: GcoreErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/** Statuses where the same request can succeed later; everything else 4xx needs a change first. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

const API_CODES: Record<number, ErrorCode> = {
  400: 'GCORE_BAD_REQUEST',
  401: 'GCORE_UNAUTHORIZED',
  403: 'GCORE_FORBIDDEN',
  404: 'GCORE_NOT_FOUND',
  405: 'GCORE_METHOD_NOT_ALLOWED',
  408: 'GCORE_REQUEST_TIMEOUT',
  409: 'GCORE_CONFLICT',
  413: 'GCORE_PAYLOAD_TOO_LARGE',
  422: 'GCORE_VALIDATION_FAILED',
  425: 'GCORE_TOO_EARLY',
  429: 'GCORE_RATE_LIMITED',
};

/** The stable code for an HTTP status from Gcore's API. */
export function apiErrorCode(status: number): ErrorCode {
  return API_CODES[status] ?? (status >= 500 ? 'GCORE_SERVER_ERROR' : 'GCORE_UNEXPECTED_STATUS');
}

const API_HINTS: Record<number, string> = {
  401: 'check the Gcore API key',
  403: 'the API key lacks permission for this',
  429: 'slow down',
};

export interface GcoreApiErrorInit {
  status: number;
  method: string;
  /** Request path without the query string. */
  path: string;
  /** What Gcore's body said, already redacted; empty when it said nothing. */
  gcoreMessage: string;
  fieldErrors?: Record<string, string[]> | undefined;
  retryAfterMs?: number | undefined;
}

/** Gcore's API answered with a non-2xx status. */
export class GcoreApiError extends GcoreError {
  declare readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly gcoreMessage: string;
  declare readonly fieldErrors?: Record<string, string[]>;

  constructor(init: GcoreApiErrorInit) {
    const said = init.gcoreMessage || STATUS_CODES[init.status] || 'no message';
    const hint = API_HINTS[init.status];
    const wait = init.retryAfterMs === undefined ? '' : `; retry after ${formatMs(init.retryAfterMs)}`;
    super(
      apiErrorCode(init.status),
      `Gcore API ${init.method} ${init.path} answered ${init.status}: ${said}${hint ? ` (${hint})` : ''}${wait}`,
      { retryable: isRetryableStatus(init.status), status: init.status, retryAfterMs: init.retryAfterMs },
    );
    this.method = init.method;
    this.path = init.path;
    this.gcoreMessage = init.gcoreMessage;
    if (init.fieldErrors) this.fieldErrors = init.fieldErrors;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      method: this.method,
      path: this.path,
      gcoreMessage: this.gcoreMessage,
      ...(this.fieldErrors ? { fieldErrors: this.fieldErrors } : {}),
    };
  }
}

/**
 * Gcore answered 2xx with a body this client cannot read (not JSON, or not the documented shape).
 * Retryable: in practice this is a proxy's error page or a truncated answer.
 */
export class GcoreResponseError extends GcoreError {
  constructor(method: string, path: string, problem: string, status?: number) {
    super(
      'GCORE_INVALID_RESPONSE',
      `Gcore API ${method} ${path} answered${status ? ` ${status}` : ''} with ${problem}`,
      {
        retryable: true,
        status,
      },
    );
  }
}

/** The connection failed: refused, reset, DNS, TLS. Nothing was answered, so trying again is safe. */
export class GcoreNetworkError extends GcoreError {
  /** The system error code, e.g. `ECONNREFUSED`, when Node gave one. */
  declare readonly networkCode?: string;

  constructor(what: string, cause: unknown) {
    const networkCode = findNetworkCode(cause);
    super('GCORE_NETWORK_ERROR', `${what} failed: ${describeNetworkCode(networkCode, cause)}`, {
      retryable: true,
      cause,
    });
    if (networkCode) this.networkCode = networkCode;
  }
}

/** A request to Gcore took longer than its timeout. */
export class GcoreTimeoutError extends GcoreError {
  constructor(
    what: string,
    readonly timeoutMs: number,
  ) {
    super('GCORE_TIMEOUT', `${what} got no answer within ${formatMs(timeoutMs)}`, { retryable: true });
  }
}

/** The caller's AbortSignal fired. Not retryable: someone asked us to stop. */
export class GcoreAbortedError extends GcoreError {
  constructor(message = 'Gcore request was aborted by the caller', code: ErrorCode = 'GCORE_ABORTED') {
    super(code, message, { retryable: false });
  }
}

export interface GcoreTusErrorInit {
  /** 0 when the server never answered. */
  status: number;
  method: string;
  /** The TUS endpoint or upload URL the request went to. */
  url: string;
  /** What the TUS server said, already redacted. */
  body: string;
  retryAfterMs?: number | undefined;
  /** Overrides the code derived from the status. */
  code?: ErrorCode;
  /** Overrides the retryability derived from the status. */
  retryable?: boolean;
}

const TUS_HINTS: Record<number, string> = {
  405: 'Gcore refused to create the upload session; the request parameters are wrong',
  429: 'Gcore asks to try again later',
};

/** Gcore's TUS upload server answered with an error. */
export class GcoreTusError extends GcoreError {
  declare readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly body: string;

  constructor(init: GcoreTusErrorInit) {
    const hint = TUS_HINTS[init.status];
    const said = init.body || STATUS_CODES[init.status] || 'no message';
    const wait = init.retryAfterMs === undefined ? '' : `; retry after ${formatMs(init.retryAfterMs)}`;
    super(
      init.code ?? tusErrorCode(init.status),
      `Gcore TUS ${init.method} ${init.url} answered ${init.status}: ${said}${hint ? ` (${hint})` : ''}${wait}`,
      {
        retryable: init.retryable ?? isRetryableStatus(init.status),
        status: init.status,
        retryAfterMs: init.retryAfterMs,
      },
    );
    this.method = init.method;
    this.url = init.url;
    this.body = init.body;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), method: this.method, url: this.url, body: this.body };
  }
}

function tusErrorCode(status: number): ErrorCode {
  if (status === 429) return 'GCORE_TUS_RATE_LIMITED';
  if (status === 404 || status === 410) return 'GCORE_TUS_UPLOAD_GONE';
  if (status === 405) return 'GCORE_TUS_METHOD_NOT_ALLOWED';
  if (status >= 500) return 'GCORE_TUS_SERVER_ERROR';
  return 'GCORE_TUS_REJECTED';
}

export type GcoreTokenErrorKind = 'invalid' | 'video_mismatch' | 'client_mismatch';

const TOKEN_CODES: Record<GcoreTokenErrorKind, ErrorCode> = {
  invalid: 'GCORE_TUS_TOKEN_INVALID',
  video_mismatch: 'GCORE_TUS_TOKEN_VIDEO_MISMATCH',
  client_mismatch: 'GCORE_TUS_TOKEN_CLIENT_MISMATCH',
};

const TOKEN_ADVICE: Record<GcoreTokenErrorKind, string> = {
  invalid: 'the upload token is missing, wrong or older than 4 hours; fetch fresh upload parameters',
  video_mismatch: 'the token was issued for another video; fetch upload parameters for this video',
  client_mismatch: 'the token was issued for another client; send the client_id from the upload parameters',
};

/**
 * Gcore's TUS server rejected the upload token (documented as a 500 with `token invalid (…)`,
 * `token video (…) does not match …` or `token client (…) does not match …`). Retryable once the
 * caller has fetched fresh upload parameters; retrying with the same token cannot help.
 */
export class GcoreTokenError extends GcoreTusError {
  readonly kind: GcoreTokenErrorKind;

  constructor(kind: GcoreTokenErrorKind, init: Omit<GcoreTusErrorInit, 'code' | 'retryable'>) {
    super({ ...init, code: TOKEN_CODES[kind], retryable: true });
    this.kind = kind;
    this.message = `${this.message} (${TOKEN_ADVICE[kind]})`;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), kind: this.kind };
  }
}

/** Which token complaint, if any, a TUS error body carries. */
export function tokenErrorKind(body: string): GcoreTokenErrorKind | undefined {
  if (/token invalid/i.test(body)) return 'invalid';
  if (/token video .*does not match/i.test(body)) return 'video_mismatch';
  if (/token client .*does not match/i.test(body)) return 'client_mismatch';
  return undefined;
}

/** No bytes moved for the stall timeout, repeatedly; the upload URL is still good for resuming. */
export class ForwardStalledError extends GcoreError {
  constructor(
    readonly stallTimeoutMs: number,
    readonly stalls: number,
    readonly offset: number,
  ) {
    super(
      'FORWARD_STALLED',
      `Gcore TUS upload stalled ${stalls} times in a row at byte ${offset} (nothing moved for ${formatMs(stallTimeoutMs)} each time)`,
      { retryable: true },
    );
  }
}

/** The caller's AbortSignal stopped the forward. The upload URL stays valid for a later resume. */
export class ForwardAbortedError extends GcoreAbortedError {
  constructor() {
    super('Gcore TUS upload was aborted by the caller', 'FORWARD_ABORTED');
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

const NETWORK_DESCRIPTIONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'DNS lookup timed out',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

function findNetworkCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeNetworkCode(code: string | undefined, cause: unknown): string {
  if (code) return `${NETWORK_DESCRIPTIONS[code] ?? 'network error'} (${code})`;
  return cause instanceof Error ? cause.message : 'network error';
}
