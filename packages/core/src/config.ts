import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `15m`, `24h`, `7d`, `500ms` or a bare number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1));
}

const bool = (fallback: boolean) =>
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

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
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

const positive = (fallback: number) =>
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

const duration = (fallback: string) =>
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

function parseUrl(value: string, ctx: z.RefinementCtx): string {
  try {
    return new URL(value).toString().replace(/\/$/, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected a URL, got "${value}"` });
    return z.NEVER;
  }
}

const url = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => parseUrl(v || fallback, ctx));

const optionalUrl = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => (v ? parseUrl(v, ctx) : undefined));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Every environment variable the relay reads, with its default. See docs/contract.md and README.md. */
export const configSchema = z.object({
  /** Relay HTTP port. Default 8080. */
  PORT: int(8080, 0, 65_535),
  /** Bind address. Default 0.0.0.0. */
  HOST: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || '0.0.0.0'),
  /** Uploads (`DATA_DIR/uploads`), the generated token and embedded Redis data. Default `./data`. */
  DATA_DIR: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || './data'),
  /** BullMQ's Redis. Default: 127.0.0.1:6379 if it answers, else an embedded redis-server. */
  REDIS_URL: optionalUrl(),
  /** Prefix of every Redis key (jobs and queues), so several relays can share one Redis. Default `gtr`. */
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only')
    .optional()
    .transform((v) => v || 'gtr'),
  /** Gcore API base URL. Default https://api.gcore.com. */
  GCORE_API_URL: url('https://api.gcore.com'),
  /** Gcore API key (`Authorization: APIKey <key>`). Never logged. */
  GCORE_API_KEY: optionalString,
  /** Ceiling on Gcore API requests per second, shared by all workers. Default 4. */
  GCORE_API_RPS: positive(4),
  /** Comma-separated bearer tokens accepted from internal tools. */
  RELAY_API_TOKENS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  /** Bytes per PATCH to Gcore's TUS server. Default 10 000 000. */
  FORWARD_CHUNK_SIZE: int(10_000_000, 1_024),
  /** Uploads forwarded at once per worker process. Default 2. */
  FORWARD_CONCURRENCY: int(2, 1, 1_000),
  /** Attempts per forward before a job is `failed` (429 pauses do not count). Default 8. */
  FORWARD_ATTEMPTS: int(8, 1, 1_000),
  /** Largest accepted upload in bytes; 0 means no limit. */
  MAX_UPLOAD_SIZE: int(0, 0),
  /** When a job counts as done: `uploaded`, `viewable` or `ready`. */
  COMPLETE_ON: z
    .enum(['uploaded', 'viewable', 'ready'])
    .optional()
    .transform((v) => v ?? 'ready'),
  /** HMAC key for callbacks to internal tools. */
  CALLBACK_SECRET: optionalString,
  /** Unfinished uploads older than this are removed. Default 24h. */
  UPLOAD_EXPIRY: duration('24h'),
  /** Keep local files after Gcore has them. Default false. */
  KEEP_FILES: bool(false),
  /** Check that an import URL answers before asking Gcore to pull it. Default true. */
  IMPORT_PREFLIGHT: bool(true),
  /** Let the relay fetch loopback/private addresses. Default false. */
  IMPORT_ALLOW_PRIVATE: bool(false),
  /** Build TUS `Location` URLs from X-Forwarded-* headers (behind a reverse proxy). Default false. */
  TRUST_PROXY: bool(false),
  /**
   * The relay's external base URL, as tools reach it (`https://relay.example.com`, maybe with a path
   * a reverse proxy strips). When set, TUS `Location` and every other URL the relay hands out are
   * built from it, never from the request's `Host` or `X-Forwarded-*` (which `TRUST_PROXY` reads
   * only when this is unset). http(s) only; no query or fragment. Default: unset.
   */
  PUBLIC_URL: z
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
    }),
  /**
   * Requests without a valid relay token one client address may make per minute; past it that
   * address gets 429 `TOO_MANY_AUTH_FAILURES` for a minute (counted in Redis, shared by all relays).
   * 0 turns it off. Default 20.
   */
  AUTH_FAILURE_LIMIT: int(20, 0, 1_000_000),
  /** Port of a `pnpm start:worker` process's `/metrics` and `/healthz`; 0 turns it off. Default 9464. */
  WORKER_METRICS_PORT: int(9464, 0, 65_535),
  /**
   * How long a worker's claim on a job lasts without renewal (BullMQ lock); a killed worker's job
   * is picked up by another after about this long. Default 30s.
   */
  WORKER_LOCK_DURATION: duration('30s'),
  /** Where `pnpm start` runs the built-in emulator when it needs one. Default 8090. */
  EMULATOR_PORT: int(8090, 0, 65_535),
  /** pino level. Default info. */
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .optional()
    .transform((v) => v ?? 'info'),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once; throws a ConfigError naming every bad variable. Reading the
 * process's own environment, a `.env` file in the working directory is loaded first (variables
 * already set win).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  if (env === process.env && existsSync('.env')) {
    for (const [key, value] of Object.entries(parseEnv(readFileSync('.env', 'utf8')))) env[key] ??= value;
  }
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(problems);
}

/** For a process's entry point: the configuration, or one line per bad variable and exit code 1. */
export function readConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
