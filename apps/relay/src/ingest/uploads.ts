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
  resumeParked,
  type UploadFeed,
  type UploadManifest,
  type UploadManifests,
} from '@gtr/core';
import type { Upload } from '@tus/utils';
import type { RelayMetrics } from '../metrics.js';
import { isPartialUpload } from './concat-marks.js';
import { readUploadMetadata } from './metadata.js';
import { OWNER_METADATA } from './owner.js';
import { UNKNOWN_OWNER, type UploadQuota } from './quota.js';
import type { ReceiveHashes } from './receive-hash.js';

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
  /** Announces received offsets and stops to the forwards (streaming, cancels). */
  feed: UploadFeed;
  /**
   * FORWARD_MODE and FORWARD_CHUNK_SIZE: `stream` queues the forward of an upload of known length
   * once its first chunk is in (at once when it is smaller), and announces every further chunk.
   * Default `stream`, 10 000 000 bytes.
   */
  forward?: { mode: 'stream' | 'store'; chunkSize: number };
  /** The uploads' SHA-256 as received; null: no job gets a `sha256` (the bench's baseline). */
  hashes?: ReceiveHashes | null;
  /** Each owner's unfinished uploads, held from creation until they finish or go. */
  quota: UploadQuota;
}

/**
 * The relay's side of each TUS upload: a job from the first byte, the manifest next to the file,
 * and a durable enqueue before the last PATCH is answered.
 */
export class Uploads {
  private readonly now: () => number;
  private readonly lastProgress = new Map<string, number>();
  private readonly progressIntervalMs: number;
  private readonly streaming: boolean;
  private readonly chunkSize: number;
  /** The offset last announced per upload, so that announcements come about once a chunk. */
  private readonly announced = new Map<string, number>();
  /** Uploads whose forward this process has queued already (another relay may have, too). */
  private readonly streamed = new Set<string>();

  constructor(private readonly deps: UploadsDeps) {
    this.now = deps.now ?? Date.now;
    this.progressIntervalMs = deps.progressIntervalMs ?? 500;
    this.streaming = (deps.forward?.mode ?? 'stream') === 'stream';
    this.chunkSize = deps.forward?.chunkSize ?? 10_000_000;
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

  /**
   * The last check before anything is stored (a creation, a final upload): holds the upload's
   * place in its owner's quota, or refuses it (429 UPLOAD_QUOTA_EXCEEDED, 507
   * INSUFFICIENT_STORAGE) having held nothing. `replaces`: the partials a final upload is made of.
   */
  async reserve(
    upload: Upload,
    principal: Principal | undefined,
    replaces?: readonly string[],
  ): Promise<void> {
    await this.deps.quota.reserve({
      id: upload.id,
      owner: principal?.name ?? UNKNOWN_OWNER,
      size: upload.size,
      ...(replaces ? { replaces } : {}),
    });
  }

  /** A deferred-length upload declares its length: held against its owner's bytes and the disk, or refused. */
  async declaring(id: string, metadata: Upload['metadata'], size: number): Promise<void> {
    await this.deps.quota.declare(id, metadata?.[OWNER_METADATA] ?? UNKNOWN_OWNER, size);
  }

  /** The upload's files were removed (cancel, expiry, a refused creation, a final's partials): its place is free. */
  async discarded(id: string): Promise<void> {
    await this.release(id);
  }

  /** Never throws: a place Redis could not free now is freed by the reconciler. */
  private async release(id: string): Promise<void> {
    await this.deps.quota.release(id).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, uploadId: id }, 'quota place not released; the reconciler will');
    });
  }

  /**
   * The file exists: write the manifest, then the job. Throwing makes the store undo the file
   * (and frees its place in the quota).
   * A partial upload (concatenation) gets neither: it is a job only as part of a final upload.
   */
  async created(upload: Upload): Promise<void> {
    try {
      await this.record(upload);
    } catch (error) {
      await this.release(upload.id);
      throw error;
    }
  }

  private async record(upload: Upload): Promise<void> {
    if (isPartialUpload(upload)) {
      this.deps.logger.info({ uploadId: upload.id, size: upload.size ?? null }, 'partial upload created');
      return;
    }
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
      await this.storeJob(manifest, 'receiving', 'create');
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
   * `offset` bytes are in the file (FORWARD_MODE=stream): announced at the first bytes (which
   * start the forward), then once a chunk more is there, and whenever a write ends. What is announced mid-PATCH is what the file has
   * taken, which the next PATCH resumes from whatever becomes of this one (a cut-off request keeps
   * it). A PATCH that a checksum could still refuse as a whole must announce only on `settled`.
   */
  written(id: string, offset: number, settled: boolean): void {
    if (!this.streaming) return;
    const last = this.announced.get(id);
    if (last !== undefined && (offset <= last || (!settled && offset - last < this.chunkSize))) return;
    this.announced.set(id, offset);
    this.deps.feed
      .received(id, offset)
      .then(() => this.wakeParked(id))
      .then(() => this.startStreaming(id, offset))
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, uploadId: id }, 'received offset not announced'),
      );
  }

  /** A deferred-length upload now has one: its job shows it, and it may stream from here. */
  async lengthDeclared(id: string, size: number): Promise<void> {
    await this.deps.jobs.update(id, { size }, { onlyFrom: ['receiving'] });
    await this.deps.manifests.update(id, { size }).catch(() => {});
    const offset = this.announced.get(id);
    if (offset !== undefined) await this.startStreaming(id, offset);
  }

  /**
   * Queues the forward of an upload still arriving, once its length is known (Gcore's TUS server
   * takes no deferred length) and its first bytes are in. Not later, at its first chunk: creating
   * the video and fetching the upload parameters (two paced API calls, ~¼ s apart) then overlap
   * the first chunk's arrival, so on a link with no speed to spare Gcore is not left that much
   * behind for the whole upload. Its first PATCH to Gcore still waits for the first chunk.
   */
  private async startStreaming(id: string, offset: number): Promise<void> {
    if (!this.streaming || this.streamed.has(id)) return;
    const job = await this.deps.jobs.get(id);
    if (job?.state !== 'receiving' || job.size === null) return;
    if (offset <= 0) return;
    this.streamed.add(id);
    await ensureForwarding(this.deps.queues, id, 'upload');
    this.deps.logger.info({ uploadId: id, offset }, 'forward started while the upload arrives');
  }

  /**
   * The last byte is on disk. Mark the manifest complete first (so the reconciler finds it even if
   * Redis is down), then queue the job. An error here reaches the client as a 5xx that its retry
   * cannot see (the upload is complete), hence the reconciler.
   */
  async finished(upload: Upload): Promise<void> {
    // A finished partial waits for its final upload (or its expiry): nothing to queue, and it
    // keeps its place in the quota (it still takes the disk) until then.
    if (isPartialUpload(upload)) return;
    const size = upload.size ?? upload.offset;
    this.forgetLocal(upload.id);
    const sha256 = await this.sha256Of(upload.id, size);
    const manifest = await this.deps.manifests
      .update(upload.id, {
        completed_at: new Date(this.now()).toISOString(),
        size,
        ...(sha256 ? { sha256 } : {}),
      })
      .catch(async (error: unknown) => {
        // The last byte filled the disk: the bytes are all there (the reconciler also goes by
        // the file's length), so queue it; forwarding is what frees the disk again.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOSPC' && code !== 'EDQUOT') throw error;
        this.deps.logger.warn({ uploadId: upload.id }, 'upload dir is full: manifest not marked complete');
        const current = await this.deps.manifests.read(upload.id);
        return current && { ...current, size, ...(sha256 ? { sha256 } : {}) };
      });
    this.deps.metrics.uploadsFinished.inc({ owner: upload.metadata?.[OWNER_METADATA] ?? 'unknown' });
    // After the manifest (which must not wait on Redis) and before the answer, so that the tool
    // may create its next upload as soon as this one is answered.
    await this.release(upload.id);
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
  async queueCompleted(completed: UploadManifest): Promise<void> {
    const size = completed.size ?? 0;
    const manifest = await this.withSha256(completed, size);
    const updated = await this.deps.lifecycle.queue(manifest.id, {
      bytes_received: size,
      size,
      sha256: manifest.sha256 ?? null,
      received_at: this.receivedAt(manifest),
    });
    if (!updated) {
      const existing = await this.deps.jobs.get(manifest.id);
      if (!existing) await this.restoreJob(manifest, 'queued');
      else if (existing.state !== 'queued') return;
    }
    await ensureForwarding(this.deps.queues, manifest.id, 'upload');
    // A forward streaming this upload sends its last PATCH once it sees the job `queued`.
    if (this.streaming)
      await this.deps.feed
        .changed(manifest.id)
        .then(() => this.wakeParked(manifest.id))
        .catch((error: unknown) =>
          this.deps.logger.warn({ err: error, uploadId: manifest.id }, 'completion not announced'),
        );
  }

  /**
   * A forward the worker parked (the tool had sent nothing for a while: its slot was given back)
   * goes on now: there is more to send, the end, or a termination to act on.
   */
  private async wakeParked(id: string): Promise<void> {
    if (await this.deps.feed.unpark(id)) await resumeParked(this.deps.queues, id);
  }

  /**
   * A complete upload's manifest with its `sha256`: the finishing request put it there, else (a
   * manifest from before the field, or one the reconciler queues after a crash) the file is hashed
   * from disk now, once, and the manifest keeps it.
   */
  private async withSha256(manifest: UploadManifest, size: number): Promise<UploadManifest> {
    if (manifest.sha256 || !this.deps.hashes) return manifest;
    const sha256 = await this.sha256Of(manifest.id, size);
    if (!sha256) return manifest;
    await this.deps.manifests.update(manifest.id, { sha256 }).catch((error: unknown) => {
      this.deps.logger.warn(
        { err: error, uploadId: manifest.id },
        'could not keep the sha256 in the manifest',
      );
    });
    return { ...manifest, sha256 };
  }

  /** The finished file's SHA-256, or null when hashing is off or the file cannot be read. */
  private async sha256Of(id: string, size: number): Promise<string | null> {
    if (!this.deps.hashes) return null;
    try {
      return await this.deps.hashes.digest(id, size);
    } catch (error) {
      this.deps.logger.warn({ err: error, uploadId: id }, 'could not hash the finished upload');
      return null;
    }
  }

  /** The tool terminated its upload (TUS DELETE of an unfinished upload). */
  async terminated(id: string): Promise<void> {
    this.forgetLocal(id);
    await this.release(id);
    await this.deps.manifests.remove(id);
    // A forward may have streamed part of it: the video it created goes too.
    const canceled = await this.deps.lifecycle
      .cancel(id, { from: ['receiving'], deleteVideo: true })
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error, uploadId: id }, 'could not mark terminated job');
        return null;
      });
    if (canceled) {
      await this.deps.feed
        .stopped(id)
        .catch((error: unknown) =>
          this.deps.logger.warn({ err: error, uploadId: id }, 'forward not told of the termination'),
        );
      await this.wakeParked(id).catch(() => {});
      if (canceled.progress.video_id !== null)
        await this.deps.queues.forward
          .add('delete-video', { id }, { jobId: `delete-${id}` })
          .catch((error: unknown) =>
            this.deps.logger.warn({ err: error, uploadId: id }, 'video of a terminated upload not deleted'),
          );
    }
    await this.deps.feed.forget(id).catch(() => {});
    this.deps.logger.info({ uploadId: id }, 'upload terminated by the client');
  }

  /** A creation was refused after its files existed (the store removed them): remove its manifest and job. */
  async abandoned(id: string): Promise<void> {
    this.forgetLocal(id);
    await this.release(id);
    await this.deps.manifests.remove(id);
    await this.deps.jobs.remove(id);
    this.deps.logger.info({ uploadId: id }, 'refused upload removed');
  }

  private forgetLocal(id: string): void {
    this.lastProgress.delete(id);
    this.announced.delete(id);
    this.streamed.delete(id);
  }

  /** Rebuilds the job of a manifest after Redis lost it, in the state the manifest proves. */
  restoreJob(manifest: UploadManifest, state: 'receiving' | 'queued' | 'processing'): Promise<JobRecord> {
    return this.storeJob(manifest, state, 'restore');
  }

  /** Writes the job of a manifest: a new upload's (`create`) or a lost one's (`restore`). */
  private async storeJob(
    manifest: UploadManifest,
    state: 'receiving' | 'queued' | 'processing',
    write: 'create' | 'restore',
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
      received_at: state === 'receiving' ? null : this.receivedAt(manifest),
      sha256: manifest.sha256 ?? null,
      batch: manifest.batch ?? null,
    } satisfies NewJob;
    try {
      return (await this.deps.jobs[write](job)).record;
    } catch (error) {
      // The batch was removed meanwhile (JOB_RETENTION): the upload goes on without one.
      if (!(error instanceof AppError && error.code === 'BATCH_NOT_FOUND')) throw error;
      return (await this.deps.jobs[write]({ ...job, batch: null })).record;
    }
  }

  /** When a complete upload's last byte arrived: the manifest says (now, if it could not be marked). */
  private receivedAt(manifest: UploadManifest): string {
    return manifest.completed_at ?? new Date(this.now()).toISOString();
  }
}
