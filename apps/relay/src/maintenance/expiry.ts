import fs from 'node:fs/promises';
import path from 'node:path';
import type {
  JobLifecycle,
  JobRecord,
  JobRepository,
  Lease,
  Logger,
  RelayQueues,
  UploadFeed,
  UploadManifests,
} from '@gtr/core';
import { resumeParked } from '@gtr/core';
import { isPartialUpload, partsOfFinal } from '../ingest/concat-marks.js';
import type { RelayFileStore } from '../ingest/file-store.js';
import { uploadIdsIn } from './open-uploads.js';

/** The upload locks TUS requests hold (ingest/redis-locker.ts), taken only when free. */
export interface UploadLocks {
  tryLock(id: string): Promise<Lease | null>;
}

export interface ExpiryDeps {
  /** Where a parked forward of an expired upload is woken (to delete its video). */
  queues: Pick<RelayQueues, 'forward'>;
  uploadDir: string;
  expiryMs: number;
  jobs: JobRepository;
  lifecycle: JobLifecycle;
  manifests: UploadManifests;
  store: RelayFileStore;
  locks: UploadLocks;
  /** Tells a forward streaming the upload to stop (its worker then deletes the Gcore video). */
  feed: UploadFeed;
  logger: Logger;
  now?: () => number;
}

const EXPIRED = {
  code: 'UPLOAD_EXPIRED',
  message:
    'the upload took no byte for UPLOAD_EXPIRY before it finished and was removed; upload the file again',
  retryable: false,
};

/**
 * Unfinished uploads that took no byte for UPLOAD_EXPIRY are removed and their jobs fail with
 * `UPLOAD_EXPIRED`. The time runs from the last byte (`RelayFileStore.lastActivity`: the data
 * file's mtime, which @tus/server's 410 and `Upload-Expires` go by as well), so an upload that keeps
 * sending is never cut off. That happens wherever an expired upload is first seen — a TUS request
 * answered 410, a look at its job through the API, or the periodic sweep — so they never disagree.
 * A finished upload is never touched here: it stays until it has been forwarded (the worker
 * removes it then) — except a finished partial upload (TUS concatenation), which has no job and
 * expires as if unfinished. Nor is an upload that a request (on any relay) holds the lock of: it
 * is being written or looked at; whoever sees it expired next removes it.
 */
export class UploadExpiry {
  private readonly now: () => number;

  constructor(private readonly deps: ExpiryDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Whether an unfinished upload that last took a byte at `lastActivityMs` has expired. */
  isDue(lastActivityMs: number): boolean {
    return this.deps.expiryMs > 0 && this.now() > lastActivityMs + this.deps.expiryMs;
  }

  /** Removes the upload and fails its job, unless it is finished or in use. Returns whether it did. */
  async expire(id: string): Promise<boolean> {
    const lease = await this.deps.locks.tryLock(id).catch(() => null);
    if (!lease) {
      this.deps.logger.info({ uploadId: id }, 'expired upload is in use (locked): left for now');
      return false;
    }
    try {
      return await this.expireLocked(id);
    } finally {
      await lease.release();
    }
  }

  private async expireLocked(id: string): Promise<boolean> {
    const { store, manifests, lifecycle } = this.deps;
    const manifest = await manifests.read(id).catch(() => null);
    if (manifest?.completed_at) return false;
    const upload = await store.getUpload(id).catch(() => null);
    // A finished partial waits for nothing but a final upload, and a final upload with no manifest
    // is an assembly its relay never finished recording: both expire like unfinished uploads.
    const waiting = isPartialUpload(upload) || (partsOfFinal(upload) !== null && !manifest);
    if (upload && upload.size !== undefined && upload.offset === upload.size && !waiting) return false;
    // A byte may have arrived between the look that found it due and this lock.
    const last = upload?.creation_date ? Date.parse(upload.creation_date) : Number.NaN;
    if (Number.isFinite(last) && !this.isDue(last)) return false;
    await store.discard(id);
    await manifests.remove(id);
    if (await lifecycle.fail(id, EXPIRED, ['receiving'])) {
      // A forward streaming it stops (or, parked, runs now) and deletes the video it made.
      await this.deps.feed.stopped(id).catch(() => {});
      if (await this.deps.feed.unpark(id).catch(() => false))
        await resumeParked(this.deps.queues, id).catch(() => {});
      await this.deps.feed.forget(id).catch(() => {});
    }
    return true;
  }

  /**
   * For a TUS request answered 410 (@tus/server found the upload past its expiry) or 404: is
   * the upload gone because it expired? A 410 expires it now (unless it is finished).
   */
  async explains(id: string, tusSaysGone: boolean): Promise<boolean> {
    if (tusSaysGone && (await this.expire(id))) return true;
    const job = await this.deps.jobs.get(id);
    return job?.state === 'failed' && job.error?.code === EXPIRED.code;
  }

  /** The job as it is now: a `receiving` job past its expiry is expired first. */
  async current(job: JobRecord): Promise<JobRecord> {
    if (job.state !== 'receiving') return job;
    // No file here (yet): its creation is the last activity known.
    const last = (await this.deps.store.lastActivity(job.id)) ?? Date.parse(job.created_at);
    if (!this.isDue(last)) return job;
    await this.expire(job.id);
    return (await this.deps.jobs.get(job.id)) ?? job;
  }

  /** The periodic pass over the upload dir. Returns how many uploads it removed. */
  async sweep(): Promise<number> {
    const infoIds = await uploadIdsIn(this.deps.uploadDir);
    let removed = 0;
    for (const id of infoIds) {
      const last =
        (await this.deps.store.lastActivity(id)) ??
        (await fs.stat(path.join(this.deps.uploadDir, `${id}.json`)).catch(() => null))?.mtimeMs;
      if (last === undefined || !this.isDue(last)) continue;
      if (await this.expire(id).catch(() => false)) removed++;
    }
    if (removed) this.deps.logger.info({ removed }, 'expired unfinished uploads');
    return removed;
  }
}
