import { IntegrityMismatchError, sha256OfFilePrefix } from '@gtr/gcore';
import type { ForwardAttempt } from './attempt.js';

/**
 * The last attempt found the file changed on disk: check the whole file before sending anything
 * this time, so that each automatic retry costs one read rather than a send of the whole file,
 * and a retry after the file was put right goes ahead.
 */
export async function checkIntegrityFirst(
  attempt: ForwardAttempt,
  file: string,
  size: number,
): Promise<void> {
  const { record } = attempt;
  if (!record.sha256 || record.error?.code !== 'UPLOAD_INTEGRITY_MISMATCH') return;
  const actual = await sha256OfFilePrefix(file, size);
  if (actual !== record.sha256) throw new IntegrityMismatchError(record.sha256, actual);
}

/**
 * What Gcore holds of the upload came from the changed file, so it is no resume point: the next
 * attempt starts a new TUS upload (for the same video) from byte 0.
 */
export async function forgetGcoreUpload(attempt: ForwardAttempt): Promise<void> {
  if (attempt.progress.upload_url === null) return;
  attempt.progress.upload_url = null;
  await attempt.save();
  await attempt.saveManifest({ upload_url: null });
}
