import fs from 'node:fs/promises';
import type { Upload } from '@tus/utils';

/**
 * When an upload last took a byte: its data file's mtime, never before its creation. The file is
 * on the upload volume every relay of a fleet shares, so each relay sees the same time without
 * sticky sessions or a write to Redis per chunk; a PATCH whose bytes are refused and cut off
 * again restores the mtime, so it does not count. Null when neither is known.
 */
export async function lastActivityOf(upload: Upload): Promise<number | null> {
  const created = upload.creation_date ? Date.parse(upload.creation_date) : Number.NaN;
  const file = upload.storage?.path;
  const modified = file ? ((await fs.stat(file).catch(() => null))?.mtimeMs ?? Number.NaN) : Number.NaN;
  const known = [created, modified].filter((t) => Number.isFinite(t));
  return known.length > 0 ? Math.max(...known) : null;
}

/** `Upload-Expires` (an RFC 7231 date) of an unfinished upload last active at `lastActivityMs`. */
export const uploadExpires = (lastActivityMs: number, expiryMs: number): string =>
  new Date(lastActivityMs + expiryMs).toUTCString();

/**
 * Whether a 2xx HEAD or PATCH answer is about an unfinished upload, the ones that carry
 * `Upload-Expires`. @tus/server puts it on an unfinished PATCH's answer only (counted from before
 * the PATCH's bytes), never on HEAD.
 */
export function answersUnfinished(method: string, response: Response): boolean {
  if (method === 'PATCH') return response.headers.has('Upload-Expires');
  if (method !== 'HEAD') return false;
  if (response.headers.has('Upload-Defer-Length')) return true;
  const length = response.headers.get('Upload-Length');
  return length !== null && response.headers.get('Upload-Offset') !== length;
}
