import {
  AppError,
  type BatchRepository,
  emptyProgress,
  ensureForwarding,
  type JobLifecycle,
  type JobRecord,
  type JobRepository,
  type Logger,
  type NewJob,
  type Principal,
  type RelayQueues,
  type UploadManifest,
  type UploadManifests,
} from '@gtr/core';
import type { Upload } from '@tus/utils';
import type { RelayMetrics } from '../metrics.js';
import { readUploadMetadata } from './metadata.js';
import { OWNER_METADATA } from './tus.js';

export interface UploadsDeps {
  jobs: JobRepository;
  batches: BatchRepository;
  lifecycle: JobLifecycle;
  manifests: UploadManifests;
  queues: Pick<RelayQueues, 'forward' | 'import'>;
  metrics: RelayMetrics;
  logger: Logger;
  now?: () => number;
  /** How often `bytes_received` is written while bytes stream in. Default 500 ms. */
  progressIntervalMs?: number;
}

/**
 * The relay's side of each TUS upload: a job from the first byte, the manifest next to the file,
 * and a durable enqueue before the last PATCH is answered.
 */
export class Uploads {
  private readonly now: () => number;
  private readonly lastProgress = new Map<string, number>();
  private readonly progressIntervalMs: number;

  constructor(private readonly deps: UploadsDeps) {
    this.now = deps.now ?? Date.now;
    this.progressIntervalMs = deps.progressIntervalMs ?? 500;
  }

  /**
   * Called before anything is stored: refuses bad metadata with nothing written, and a `batch`
   * that does not exist or that this principal may not see (a tool joins only its own).
   */
  async validate(upload: Upload, principal: Principal | undefined): Promise<void> {
    const { batch } = readUploadMetadata(upload.metadata);
    if (batch === null) return;
    const found = await this.deps.batches.get(batch);
    if (!found || (principal?.role === 'tool' && found.owner !== principal.name)) {
      throw new AppError('INVALID_FIELD', `batch: no batch with id "${batch}"`, 400);
    }
  }

  /** The file exists: write the manifest, then the job. Throwing makes the store undo the file. */
  async created(upload: Upload): Promise<void> {
    const intent = readUploadMetadata(upload.metadata);
    const created_at = new Date(
      upload.creation_date ? Date.parse(upload.creation_date) : this.now(),
    ).toISOString();
    const manifest: UploadManifest = {
      id: upload.id,
      kind: 'upload',
      name: intent.name,
      filename: intent.filename,
      size: upload.size ?? null,
      created_at,
      request: intent.request,
      completed_at: null,
      video_id: null,
      client_id: null,
      upload_url: null,
      uploaded_at: null,
      owner: upload.metadata?.[OWNER_METADATA] ?? null,
      ...(intent.batch ? { batch: intent.batch } : {}),
    };
    await this.deps.manifests.write(manifest);
    try {
      await this.restoreJob(manifest, 'receiving');
    } catch (error) {
      await this.deps.manifests.remove(upload.id);
      this.deps.logger.error({ err: error, uploadId: upload.id }, 'could not record the job; upload refused');
      throw new AppError(
        'QUEUE_UNAVAILABLE',
        'the relay cannot record jobs right now; try again shortly',
        503,
        true,
      );
    }
    this.deps.metrics.uploadsCreated.inc({ owner: manifest.owner ?? 'unknown' });
    this.deps.logger.info(
      { uploadId: upload.id, size: upload.size ?? null, name: intent.name, owner: manifest.owner },
      'upload created',
    );
  }

  /** Throttled while bytes stream in (Redis need not see each chunk); always written when a PATCH ends. */
  progress(id: string, offset: number, settled: boolean): void {
    const now = this.now();
    const last = this.lastProgress.get(id) ?? 0;
    if (!settled && now - last < this.progressIntervalMs) return;
    this.lastProgress.set(id, now);
    this.deps.jobs.update(id, { bytes_received: offset }, { onlyFrom: ['receiving'] }).catch(() => {
      // Progress is advisory; the final state is written durably in finished().
    });
  }

  /**
   * The last byte is on disk. Mark the manifest complete first (so the reconciler finds it even if
   * Redis is down), then queue the job. An error here reaches the client as a 5xx that its retry
   * cannot see (the upload is complete), hence the reconciler.
   */
  async finished(upload: Upload): Promise<void> {
    const size = upload.size ?? upload.offset;
    this.lastProgress.delete(upload.id);
    const manifest = await this.deps.manifests
      .update(upload.id, { completed_at: new Date(this.now()).toISOString(), size })
      .catch(async (error: unknown) => {
        // The last byte filled the disk: the bytes are all there (the reconciler also goes by
        // the file's length), so queue it; forwarding is what frees the disk again.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOSPC' && code !== 'EDQUOT') throw error;
        this.deps.logger.warn({ uploadId: upload.id }, 'upload dir is full: manifest not marked complete');
        const current = await this.deps.manifests.read(upload.id);
        return current && { ...current, size };
      });
    this.deps.metrics.uploadsFinished.inc({ owner: upload.metadata?.[OWNER_METADATA] ?? 'unknown' });
    if (!manifest) {
      this.deps.logger.warn(
        { uploadId: upload.id },
        'finished upload has no manifest; the reconciler will look at it',
      );
      return;
    }
    await this.queueCompleted(manifest);
    this.deps.logger.info({ uploadId: upload.id, size }, 'upload finished and queued');
  }

  /** A completed upload's job is `queued` and on the forward queue, whatever Redis had before. */
  async queueCompleted(manifest: UploadManifest): Promise<void> {
    const size = manifest.size ?? 0;
    const updated = await this.deps.lifecycle.queue(manifest.id, { bytes_received: size, size });
    if (!updated) {
      const existing = await this.deps.jobs.get(manifest.id);
      if (!existing) await this.restoreJob(manifest, 'queued');
      else if (existing.state !== 'queued') return;
    }
    await ensureForwarding(this.deps.queues, manifest.id, 'upload');
  }

  /** The tool terminated its upload (TUS DELETE of an unfinished upload). */
  async terminated(id: string): Promise<void> {
    this.lastProgress.delete(id);
    await this.deps.manifests.remove(id);
    await this.deps.lifecycle
      .cancel(id, { from: ['receiving'] })
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, uploadId: id }, 'could not mark terminated job'),
      );
    this.deps.logger.info({ uploadId: id }, 'upload terminated by the client');
  }

  /** A creation was refused after its files existed (the store removed them): remove its manifest and job. */
  async abandoned(id: string): Promise<void> {
    this.lastProgress.delete(id);
    await this.deps.manifests.remove(id);
    await this.deps.jobs.remove(id);
    this.deps.logger.info({ uploadId: id }, 'refused upload removed');
  }

  /** Creates the job for a manifest (new upload, or rebuilt after Redis lost it). */
  async restoreJob(
    manifest: UploadManifest,
    state: 'receiving' | 'queued' | 'processing',
  ): Promise<JobRecord> {
    const job = {
      id: manifest.id,
      kind: manifest.kind,
      state,
      name: manifest.name,
      filename: manifest.filename,
      size: manifest.size,
      origin_url: null,
      request: manifest.request,
      progress: {
        ...emptyProgress(),
        video_id: manifest.video_id,
        client_id: manifest.client_id,
        upload_url: manifest.upload_url,
        uploaded_at: manifest.uploaded_at ? Date.parse(manifest.uploaded_at) : null,
      },
      bytes_received: state === 'receiving' ? 0 : (manifest.size ?? 0),
      created_at: manifest.created_at,
      owner: manifest.owner ?? null,
      batch: manifest.batch ?? null,
    } satisfies NewJob;
    try {
      return (await this.deps.jobs.create(job)).record;
    } catch (error) {
      // The batch was removed meanwhile (JOB_RETENTION): the upload goes on without one.
      if (!(error instanceof AppError && error.code === 'BATCH_NOT_FOUND')) throw error;
      return (await this.deps.jobs.create({ ...job, batch: null })).record;
    }
  }
}
