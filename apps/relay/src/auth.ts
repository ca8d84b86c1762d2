import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendAuthError } from './auth-failures.js';
import type { Principal } from './principal.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Checks a presented token against every configured one in constant time (hashing first makes
 * the lengths equal, and every token is compared so the loop does not leak which one matched).
 */
export function createTokenCheck(tokens: readonly string[]): (presented: string) => boolean {
  const known = tokens.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let ok = false;
    for (const token of known) ok = timingSafeEqual(token, candidate) || ok;
    return ok;
  };
}

/** The token in `Authorization: Bearer …`, or Basic auth's password (for the dashboard in a browser). */
export function presentedToken(req: Request, allowBasic: boolean): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') return value.trim() || null;
  if (allowBasic && scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export interface AuthOptions {
  /** Accept HTTP Basic (password = token) and answer 401 with a Basic challenge: for pages. */
  basic?: boolean;
}

/** Refuses with 401 unless the request carries one of the relay's tokens. CORS preflights pass. */
export function requireToken(check: (token: string) => boolean, options: AuthOptions = {}) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = presentedToken(req, options.basic ?? false);
    if (req.method === 'OPTIONS' || (token && check(token))) {
      // Stand-in until roles land: every accepted token is an admin.
      if (token) res.locals.principal = { name: 'default', role: 'admin' } satisfies Principal;
      next();
      return;
    }
    if (options.basic) res.setHeader('WWW-Authenticate', 'Basic realm="gcore-tus-relay", charset="UTF-8"');
    sendAuthError(
      req,
      res,
      'UNAUTHORIZED',
      token ? 'the token is not valid for this relay' : 'send Authorization: Bearer <relay token>',
    );
  };
}
