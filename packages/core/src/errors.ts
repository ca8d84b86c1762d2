import { ERROR_CODES, type ErrorCode } from '@gtr/contract';

export {
  ERROR_CODES,
  type ErrorBody,
  type ErrorCode,
  type ErrorInfo,
  errorInfo,
  isErrorCode,
} from '@gtr/contract';

/**
 * An error with a stable code, the HTTP status it maps to, and whether trying again can help. The
 * message, status and retryability default to the catalogue's (`ERROR_CODES`); pass them to say
 * otherwise for this case.
 */
export class AppError extends Error {
  readonly httpStatus: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    /** Default: the catalogue's meaning of the code. */
    message?: string,
    httpStatus?: number,
    retryable?: boolean,
    options?: ErrorOptions,
  ) {
    const info = ERROR_CODES[code];
    super(message ?? info.meaning, options);
    this.name = 'AppError';
    this.httpStatus = httpStatus ?? info.status ?? 500;
    this.retryable = retryable ?? info.retryable;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}
