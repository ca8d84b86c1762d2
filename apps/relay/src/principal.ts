import type { Principal } from '@gtr/core';
import type { Response } from 'express';

export type { Principal, Role } from '@gtr/core';

/** The authenticated principal of this request (set by the token guards), or undefined before them. */
export function principalOf(res: Response): Principal | undefined {
  const principal = (res.locals as { principal?: unknown }).principal;
  if (typeof principal !== 'object' || principal === null) return undefined;
  const { name, role } = principal as Partial<Principal>;
  if (typeof name !== 'string' || (role !== 'tool' && role !== 'operator' && role !== 'admin'))
    return undefined;
  return { name, role };
}

/** Whether the request's principal may change things in bull-board (and other admin-only places). */
export const isAdmin = (res: Response): boolean => principalOf(res)?.role === 'admin';
