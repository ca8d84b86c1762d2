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

/**
 * An AppError with a fetch-specific code; its HTTP status is the catalogue's. `retryable` says
 * whether the same request later can succeed (timeouts, resets, 5xx/429 answers), which the worker
 * maps to BullMQ retries.
 */
export class SafeFetchError extends AppError {
  declare readonly code: SafeFetchErrorCode;
  /** The origin's HTTP status, for ORIGIN_STATUS; otherwise null. */
  readonly status: number | null;

  constructor(
    code: SafeFetchErrorCode,
    message: string,
    /** Default: the catalogue's (timeouts, resets and incomplete downloads are; the rest is not). */
    retryable?: boolean,
    options?: ErrorOptions & {
      /** For ORIGIN_STATUS: the origin's HTTP status. */ status?: number;
    },
  ) {
    super(code, message, undefined, retryable, options);
    this.name = 'SafeFetchError';
    this.status = options?.status ?? null;
  }
}
