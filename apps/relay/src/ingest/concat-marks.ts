import type { Upload } from '@tus/utils';

/**
 * Where an upload's part in a concatenation is kept in @tus/file-store's info, so that every relay
 * and the maintenance tasks know: `partial`, or `final;<id> <id> …` (the partials, in order).
 */
export const CONCAT_METADATA = 'relay_concat';

/** A creation's `Upload-Concat`, parsed as tusd parses it. */
export type UploadConcat = { kind: 'partial' } | { kind: 'final'; urls: string[] } | { kind: 'invalid' };

/**
 * `partial`, or `final;` and a space-separated list of URLs (absolute or paths); null when the
 * header is absent, `invalid` for anything else (a `final;` naming no URL included).
 */
export function parseUploadConcat(header: string | undefined): UploadConcat | null {
  if (header === undefined || header === '') return null;
  if (header === 'partial') return { kind: 'partial' };
  if (!header.startsWith('final;')) return { kind: 'invalid' };
  const urls = header
    .slice('final;'.length)
    .split(' ')
    .map((url) => url.trim())
    .filter(Boolean);
  return urls.length > 0 ? { kind: 'final', urls } : { kind: 'invalid' };
}

/** A partial upload: stored like any upload, but no job until a final upload takes it. */
export const isPartialUpload = (upload: Pick<Upload, 'metadata'> | null | undefined): boolean =>
  upload?.metadata?.[CONCAT_METADATA] === 'partial';

/** The partials a final upload was assembled from, in order; null for any other upload. */
export function partsOfFinal(upload: Pick<Upload, 'metadata'> | null | undefined): string[] | null {
  const value = upload?.metadata?.[CONCAT_METADATA];
  return value?.startsWith('final;') ? value.slice('final;'.length).split(' ').filter(Boolean) : null;
}
