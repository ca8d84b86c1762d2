import {
  ensureForwarding,
  ensureTracking,
  type FleetTask,
  forwardQueueOf,
  type JobRepository,
  type Logger,
  type RelayQueues,
  type UploadManifests,
} from '@gtr/core';
import { isPartialUpload } from '../ingest/concat-marks.js';
import type { RelayFileStore } from '../ingest/file-store.js';
import type { UploadQuota } from '../ingest/quota.js';
import type { Uploads } from '../ingest/uploads.js';
import type { UploadLocks } from './expiry.js';
import { openUploadsIn } from './open-uploads.js';

/** How often, and how many more times, a pass looks again at uploads a request held. */
const BUSY_RETRY_MS = 1_000;
const BUSY_ROUNDS = 5;

/** A manifest's temp file is written and renamed in milliseconds: one this old was abandoned. */
const STALE_TEMP_MS = 30_000;

export interface ReconcileReport {
  /** Jobs rebuilt from manifests because Redis did not have them. */
  restored: number;
  /** Completed uploads or queued jobs that were put (back) on a queue. */
  enqueued: number;
}

export interface ReconcilerDeps {
  jobs: JobRepository;
  manifests: UploadManifests;
  store: RelayFileStore;
  uploads: Uploads;
  /** Its places are recomputed from the upload dir each pass (a relay may have died holding one). */
  quota?: UploadQuota;
  locks: UploadLocks;
  queues: Pick<RelayQueues, 'forward' | 'import' | 'track'>;
  logger: Logger;
  /** Makes the passes of all relays on one Redis take turns (and skip when one just ran). */
  fleet?: FleetTask;
}

/**
 * Makes Redis agree with the disk: no finished upload is left without a queued job, whatever
 * happened when its last byte arrived (Redis down, a crash, Redis losing its data). Runs at
 * start, every minute, and whenever Redis comes back.
 */
export class Reconciler {
  private running: Promise<ReconcileReport> | null = null;

  constructor(private readonly deps: ReconcilerDeps) {}

  /**
   * One pass; concurrent callers share it. With a fleet lease, one relay of the fleet runs at a
   * time: `scheduled` (the periodic timer) also skips when another relay ran a pass recently,
   * `now` (start, Redis back, a caller) only while one is running. A skipped pass reports zeros.
   */
  run(when: 'scheduled' | 'now' = 'now'): Promise<ReconcileReport> {
    const { fleet } = this.deps;
    this.running ??= (
      fleet
        ? fleet
            .run((_signal, again) => this.pass(again), when)
            .then((report) => report ?? { restored: 0, enqueued: 0 })
        : this.pass()
    ).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(again: () => void = () => {}): Promise<ReconcileReport> {
    const report: ReconcileReport = { restored: 0, enqueued: 0 };
    // A relay or worker killed while writing a manifest leaves its temp file behind.
    const swept = await this.deps.manifests.sweepTemp(STALE_TEMP_MS).catch(() => 0);
    if (swept > 0) this.deps.logger.info({ swept }, 'removed temp files of interrupted manifest writes');
    let pending = await this.deps.manifests.ids();
    // An upload a request holds (a client's HEAD or PATCH, often its retry right after Redis came
    // back) is looked at again shortly; one still held after that waits for the next pass.
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
      const busy: string[] = [];
      for (const id of pending) {
        try {
          // The upload's own lock, as TUS requests take it: never judged half-written.
          const lease = await this.deps.locks.tryLock(id);
          if (!lease) {
            busy.push(id);
            continue;
          }
          try {
            await this.reconcileUpload(id, report);
          } finally {
            await lease.release();
          }
        } catch (error) {
          again();
          this.deps.logger.warn(
            { err: error, uploadId: id },
            'reconcile failed for one upload; next pass retries',
          );
        }
      }
      pending = busy;
      if (busy.length > 0 && round >= BUSY_ROUNDS) {
        this.deps.logger.info({ busy: busy.length }, 'uploads in use are left for the next reconcile pass');
        again();
        break;
      }
    }
    // Jobs Redis holds as queued but BullMQ lost (e.g. imports after a Redis restore).
    for (const id of await this.deps.jobs.idsInState('queued', 10_000)) {
      const job = await this.deps.jobs.get(id);
      if (!job || job.kind === 'upload') continue;
      if (!(await forwardQueueOf(this.deps.queues, job.kind, job.request.via).getJob(id))) {
        await ensureForwarding(this.deps.queues, id, job.kind, job.request.via);
        report.enqueued++;
      }
    }
    if (report.restored || report.enqueued)
      this.deps.logger.info(report, 'reconciled uploads with the queue');
    await this.reconcileQuota(again);
    return report;
  }

  /** The quota's places held by uploads no longer open (or open ones holding none) are put right. */
  private async reconcileQuota(again: () => void): Promise<void> {
    if (!this.deps.quota) return;
    try {
      const fixed = await this.deps.quota.reconcile(await openUploadsIn(this.deps.store));
      if (fixed.adopted || fixed.released) this.deps.logger.info(fixed, 'reconciled the upload quotas');
    } catch (error) {
      again();
      this.deps.logger.warn({ err: error }, 'upload quotas not reconciled; next pass retries');
    }
  }

  private async reconcileUpload(id: string, report: ReconcileReport): Promise<void> {
    const manifest = await this.deps.manifests.read(id);
    if (!manifest) return;
    const job = await this.deps.jobs.get(id);
    const upload = await this.deps.store.getUpload(id).catch(() => null);
    // A partial upload (TUS concatenation) is never a job of its own, finished or not.
    if (isPartialUpload(upload)) return;
    const complete =
      manifest.completed_at !== null ||
      (upload !== null && upload.size !== undefined && upload.offset === upload.size);

    if (!complete) {
      if (!job && upload) {
        await this.deps.uploads.restoreJob(manifest, 'receiving');
        await this.deps.jobs.update(id, { bytes_received: upload.offset }, { onlyFrom: ['receiving'] });
        report.restored++;
      }
      return;
    }
    if (manifest.uploaded_at) {
      // Gcore has the bytes; only the processing remains to be followed.
      if (!job) {
        await this.deps.uploads.restoreJob(manifest, 'processing');
        await ensureTracking(this.deps.queues, id);
        report.restored++;
      }
      return;
    }
    if (!job) {
      await this.deps.uploads.queueCompleted({ ...manifest, size: manifest.size ?? upload?.size ?? null });
      report.restored++;
      report.enqueued++;
      return;
    }
    if (job.state === 'receiving' || job.state === 'queued') {
      const before = await this.deps.queues.forward.getJob(id);
      // A forward BullMQ ended (failed, or done with nothing to do) while the job still waits:
      // nobody would pick it up again.
      const ended = before ? ['failed', 'completed'].includes(await before.getState()) : true;
      if (job.state === 'receiving' || ended) {
        await this.deps.uploads.queueCompleted({ ...manifest, size: manifest.size ?? upload?.size ?? null });
        report.enqueued++;
      }
    }
  }
}
