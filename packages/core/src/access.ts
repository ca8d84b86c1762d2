import { createHash } from 'node:crypto';

/**
 * Who may do what. Roles are ordered: an admin may do everything an operator may, an operator
 * everything a tool may.
 * - `tool` (RELAY_API_TOKENS): TUS ingest, imports, and its own jobs only.
 * - `operator` (RELAY_OPERATOR_TOKENS): the dashboard and every job; bull-board read-only.
 * - `admin` (RELAY_ADMIN_TOKENS): everything, bull-board's write actions included.
 */
export const ROLES = ['tool', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const atLeast = (role: Role, needed: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(needed);

/** One configured token. `name` identifies its holder in jobs, logs, metrics and the dashboard. */
export interface TokenEntry {
  name: string;
  token: string;
  role: Role;
}

/** Who made a request: never the token itself. */
export interface Principal {
  name: string;
  role: Role;
}

/** Tokens shorter than this stop the process at start. */
export const MIN_TOKEN_LENGTH = 24;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * An entry is `token` or `name:token`. An unnamed token is named after its role and the first
 * hex digits of its SHA-256, stable across restarts and revealing nothing usable.
 */
export function parseTokenEntry(entry: string, role: Role): TokenEntry {
  const colon = entry.indexOf(':');
  if (colon > 0 && NAME.test(entry.slice(0, colon))) {
    return { name: entry.slice(0, colon), token: entry.slice(colon + 1), role };
  }
  return { name: defaultTokenName(entry, role), token: entry, role };
}

export function defaultTokenName(token: string, role: Role): string {
  return `${role}-${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

export interface AccessConfig {
  tools: readonly TokenEntry[];
  operators: readonly TokenEntry[];
  admins: readonly TokenEntry[];
}

/**
 * The tokens the relay accepts. Compatibility: without any operator token, tool tokens keep the
 * rights they had before roles existed (the dashboard and every job) — but bull-board's writes
 * always need an admin token.
 */
export function accessList({ tools, operators, admins }: AccessConfig): TokenEntry[] {
  const toolRole: Role = operators.length === 0 ? 'operator' : 'tool';
  return [...tools.map((t) => ({ ...t, role: toolRole })), ...operators, ...admins];
}
