/** `CORS_ORIGINS`: `*`, or the only browser origins that get `Access-Control-Allow-Origin`. */
export type CorsOrigins = '*' | readonly string[];

/**
 * The one CORS origin rule, for the JSON API and the TUS routes alike: `Access-Control-Allow-Origin`
 * for a request's `Origin` is `*`, the origin itself when listed, or none.
 */
export function allowedOrigin(origins: CorsOrigins, origin: string | null | undefined): string | null {
  if (origins === '*') return '*';
  return origin && origins.includes(origin) ? origin : null;
}
