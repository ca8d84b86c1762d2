import { type Logger, type ManifestLock, type UploadManifest, UploadManifests } from '@gtr/core';

const isDiskFull = (error: unknown): boolean =>
  ['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');

/**
 * The upload manifests as the worker writes them. A manifest is the disk copy of what Redis already
 * holds (written there first), kept for rebuilding jobs should Redis lose them. On a full upload
 * disk, failing the forward over it would be a deadlock: forwarding is what frees the disk. So
 * there an update is skipped with a warning, and the job carries on from Redis. With `lock` (the
 * relays' manifest lock in Redis), a read-modify-write never loses a relay's or another worker's
 * fields, and never writes back a manifest that was just removed.
 */
export class WorkerManifests extends UploadManifests {
  constructor(
    directory: string,
    private readonly logger: Logger,
    lock?: ManifestLock,
  ) {
    super(directory, lock);
  }

  override async update(
    id: string,
    patch: Partial<Omit<UploadManifest, 'id'>>,
  ): Promise<UploadManifest | null> {
    try {
      return await super.update(id, patch);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.logger.warn(
        { uploadId: id, fields: Object.keys(patch) },
        'upload dir is full: manifest not updated (the job in Redis has it); forwarding frees space',
      );
      return this.read(id);
    }
  }
}
