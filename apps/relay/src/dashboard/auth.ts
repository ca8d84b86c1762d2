import type { NextFunction, Request, Response } from 'express';
import { presentedToken, type TokenResolver } from '../auth.js';
import { sendAuthError } from '../auth-failures.js';

export interface BrowserAuthOptions {
  /** Answer 401 with a Basic challenge so a browser prompts for the token. Default true. */
  challenge?: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A relay token as `Bearer`, or as the password of HTTP Basic (what a browser sends once the
 * operator logged in on the dashboard). A browser attaches Basic credentials to any request for
 * the relay, whichever site made it, so a Basic-authenticated request that changes something must
 * come from the relay's own pages (cross-site form posts would otherwise retry or cancel jobs).
 */
export function requireBrowserToken(resolve: TokenResolver, options: BrowserAuthOptions = {}) {
  const challenge = options.challenge ?? true;
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = presentedToken(req, true);
    const principal = token ? resolve(token) : null;
    if (principal) res.locals.principal = principal;
    if (req.method === 'OPTIONS' || principal) {
      if (token && isBasic(req) && !SAFE_METHODS.has(req.method) && !isSameOrigin(req)) {
        sendAuthError(req, res, 'CROSS_SITE_REQUEST');
        return;
      }
      next();
      return;
    }
    if (challenge) res.setHeader('WWW-Authenticate', 'Basic realm="gcore-tus-relay", charset="UTF-8"');
    sendAuthError(
      req,
      res,
      'UNAUTHORIZED',
      token ? 'the token is not valid for this relay' : 'send Authorization: Bearer <relay token>',
    );
  };
}

const isBasic = (req: Request): boolean => /^basic\s/i.test(req.headers.authorization ?? '');

/** Browsers send `Sec-Fetch-Site` (and `Origin` on every unsafe request); other clients send neither. */
function isSameOrigin(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
