import { AppError } from '../errors.js';

/** Why a fetch by the relay itself (import pre-flight, `via: "relay"` download) did not happen. */
export type SafeFetchErrorCode =
  /** The URL could not be parsed. */
  | 'INVALID_URL'
  /** Not http(s), at the start or after a redirect. */
  | 'UNSUPPORTED_SCHEME'
  /** The host is, or resolves to, a loopback/private/link-local/… address (see address-policy.ts). */
  | 'ADDRESS_NOT_ALLOWED'
  | 'DNS_FAILED'
  | 'CONNECTION_FAILED'
  | 'TOO_MANY_REDIRECTS'
  /** The total deadline passed, or no byte arrived for the idle timeout. */
  | 'FETCH_TIMEOUT'
  /** Over `maxBytes`. */
  | 'TOO_LARGE'
  /** The origin answered a status the caller cannot use (downloads). */
  | 'ORIGIN_STATUS'
  /** The body ended before its announced length (downloads). */
  | 'DOWNLOAD_INCOMPLETE';

const STATUS: Record<SafeFetchErrorCode, number> = {
  INVALID_URL: 400,
  UNSUPPORTED_SCHEME: 400,
  ADDRESS_NOT_ALLOWED: 400,
  DNS_FAILED: 422,
  CONNECTION_FAILED: 502,
  TOO_MANY_REDIRECTS: 422,
  FETCH_TIMEOUT: 504,
  TOO_LARGE: 413,
  ORIGIN_STATUS: 502,
  DOWNLOAD_INCOMPLETE: 502,
};

/**
 * An AppError with a fetch-specific code. `retryable` says whether the same request later can
 * succeed (timeouts, resets, 5xx/429 answers), which the worker maps to BullMQ retries.
 */
export class SafeFetchError extends AppError {
  declare readonly code: SafeFetchErrorCode;
  /** The origin's HTTP status, for ORIGIN_STATUS; otherwise null. */
  readonly status: number | null;

  constructor(
    code: SafeFetchErrorCode,
    message: string,
    retryable = false,
    options?: ErrorOptions & {
      /** For ORIGIN_STATUS: the origin's HTTP status. */ status?: number;
    },
  ) {
    super(code, message, STATUS[code], retryable, options);
    this.name = 'SafeFetchError';
    this.status = options?.status ?? null;
  }
}
