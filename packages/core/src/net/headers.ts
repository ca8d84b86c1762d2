import http from 'node:http';
import { AppError } from '../errors.js';

/**
 * `origin_http_headers` (`"Authorization: Bearer x"`, one header per line) as a header object, so
 * the relay's own requests (pre-flight, `via: "relay"` download) ask the way Gcore will. Throws
 * AppError INVALID_FIELD (400) for a line Node would refuse to send.
 */
export function parseHeaderLines(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of (text ?? '').split(/\r?\n/)) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    const value = colon > 0 ? line.slice(colon + 1).trim() : '';
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      throw new AppError(
        'INVALID_FIELD',
        'origin_http_headers must be "Name: value" lines (e.g. "Authorization: Bearer …")',
        400,
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}
