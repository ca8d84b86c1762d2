import type { RequestHandler } from 'express';
import type { EmulatorContext } from '../context.js';
import { isEveryNth, retryAfterHeaders } from '../faults.js';

/**
 * API faults, ahead of authentication as at a gateway: the rate limit (sliding 1 s window on the
 * emulator's clock), then every-Nth 429 and 503.
 */
export function apiFaults(ctx: EmulatorContext): RequestHandler {
  return (_req, res, next) => {
    const now = ctx.clock.now();
    ctx.stats.apiRequest(now);
    const f = ctx.faults.current;
    const n = ctx.faults.nextApiRequest();
    const waitMs = ctx.rateLimiter.tryAcquire(now, f.apiRateLimit);
    if (waitMs > 0 || isEveryNth(n, f.api429EveryN)) {
      const wait = waitMs > 0 ? waitMs : f.retryAfterMs;
      const seconds = Math.ceil(wait / 1_000);
      ctx.stats.count('api429s');
      res
        .status(429)
        .set(retryAfterHeaders(f.retryAfter, wait))
        .json({
          message: `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`,
        });
      return;
    }
    if (isEveryNth(n, f.api5xxEveryN)) {
      ctx.stats.count('api5xxs');
      res.status(503).json({ message: 'Service temporarily unavailable, try again later.' });
      return;
    }
    next();
  };
}
