/**
 * Query-string parameters whose values are credentials: tokens, signatures of presigned URLs
 * (S3's `X-Amz-*`, GCS's `X-Goog-*`), API keys, passwords. Their values never reach a log line,
 * nor bull-board.
 */
const SECRET_NAME =
  /^(?:x-amz-.*|x-goog-.*|sig|signature|key|apikey|api[-_]key|password|passwd|pwd|secret|code|auth|authorization|credential|credentials|.*token|.*[-_]secret|.*[-_]signature|.*[-_]password|.*[-_]key)$/i;

export const REDACTED = '[redacted]';

/** Whether a query parameter of this name carries a secret (`token`, `access_token`, `X-Amz-Signature`…). */
export function isSecretParam(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    // a broken escape: judge the name as written
  }
  return SECRET_NAME.test(decoded.trim());
}

// `?name=value` or `&name=value` (also `;`), anywhere in a text: a URL, a log message, a JSON line.
// A value ends at the next separator, fragment, quote, backslash (a JSON escape) or white space.
const PARAM = /([?&;])([^=&;#?\s"'\\<>]+)=([^&;#\s"'\\<>]*)/g;

/** The text with the value of every secret-named query parameter in it replaced by `[redacted]`. */
export function redactSecretParams(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(PARAM, (whole, sep: string, name: string, value: string) =>
    value === '' || value === REDACTED || !isSecretParam(name) ? whole : `${sep}${name}=${REDACTED}`,
  );
}

/** A URL without its query string's values (`?a=[redacted]&b=[redacted]`): for callback URLs, whose every parameter may be a secret. */
export function redactQueryValues(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const hash = url.indexOf('#', query);
  const end = hash < 0 ? url.length : hash;
  const params = url
    .slice(query + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
    });
  return `${url.slice(0, query + 1)}${params.join('&')}${url.slice(end)}`;
}

/** A copy of a parsed query object (`req.query`) with the values of secret-named keys redacted. */
export function redactQueryObject(query: unknown): unknown {
  if (typeof query !== 'object' || query === null) return query;
  return Object.fromEntries(
    Object.entries(query as Record<string, unknown>).map(([name, value]) => [
      name,
      isSecretParam(name) ? REDACTED : value,
    ]),
  );
}
