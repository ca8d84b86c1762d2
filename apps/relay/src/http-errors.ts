import { AppError, type Logger } from '@gtr/core';
import type { NextFunction, Request, Response } from 'express';

export interface ErrorBody {
  code: string;
  message: string;
}

export function sendError(res: Response, status: number, error: ErrorBody): void {
  // Browser tools need CORS headers on errors too, or they only see a network failure.
  if (!res.getHeader('Access-Control-Allow-Origin')) res.setHeader('Access-Control-Allow-Origin', '*');
  res.status(status).json({ error });
}

/** The one place errors become HTTP responses. */
export function errorMiddleware(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof AppError) {
      sendError(res, error.httpStatus, { code: error.code, message: error.message });
      return;
    }
    // body-parser's errors carry a status and a type.
    const e = error as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.parse.failed') {
      sendError(res, 400, { code: 'INVALID_JSON', message: 'the request body is not valid JSON' });
      return;
    }
    if (e.type === 'entity.too.large') {
      sendError(res, 413, { code: 'BODY_TOO_LARGE', message: 'the request body is too large' });
      return;
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      sendError(res, 415, {
        code: 'UNSUPPORTED_ENCODING',
        message: e.message ?? 'unsupported body encoding',
      });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      sendError(res, e.status, { code: 'INVALID_REQUEST', message: e.message ?? 'invalid request' });
      return;
    }
    logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    sendError(res, 500, { code: 'INTERNAL_ERROR', message: 'the relay could not handle this request' });
  };
}
