import { HEADERS } from '@tus/utils';
import { allowedOrigin, type CorsOrigins } from '../cors.js';

/** Request headers browsers may send on /files besides @tus/server's TUS list. */
export const CORS_ALLOWED_HEADERS = ['X-Request-ID', 'Upload-Checksum', 'Range', 'If-Range'];
/** Response headers browsers may read on /files besides @tus/server's TUS list. */
export const CORS_EXPOSED_HEADERS = [
  'Upload-Expires',
  'Tus-Checksum-Algorithm',
  // A download's (GET).
  'Content-Range',
  'Accept-Ranges',
  'Content-Disposition',
];

/**
 * What every TUS answer carries, as @tus/server sends it: `Tus-Resumable` and CORS
 * (`Access-Control-Allow-Origin` as @tus/server answers it under `CORS_ORIGINS`: none for an unlisted origin).
 */
export function tusHeaders(origins: CorsOrigins, origin: string | null): Headers {
  const allowed = allowedOrigin(origins, origin);
  return new Headers({
    'Tus-Resumable': '1.0.0',
    ...(allowed ? { 'Access-Control-Allow-Origin': allowed } : {}),
    'Access-Control-Expose-Headers': [...HEADERS, ...CORS_EXPOSED_HEADERS].join(', '),
  });
}
