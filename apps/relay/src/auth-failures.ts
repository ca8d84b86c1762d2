import type { Socket } from 'node:net';
import { type ErrorCode, type Logger, type RedisClient, relayKeys } from '@gtr/core';
import type { Express, Request, Response } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { sendError } from './http-errors.js';

/** How long a refused connection may stay open, unread, so the client can read the answer. */
export const LINGER_MS = 2_000;

export interface AuthFailureThrottleOptions {
  /** The relay's `client`-role connection (commands fail fast during an outage). */
  redis: RedisClient;
  /** The relay's REDIS_PREFIX: the counters are `<prefix>:auth-failures:<address>`. */
  prefix: string;
  /** Failed attempts per address and minute before the address gets 429 for a minute; 0 turns it off. */
  perMinute: number;
  logger: Logger;
}

/**
 * Counts requests without a valid token per client address in Redis, shared by every relay
 * process. Past the limit such requests get 429 `TOO_MANY_AUTH_FAILURES` with `Retry-After`;
 * requests with a valid token are never counted nor refused. When Redis cannot answer, nothing is
 * throttled (the 401 goes out anyway).
 */
export class AuthFailureThrottle {
  private readonly limiter: RateLimiterRedis;

  constructor(private readonly options: AuthFailureThrottleOptions) {
    this.limiter = new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: relayKeys(options.prefix).authFailures,
      points: options.perMinute,
      duration: 60,
      blockDuration: 60,
      rejectIfRedisNotReady: true,
    });
  }

  /** Records one failure from `address`; the seconds to wait once it is over the limit, else null. */
  async failed(address: string): Promise<number | null> {
    try {
      await this.limiter.consume(address);
      return null;
    } catch (error) {
      if (error instanceof RateLimiterRes) return Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      this.options.logger.debug({ err: error }, 'auth failure not counted (Redis)');
      return null;
    }
  }
}

const THROTTLE = Symbol('authFailureThrottle');

/** Makes the app's token guards count their failures (see `sendAuthError`). */
export function useAuthFailureThrottle(app: Express, throttle: AuthFailureThrottle | undefined): void {
  (app.locals as Record<symbol, unknown>)[THROTTLE] = throttle;
}

const throttleOf = (req: Request): AuthFailureThrottle | undefined =>
  (req.app?.locals as Record<symbol, AuthFailureThrottle | undefined> | undefined)?.[THROTTLE];

/**
 * Answers a request the token guards refuse — 401 (no valid token; counted per address, 429 past
 * the limit) or 403 — and closes the connection without reading its body: an unauthenticated
 * client must not make the relay take in a 100 MB body, nor hold a connection open by sending
 * one byte a second.
 */
export function sendAuthError(
  req: Request,
  res: Response,
  code: Extract<ErrorCode, 'UNAUTHORIZED' | 'CROSS_SITE_REQUEST' | 'FORBIDDEN'>,
  message?: string,
): void {
  closeWithoutDraining(req, res);
  const throttle = code === 'UNAUTHORIZED' ? throttleOf(req) : undefined;
  if (!throttle) {
    sendError(res, code, message);
    return;
  }
  void throttle.failed(req.ip ?? req.socket.remoteAddress ?? 'unknown').then((wait) => {
    if (res.headersSent || res.destroyed) return;
    if (wait === null) {
      sendError(res, code, message);
      return;
    }
    res.removeHeader('WWW-Authenticate');
    res.setHeader('Retry-After', String(wait));
    sendError(res, 'TOO_MANY_AUTH_FAILURES');
  });
}

/**
 * `Connection: close`, and the request body is never read: Node would otherwise read (and drop)
 * all of it once the answer is out, to keep the connection. The relay stops reading at once,
 * answers, sends FIN, and closes the socket for good `LINGER_MS` later — not at once, since
 * closing a socket with unread data resets the connection and the client could lose the answer.
 */
export function closeWithoutDraining(req: Request, res: Response): void {
  res.setHeader('Connection', 'close');
  const socket = req.socket as Socket | undefined;
  if (!socket) return;
  // The request stream asks its socket for more whenever it wants data (and Node's own drain after
  // the answer is such a want): it may want nothing more. What Node already read stays unread.
  (req as unknown as { _read: () => void })._read = () => {};
  socket.pause();
  res.once('finish', () => {
    // Node's own 'finish' handling ran first: it ended the socket (Connection: close) and would
    // destroy it as soon as the answer is flushed. Keep it, unread, a little longer instead.
    socket.removeListener('finish', socket.destroy);
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
