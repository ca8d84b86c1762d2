import { createHash, timingSafeEqual } from 'node:crypto';
import { accessList, atLeast, type Principal, parseTokenEntry, type Role, type TokenEntry } from '@gtr/core';
import type { NextFunction, Request, Response } from 'express';
import { sendAuthError } from './auth-failures.js';
import { principalOf } from './principal.js';

export { principalOf } from './principal.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Finds who presented a token, or null; what the routes' guards call. */
export type TokenResolver = (presented: string) => Principal | null;

/**
 * The accepted tokens, from settings: plain strings are tools' tokens (named after their hash);
 * without any operator token, tools have operator rights (see accessList).
 */
export function tokenEntries(tokens: readonly (string | TokenEntry)[]): TokenEntry[] {
  const entries = tokens.map((t) => (typeof t === 'string' ? parseTokenEntry(t, 'tool') : t));
  return accessList({
    tools: entries.filter((e) => e.role === 'tool'),
    operators: entries.filter((e) => e.role === 'operator'),
    admins: entries.filter((e) => e.role === 'admin'),
  });
}

/**
 * Checks a presented token against every configured one in constant time (hashing first makes
 * the lengths equal, and every token is compared so the loop does not leak which one matched).
 */
export function createTokenResolver(entries: readonly TokenEntry[]): TokenResolver {
  const known = entries.map((entry) => ({
    hash: digest(entry.token),
    principal: { name: entry.name, role: entry.role },
  }));
  return (presented) => {
    const candidate = digest(presented);
    let found: Principal | null = null;
    for (const { hash, principal } of known) {
      if (timingSafeEqual(hash, candidate)) found = principal;
    }
    return found;
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

/** Whether this principal sees every job, not only its own. */
export const seesEveryJob = (principal: Principal | undefined): boolean =>
  principal !== undefined && atLeast(principal.role, 'operator');

/** Whether this principal may see what `owner` made (a job, a batch): its own, or every one. */
export const mayUse = (principal: Principal | undefined, owner: string | null | undefined): boolean =>
  seesEveryJob(principal) || owner === principal?.name;

export interface AuthOptions {
  /** Accept HTTP Basic (password = token) and answer 401 with a Basic challenge: for pages. */
  basic?: boolean;
}

/** Refuses with 401 unless the request carries one of the relay's tokens. CORS preflights pass. */
export function requireToken(resolve: TokenResolver, options: AuthOptions = {}) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = presentedToken(req, options.basic ?? false);
    const principal = token ? resolve(token) : null;
    if (principal) res.locals.principal = principal;
    if (req.method === 'OPTIONS' || principal) {
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

/** Refuses with 403 a principal below `role` (after a token guard). */
export function requireRole(role: Role) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const principal = principalOf(res);
    if (req.method === 'OPTIONS' || (principal && atLeast(principal.role, role))) {
      next();
      return;
    }
    sendAuthError(req, res, 'FORBIDDEN', `this needs an ${role === 'admin' ? 'admin' : 'operator'} token`);
  };
}
