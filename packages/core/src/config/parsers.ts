import { z } from 'zod';
import { MIN_TOKEN_LENGTH, parseTokenEntry, type Role } from '../access.js';
import { parseVideoDefaults } from '../jobs/fields.js';
import { parseCidr } from '../net/cidr.js';
import { parseHostEntry } from '../net/host-list.js';

// The parsers of the configuration's values: each turns a variable's text into its value, or adds
// an issue naming what was expected (loadConfig prefixes it with the variable).

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `15m`, `24h`, `7d`, `500ms` or a bare number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1));
}

export const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `expected true or false, got "${v}"` });
      return z.NEVER;
    });

export const int = <T extends number | undefined = number>(
  fallback: T,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a whole number from ${min} to ${max}, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    });

/** The entries of a comma-separated value, trimmed, empty ones left out. */
const commaItems = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/**
 * Each entry parsed (`parse` answers null or undefined for one it cannot take), or the first that does not
 * parse reported as `message` says and the value refused (z.NEVER).
 */
function parseEach<T>(
  items: readonly string[],
  ctx: z.RefinementCtx,
  parse: (item: string) => T | null | undefined,
  message: (item: string) => string,
): T[] {
  const parsed: T[] = [];
  for (const item of items) {
    const value = parse(item);
    if (value === null || value === undefined) {
      ctx.addIssue({ code: 'custom', message: message(item) });
      return z.NEVER;
    }
    parsed.push(value);
  }
  return parsed;
}

/** `token` or `name:token`, comma-separated; every token at least MIN_TOKEN_LENGTH long. */
export const tokenList = (role: Role) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const entries = commaItems(v).map((entry) => parseTokenEntry(entry, role));
      for (const entry of entries) {
        // Never the token itself in the message: only its name and length.
        if (entry.token.length < MIN_TOKEN_LENGTH) {
          ctx.addIssue({
            code: 'custom',
            message: `the token named "${entry.name}" has ${entry.token.length} characters; at least ${MIN_TOKEN_LENGTH} are needed`,
          });
        }
      }
      return entries;
    });

export const positive = (fallback: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a positive number, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

export const duration = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const ms = parseDuration(v === undefined || v === '' ? fallback : v);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 30s, 15m, 24h or 7d, got "${v}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

export function parseUrl(value: string, ctx: z.RefinementCtx): string {
  try {
    return new URL(value).toString().replace(/\/$/, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected a URL, got "${value}"` });
    return z.NEVER;
  }
}

export const url = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => parseUrl(v || fallback, ctx));

export const optionalUrl = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => (v ? parseUrl(v, ctx) : undefined));

export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** A `host:port` of a sentinel or a cluster node. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

function parseEndpoint(value: string, defaultPort: number): RedisEndpoint | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return undefined;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

export const endpoints = (defaultPort: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const items = commaItems(v);
      if (items.length === 0) return undefined;
      return parseEach(
        items,
        ctx,
        (item) => parseEndpoint(item, defaultPort),
        (item) => `expected host:port[,host:port…], got "${item}"`,
      );
    });

/** Comma-separated `host` or `host:port` entries; an entry that is neither is a configuration error. */
export const hostList = () =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      return parseEach(
        commaItems(v),
        ctx,
        parseHostEntry,
        (item) => `expected host names or host:port, got "${item}"`,
      );
    });

/** The http(s) origin `item` is exactly (a trailing `/` aside), else null. */
function originOf(item: string): string | null {
  let url: URL;
  try {
    url = new URL(item);
  } catch {
    return null;
  }
  const exact = ['http:', 'https:'].includes(url.protocol) && url.origin === item.replace(/\/+$/, '');
  return exact ? url.origin : null;
}

/** `*` (or empty) or comma-separated http(s) origins, each exactly an origin (no path). */
export const corsOrigins = () =>
  z
    .string()
    .trim()
    .default('*')
    .transform((v, ctx): '*' | string[] => {
      if (v === '' || v === '*') return '*';
      const origins = parseEach(
        commaItems(v),
        ctx,
        originOf,
        (item) => `expected "*" or comma-separated origins like https://app.example.com, got "${item}"`,
      );
      return origins.length ? origins : '*';
    });

/** An http(s) base URL without query, fragment or credentials; no trailing slash. */
export const publicUrl = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      const parsed = parseUrl(v, ctx);
      if (typeof parsed !== 'string') return parsed;
      const url = new URL(parsed);
      if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username) {
        ctx.addIssue({
          code: 'custom',
          message: `expected an http(s) URL without query or credentials, got "${v}"`,
        });
        return z.NEVER;
      }
      return parsed.replace(/\/+$/, '');
    });

/** A JSON object of create-video fields, checked with the upload metadata's rules. */
export const videoDefaults = () =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return {};
      try {
        return parseVideoDefaults(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

/** A secret path segment: at least MIN_TOKEN_LENGTH characters of `[A-Za-z0-9_-]`; never echoed. */
export const pathSecret = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      if (v.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(v)) {
        // Never the secret itself in the message.
        ctx.addIssue({
          code: 'custom',
          message: `expected at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 _ -, got ${v.length} characters`,
        });
        return z.NEVER;
      }
      return v;
    });

/** Comma-separated CIDRs; undefined when none. */
export const cidrList = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const list = parseEach(
        commaItems(v),
        ctx,
        (cidr) => (parseCidr(cidr) === null ? null : cidr),
        (cidr) => `expected a CIDR such as 92.223.112.0/24, got "${cidr}"`,
      );
      return list.length > 0 ? list : undefined;
    });
