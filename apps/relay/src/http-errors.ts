import { AppError, ERROR_CODES, type ErrorBody, type ErrorCode, type Logger } from '@gtr/core';
import type { NextFunction, Request, Response } from 'express';

/** An error answer: its HTTP status and its JSON body. */
export interface RenderedError {
  status: number;
  body: ErrorBody;
}

export interface RenderOptions {
  /** Default: the catalogue's status for the code (500 for a code that is never an answer). */
  status?: number | undefined;
  /** Added to the body when given (TUS hook refusals carry it). */
  retryable?: boolean | undefined;
}

/**
 * The relay's one JSON error shape, `{"error": {"code", "message"}}`, for the API, the TUS routes
 * and the raw socket alike. The status and the message default to the catalogue's (`ERROR_CODES`).
 */
export function renderError(code: ErrorCode, message?: string, options: RenderOptions = {}): RenderedError {
  const info = ERROR_CODES[code];
  const error: ErrorBody['error'] = { code, message: message ?? info.meaning };
  if (options.retryable !== undefined) error.retryable = options.retryable;
  return { status: options.status ?? info.status ?? 500, body: { error } };
}

/** An AppError's answer: its own status and message (and `retryable`, when asked for). */
export const renderAppError = (error: AppError, withRetryable = false): RenderedError =>
  renderError(error.code, error.message, {
    status: error.httpStatus,
    retryable: withRetryable ? error.retryable : undefined,
  });

/** Answers with the code's error: the catalogue's status, and its meaning unless `message` is given. */
export function sendError(res: Response, code: ErrorCode, message?: string): void {
  send(res, renderError(code, message));
}

function send(res: Response, { status, body }: RenderedError): void {
  // Browser tools need CORS headers on errors too, or they only see a network failure.
  if (!res.getHeader('Access-Control-Allow-Origin')) res.setHeader('Access-Control-Allow-Origin', '*');
  res.status(status).json(body);
}

/** The one place errors thrown by the API's routes become HTTP responses. */
export function errorMiddleware(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const answer = clientError(error);
    if (answer) {
      send(res, answer);
      return;
    }
    logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    sendError(res, 'INTERNAL_ERROR');
  };
}

/** What a thrown error tells the client; null for the relay's own failures (logged, then a 500). */
function clientError(error: unknown): RenderedError | null {
  if (error instanceof AppError) return renderAppError(error);
  // body-parser's errors carry a status and a type (they have no classes of their own).
  const e = error as { status?: number; type?: string; message?: string };
  switch (e.type) {
    case 'entity.parse.failed':
      return renderError('INVALID_JSON');
    case 'entity.too.large':
      return renderError('BODY_TOO_LARGE');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return renderError('UNSUPPORTED_ENCODING', e.message);
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return renderError('INVALID_REQUEST', e.message, { status: e.status });
  }
  return null;
}
