import type { Logger } from '@gtr/core';
import type { RelayFileStore } from './file-store.js';
import type { Uploads } from './uploads.js';

/** ENOSPC from creating an upload's files (its writes turn it into an AppError themselves). */
export const isDiskFull = (error: unknown): boolean =>
  ['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');

/**
 * Answers to a creation that leave nothing behind: the client's errors and a full disk. Not a 503
 * from queueing a complete upload (the bytes are all there; the reconciler queues them), nor 5xx.
 */
export const refusesCreation = (status: number): boolean => (status >= 400 && status < 500) || status === 507;

/**
 * A creation refused after its files and job exist (creation-with-upload whose body is longer
 * than `Upload-Length`, a full disk while writing it): the client got no `Location`, so nothing
 * may stay behind — not the file, its info and manifest, nor a `receiving` job for 24 h.
 */
export async function undoCreation(
  id: string,
  { store, uploads, logger }: { store: RelayFileStore; uploads: Uploads; logger: Logger },
): Promise<void> {
  await store.discard(id);
  await uploads.abandoned(id).catch((error: unknown) => {
    logger.warn({ err: error, uploadId: id }, 'could not remove the job of a refused upload');
  });
}
