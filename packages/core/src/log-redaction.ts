import type { Config } from './config/schema.js';
import { REDACTED, redactSecretParams } from './secret-params.js';

/*
 * The one rule for what never reaches a log line, for every process (relay, worker, emulator,
 * `pnpm start`): createLogger (logger.ts) applies REDACT_PATHS with `censorLogValue` to each
 * object logged, then `redactLogLine` to each line written.
 */

/** Request and response headers whose values are credentials; logged as `[redacted]`. */
export const CREDENTIAL_HEADERS = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
  'set-cookie',
] as const;

/** TUS's `Upload-Metadata`: only its keys and the file name are logged (its values hold callback URLs). */
const UPLOAD_METADATA = 'upload-metadata';

// Node gives header names in lower case; code that logs its own header objects may not.
const spellings = (name: string) => [
  name,
  name.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase()),
];
const headerPaths = [...CREDENTIAL_HEADERS, UPLOAD_METADATA]
  .flatMap(spellings)
  .flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]);

/** pino `redact` paths: credential headers and Upload-Metadata of any request or response, query objects, secrets by name. */
export const REDACT_PATHS = [
  ...headerPaths,
  // pino-http's `req.query` (the parsed query string: every value) and the webhook route's secret.
  'req.query',
  'req.params.secret',
  'authorization',
  'apiKey',
  'token',
  'tusToken',
  '*.token',
  '*.apiKey',
];

/** The censor for REDACT_PATHS: Upload-Metadata summarised, a query object's values hidden, anything else `[redacted]`. */
export function censorLogValue(value: unknown, path: readonly string[]): unknown {
  const key = path.at(-1)?.toLowerCase();
  if (key === UPLOAD_METADATA) return summarizeUploadMetadata(value);
  if (key === 'query' && typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).map((name) => [name, REDACTED]));
  }
  return REDACTED;
}

/** `keys=filename,name,callback_url filename=talk.mp4`: what an Upload-Metadata header may say in a log. */
export function summarizeUploadMetadata(header: unknown): string {
  if (typeof header !== 'string') return REDACTED;
  const pairs = header.split(',').map((pair) => pair.trim().split(/\s+/, 2));
  const keys = pairs.map(([key]) => key).filter(Boolean);
  const encoded = pairs.find(([key]) => key === 'filename')?.[1];
  const filename =
    encoded === undefined ? null : Buffer.from(encoded, 'base64').toString('utf8').slice(0, 200);
  return `keys=${keys.join(',')}${filename === null ? '' : ` filename=${filename}`}`;
}

// `?query` after a URL or path, up to white space, a quote, a backslash (a JSON escape) or `#`.
const QUERY = /\?([^\s"'`\\<>#]+)/g;
// The webhook route's secret segment, in any case and with any run of separators.
const HOOK_PATH = /(\/hooks(?:\/\.|\/|%2f)+gcore(?:\/\.|\/|%2f)+)([^/?#\s"'`\\<>]+)/gi;
// Gcore's TUS tokens are JWTs (as packages/gcore's redact knows too): the logger cannot know them.
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?/g;

/** Every value of a query string replaced by `[redacted]`; the names stay. */
function redactQueryString(query: string): string {
  return query.replace(/(^|[&;])([^=&;]+)=([^&;]*)/g, (whole, sep: string, name: string, value: string) =>
    value === '' || value === REDACTED ? whole : `${sep}${name}=${REDACTED}`,
  );
}

/** A matcher for the known secrets as they may be written: raw, URL-encoded, JSON-escaped. */
export function secretMatcher(secrets: readonly (string | undefined)[]): RegExp | null {
  const forms = new Set<string>();
  for (const secret of secrets) {
    // Very short values would shred ordinary words; keys, tokens and secrets are long.
    if (!secret || secret.length < 8) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return null;
  const escaped = [...forms]
    .sort((a, b) => b.length - a.length)
    .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(escaped.join('|'), 'g');
}

/**
 * One written log line, scrubbed: the known secrets (`secrets`, see secretMatcher), every value
 * of every query string in it (a request line, a callback or import URL, a URL in an error
 * message), the webhook route's secret segment in any spelling, values of secret-named
 * parameters anywhere (`&token=…`) and JWT-shaped strings.
 */
export function redactLogLine(line: string, secrets: RegExp | null = null): string {
  let out = secrets ? line.replace(secrets, REDACTED) : line;
  out = out.replace(HOOK_PATH, (_whole, prefix: string) => `${prefix}${REDACTED}`);
  if (out.includes('=')) {
    out = out.replace(QUERY, (whole, query: string) =>
      query.includes('=') ? `?${redactQueryString(query)}` : whole,
    );
    out = redactSecretParams(out);
  }
  return out.includes('eyJ') ? out.replace(JWT, REDACTED) : out;
}

/** The configuration's secrets, for createLogger's `secrets`: keys, passwords, tokens, the webhook path. */
export function configSecrets(config: Config): string[] {
  const values = [
    config.GCORE_API_KEY,
    config.CALLBACK_SECRET,
    config.GCORE_WEBHOOK_PATH_SECRET,
    config.REDIS_PASSWORD,
    config.REDIS_SENTINEL_PASSWORD,
    ...[...config.RELAY_API_TOKENS, ...config.RELAY_OPERATOR_TOKENS, ...config.RELAY_ADMIN_TOKENS].map(
      (entry) => entry.token,
    ),
  ];
  if (config.REDIS_URL) {
    try {
      values.push(decodeURIComponent(new URL(config.REDIS_URL).password));
    } catch {
      // not a URL with a password
    }
  }
  return values.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim());
}
