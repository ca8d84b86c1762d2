import fs from 'node:fs/promises';
import { isPartialUpload } from '../ingest/concat-marks.js';
import type { RelayFileStore } from '../ingest/file-store.js';
import { OWNER_METADATA } from '../ingest/owner.js';
import { type HeldUpload, UNKNOWN_OWNER } from '../ingest/quota.js';

/** The ids of the uploads in the upload dir: those with a @tus/file-store info (`<id>.json`). */
export async function uploadIdsIn(uploadDir: string): Promise<string[]> {
  const names = await fs.readdir(uploadDir).catch(() => [] as string[]);
  return names
    .filter((name) => name.endsWith('.json') && !name.endsWith('.relay.json'))
    .map((name) => name.slice(0, -'.json'.length));
}

/**
 * The uploads that hold a place in their owner's quota, as the upload dir has them: every upload
 * not yet finished (a final upload still being assembled included), and every partial upload,
 * finished or not, until a final upload takes it or it expires (it still takes the disk).
 */
export async function openUploadsIn(store: RelayFileStore): Promise<Map<string, HeldUpload>> {
  const open = new Map<string, HeldUpload>();
  for (const id of await uploadIdsIn(store.directory)) {
    const upload = await store.getUpload(id).catch(() => null);
    if (!upload) continue;
    const unfinished = upload.size === undefined || upload.offset < upload.size;
    if (!unfinished && !isPartialUpload(upload)) continue;
    open.set(id, { owner: upload.metadata?.[OWNER_METADATA] ?? UNKNOWN_OWNER, bytes: upload.size ?? 0 });
  }
  return open;
}
