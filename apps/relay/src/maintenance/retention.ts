import type { BatchRepository, JobRepository, Logger, UploadManifests } from '@gtr/core';
import type { RelayFileStore } from '../ingest/file-store.js';

export interface RetentionDeps {
  /** `JOB_RETENTION`: how long a finished job (or batch) is kept. */
  retentionMs: number;
  jobs: JobRepository;
  batches: BatchRepository;
  manifests: UploadManifests;
  store: RelayFileStore;
  logger: Logger;
  now?: () => number;
}

/** Most jobs one pass removes: the rest is left for the next pass (which then comes sooner). */
const MAX_PER_PASS = 20_000;

/**
 * Removes jobs that reached a final state more than JOB_RETENTION ago, with every index entry
 * of them — and batches whose last job did, with all their jobs (a batch's jobs stay as long
 * as the batch, so its export is whole until the batch goes). An upload's leftover file and
 * manifest go first, so that the reconciler never rebuilds a removed job from them. Runs once
 * per fleet (a FleetTask), every 10 minutes by default.
 */
export class Retention {
  private readonly now: () => number;

  constructor(private readonly deps: RetentionDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One pass; answers how many jobs it removed, and `again()` when it left some for later. */
  async sweep(signal?: AbortSignal, again: () => void = () => {}): Promise<number> {
    const before = this.now() - this.deps.retentionMs;
    let removed = 0;
    for (;;) {
      if (signal?.aborted || removed >= MAX_PER_PASS) return this.leftover(removed, again);
      const ids = await this.deps.jobs.finishedBefore(before, 500);
      if (ids.length === 0) break;
      const kinds = new Map((await this.deps.jobs.getMany(ids)).map((r) => [r.id, r.kind]));
      // An id whose record is already gone leaves the index all the same (JobRepository.remove).
      for (const id of ids) await this.removeJob(id, kinds.get(id));
      removed += ids.length;
    }
    for (;;) {
      if (signal?.aborted || removed >= MAX_PER_PASS) return this.leftover(removed, again);
      const [batch] = await this.deps.batches.finishedBefore(before, 1);
      if (!batch) break;
      let after: number | null = null;
      for (;;) {
        const page = await this.deps.batches.jobIds(batch, after, 500);
        if (page.length === 0) break;
        after = page[page.length - 1]!.seq;
        const kinds = new Map(
          (await this.deps.jobs.getMany(page.map((p) => p.id))).map((r) => [r.id, r.kind]),
        );
        for (const { id } of page) await this.removeJob(id, kinds.get(id));
        removed += page.length;
      }
      await this.deps.batches.forget(batch);
      this.deps.logger.info({ batch }, 'batch past JOB_RETENTION removed');
    }
    if (removed > 0) this.deps.logger.info({ removed }, 'jobs past JOB_RETENTION removed');
    return removed;
  }

  private leftover(removed: number, again: () => void): number {
    again();
    this.deps.logger.info({ removed }, 'jobs past JOB_RETENTION removed; more left for the next pass');
    return removed;
  }

  private async removeJob(id: string, kind: string | undefined): Promise<void> {
    if (kind === 'upload') {
      await this.deps.manifests.remove(id).catch(() => {});
      await this.deps.store.discard(id).catch(() => {});
    }
    await this.deps.jobs.remove(id);
  }
}
