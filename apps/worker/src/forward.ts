import fs from 'node:fs/promises';
import {
  AppError,
  downloadToFile,
  emptyProgress,
  ensureTracking,
  type ForwardJobData,
  type ForwardJobName,
  type ForwardProgress,
  type JobRecord,
  type JobState,
  notifyIfWanted,
  parseHeaderLines,
  QUEUES,
  uploadPaths,
} from '@gtr/core';
import { type CreateVideoFields, chooseUploadEndpoint, forwardFile, GcoreTokenError } from '@gtr/gcore';
import { DelayedError, type Job, RateLimitError, UnrecoverableError } from 'bullmq';
import type { WorkerContext } from './context.js';
import { classify, RateLimitBackoff } from './failures.js';
import { finishJob, isRejectedByGcore, toJobVideo } from './outcome.js';

/** States in which a job is the forward queue's to move on. */
export const FORWARDING: readonly JobState[] = ['queued', 'creating', 'uploading'];

type ForwardJob = Job<ForwardJobData, unknown, ForwardJobName>;

/**
 * The forward queue's processor: each step's result is saved before the next step starts, so a
 * retry, a crash or a restart continues where it stopped — never a second Gcore video for one
 * job, never more than one chunk sent twice.
 */
export function forwardProcessor(ctx: WorkerContext) {
  const backoff = new RateLimitBackoff();

  return async (job: ForwardJob, token?: string): Promise<void> => {
    const id = job.data.id;
    if (ctx.cancels.stopping) {
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (job.name === 'delete-video') {
      await deleteVideoOf(ctx, id);
      return;
    }
    const record = await ctx.jobs.get(id);
    if (!record) {
      ctx.logger.warn({ jobId: id }, 'forward job has no job record; nothing to do');
      return;
    }
    if (record.state === 'canceled') {
      await afterCancel(ctx, record);
      return;
    }
    if (!FORWARDING.includes(record.state)) {
      if (record.state === 'processing') await ensureTracking(ctx.queues, id);
      return;
    }

    const { signal, release } = ctx.cancels.register(id);
    try {
      const started = await ctx.jobs.update(id, { attempts: job.attemptsMade + 1 }, { onlyFrom: FORWARDING });
      if (!started) return;
      ctx.metrics.forwardsStarted.inc();
      const step = new Steps(ctx, started, signal, () => backoff.reset());
      if (job.name === 'import') await step.runImport();
      else await step.runUpload();
      backoff.reset();
    } catch (error) {
      const canceled = error instanceof AppError && error.code === 'JOB_CANCELED';
      if (canceled || signal.aborted) {
        if (canceled || signal.reason === 'canceled') {
          const current = await ctx.jobs.get(id);
          if (current) await afterCancel(ctx, current);
          return;
        }
        // Shutdown: back to the queue at once, without spending an attempt; the next worker resumes.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      await handleFailure(ctx, job, error, backoff);
    } finally {
      release();
    }
  };
}

async function handleFailure(
  ctx: WorkerContext,
  job: ForwardJob,
  error: unknown,
  backoff: RateLimitBackoff,
): Promise<never> {
  const id = job.data.id;
  const { error: jobError, rateLimitMs } = classify(error);
  if (rateLimitMs !== undefined) {
    const waitMs = backoff.next(rateLimitMs >= 0 ? rateLimitMs : undefined);
    // Everyone waits: the API pace for every process, and this queue for every worker.
    await ctx.pacer.pushBack(waitMs);
    await (job.queueName === QUEUES.import ? ctx.queues.import : ctx.queues.forward).rateLimit(waitMs);
    await ctx.jobs.update(
      id,
      {
        state: 'queued',
        error: {
          ...jobError,
          message: `Gcore asked to slow down; continuing in ${Math.ceil(waitMs / 1000)} s`,
        },
      },
      { onlyFrom: FORWARDING },
    );
    ctx.logger.info({ jobId: id, waitMs }, 'rate limited by Gcore; queue paused');
    throw new RateLimitError();
  }
  const attempts = job.opts.attempts ?? 1;
  if (jobError.retryable && job.attemptsMade + 1 < attempts) {
    await ctx.jobs.update(id, { state: 'queued', error: jobError }, { onlyFrom: FORWARDING });
    ctx.metrics.retries.inc({ code: jobError.code });
    ctx.logger.warn(
      { jobId: id, code: jobError.code, attempt: job.attemptsMade + 1 },
      'forward failed; will retry',
    );
    throw error instanceof Error ? error : new Error(String(error));
  }
  const failed = await ctx.jobs.update(id, { state: 'failed', error: jobError }, { onlyFrom: FORWARDING });
  if (failed) await notifyIfWanted(ctx.queues, failed);
  ctx.metrics.forwardsFailed.inc({ code: jobError.code });
  ctx.logger.warn({ jobId: id, code: jobError.code, message: jobError.message }, 'forward failed');
  throw new UnrecoverableError(jobError.message);
}

/** One forward attempt of one job. */
class Steps {
  private progress: ForwardProgress;
  private readonly id: string;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly record: JobRecord,
    private readonly signal: AbortSignal,
    private readonly onMoving: () => void,
  ) {
    this.progress = { ...record.progress };
    this.id = record.id;
  }

  async runUpload(knownSize: number | null = this.record.size): Promise<void> {
    const { ctx } = this;
    const file = uploadPaths(ctx.uploadDir, this.id).data;
    const size = knownSize ?? (await fs.stat(file)).size;
    if (this.progress.video_id !== null && isRejectedByGcore(this.record.video)) await this.startOver();
    if (this.progress.uploaded_at === null) {
      const stat = await fs.stat(file);
      if (stat.size < size) {
        throw new AppError(
          'FILE_INCOMPLETE',
          'the local file is shorter than the upload; upload it again',
          409,
        );
      }
    }
    await this.ensureVideo();
    if (this.progress.uploaded_at === null) await this.sendFile(file, size);
    await this.handOver(size);
  }

  async runImport(): Promise<void> {
    if ((this.record.request.via ?? 'gcore') === 'relay') {
      // For sources Gcore cannot reach: the relay fetches the file, then forwards it like an upload.
      const size = this.progress.uploaded_at === null ? await this.pullThroughRelay() : this.record.size;
      await this.runUpload(size);
      return;
    }
    if (this.progress.video_id !== null && isRejectedByGcore(this.record.video)) await this.startOver();
    await this.ensureVideo(this.record.origin_url ? { origin_url: this.record.origin_url } : {});
    await this.handOver(this.record.size);
  }

  /** Downloads the origin to the upload dir (resuming a partial file with Range); returns its size. */
  private async pullThroughRelay(): Promise<number> {
    const { ctx } = this;
    let lastWrite = 0;
    const result = await downloadToFile(this.record.origin_url!, uploadPaths(ctx.uploadDir, this.id).data, {
      allowPrivate: ctx.settings.importAllowPrivate,
      ...(ctx.settings.maxUploadSize > 0 ? { maxBytes: ctx.settings.maxUploadSize } : {}),
      headers: parseHeaderLines(this.record.request.fields.origin_http_headers),
      signal: this.signal,
      onProgress: (bytes) => {
        const now = ctx.now();
        if (now - lastWrite < 500) return;
        lastWrite = now;
        ctx.jobs.update(this.id, { bytes_received: bytes }).catch(() => {});
      },
    });
    await ctx.jobs.update(this.id, { size: result.bytes, bytes_received: result.bytes });
    ctx.logger.info(
      { jobId: this.id, bytes: result.bytes, resumed: result.resumed },
      'origin downloaded by the relay',
    );
    return result.bytes;
  }

  /** A retry after Gcore refused the file (e.g. `File Invalid`): a fresh entity, a fresh upload. */
  private async startOver(): Promise<void> {
    const videoId = this.progress.video_id!;
    await this.ctx.gcore.deleteVideo(videoId, { ignoreNotFound: true, signal: this.signal });
    this.progress = emptyProgress();
    await this.save({ video: null, bytes_forwarded: 0 });
    await this.ctx.records.update(this.id, {
      video_id: null,
      client_id: null,
      upload_url: null,
      uploaded_at: null,
    });
    this.ctx.logger.info({ jobId: this.id, videoId }, 'deleted the video Gcore refused; starting over');
  }

  private async ensureVideo(extra: Partial<CreateVideoFields> = {}): Promise<void> {
    if (this.progress.video_id !== null) return;
    await this.moveTo('creating');
    const fields = {
      name: this.record.name,
      ...(this.record.request.description ? { description: this.record.request.description } : {}),
      ...this.record.request.fields,
      ...extra,
    } as CreateVideoFields;

    if (this.progress.create_started_at !== null) {
      const orphan = await this.findOrphan(fields.name, this.progress.create_started_at);
      if (orphan) {
        this.ctx.logger.info(
          { jobId: this.id, videoId: orphan.id },
          'adopted the video an earlier attempt created',
        );
        await this.saveVideo(orphan);
        return;
      }
    }
    this.progress.create_started_at = this.ctx.now();
    await this.save();
    // Imports come in crowds (migrations): their creates share Gcore's batch endpoint.
    const video =
      this.record.kind === 'import' && fields.origin_url
        ? await this.ctx.creator.create(fields)
        : await this.ctx.gcore.createVideo(fields, { signal: this.signal });
    await this.saveVideo(video);
    this.ctx.logger.info({ jobId: this.id, videoId: video.id }, 'Gcore video created');
  }

  /** The video a create call made before its answer (or our save of it) was lost. */
  private async findOrphan(name: string, since: number) {
    const candidates = await this.ctx.gcore.listVideos(
      { search: name, per_page: 100 },
      { signal: this.signal },
    );
    return candidates
      .filter(
        (v) =>
          v.name === name &&
          v.status === 'empty' &&
          !v.error &&
          Date.parse(v.created_at ?? '') >= since - 60_000 &&
          (this.record.origin_url === null || v.origin_url === this.record.origin_url),
      )
      .sort((a, b) => Date.parse(a.created_at ?? '') - Date.parse(b.created_at ?? ''))[0];
  }

  private async saveVideo(video: { id: number; client_id?: number | null }): Promise<void> {
    this.progress.video_id = video.id;
    this.progress.client_id = video.client_id ?? null;
    await this.save({ video: toJobVideo(video as Parameters<typeof toJobVideo>[0]) });
    await this.ctx.records.update(this.id, { video_id: video.id, client_id: this.progress.client_id });
  }

  private async sendFile(file: string, size: number): Promise<void> {
    const { ctx } = this;
    await this.moveTo('uploading');
    let acknowledged = 0;
    let lastWrite = 0;
    for (let tokenTries = 0; ; tokenTries++) {
      await this.ensureUploadParams(tokenTries > 0);
      try {
        const result = await forwardFile({
          filePath: file,
          endpoint: this.progress.endpoint!,
          ...(this.progress.upload_url ? { uploadUrl: this.progress.upload_url } : {}),
          size,
          chunkSize: ctx.settings.chunkSize,
          stallTimeoutMs: ctx.settings.stallTimeoutMs,
          // A 429 on a PATCH pauses the whole queue (handleFailure), not just this upload.
          maxRateLimitWaitMs: 0,
          metadata: {
            filename: this.record.filename ?? `${this.id}.mp4`,
            ...(this.record.request.filetype ? { filetype: this.record.request.filetype } : {}),
            token: this.progress.token!,
            video_id: this.progress.video_id!,
            client_id: this.progress.client_id ?? '',
          },
          signal: this.signal,
          onUploadUrl: async (url) => {
            this.progress.upload_url = url;
            await this.save();
            await ctx.records.update(this.id, { upload_url: url });
          },
          onProgress: (bytes) => {
            const delta = bytes - acknowledged;
            acknowledged = bytes;
            if (delta > 0) {
              this.onMoving();
              ctx.stats.recordForwarded(delta).catch(() => {});
            }
            const now = ctx.now();
            if (now - lastWrite >= 500 || bytes === size) {
              lastWrite = now;
              ctx.jobs
                .update(this.id, { bytes_forwarded: bytes }, { onlyFrom: ['uploading'] })
                .catch(() => {});
            }
          },
          onRateLimited: () => {
            ctx.metrics.rateLimited.inc({ source: 'tus' });
            ctx.stats.recordRateLimited().catch(() => {});
          },
          logger: ctx.logger,
        });
        ctx.metrics.bytesSent.inc(result.bytesSent);
        this.progress.upload_url = result.uploadUrl;
        return;
      } catch (error) {
        if (error instanceof GcoreTokenError && tokenTries < 2) {
          ctx.logger.info(
            { jobId: this.id, kind: error.kind },
            'Gcore refused the TUS token; fetching fresh parameters',
          );
          this.progress.token = null;
          continue;
        }
        if (error instanceof Error && 'status' in error && (error as { status?: number }).status === 429) {
          ctx.metrics.rateLimited.inc({ source: 'tus' });
          ctx.stats.recordRateLimited().catch(() => {});
        }
        throw error;
      }
    }
  }

  /** Upload parameters (servers + a 4-hour token), fetched again when old or refused. */
  private async ensureUploadParams(refresh: boolean): Promise<void> {
    const age =
      this.progress.token_at === null ? Number.POSITIVE_INFINITY : this.ctx.now() - this.progress.token_at;
    if (!refresh && this.progress.token && this.progress.endpoint && age < this.ctx.settings.tokenMaxAgeMs)
      return;
    const params = await this.ctx.gcore.getUploadParams(this.progress.video_id!, { signal: this.signal });
    this.progress.token = params.token;
    this.progress.token_at = this.ctx.now();
    this.progress.endpoint = chooseUploadEndpoint(params);
    this.progress.client_id = params.video?.client_id ?? this.progress.client_id;
    await this.save();
  }

  /** Gcore has the bytes (or is pulling them): processing is followed by the light track queue. */
  private async handOver(size: number | null): Promise<void> {
    const { ctx } = this;
    const now = ctx.now();
    if (this.record.kind === 'upload' && this.progress.uploaded_at === null) {
      this.progress.uploaded_at = now;
      ctx.metrics.forwardsFinished.inc();
      await ctx.records.update(this.id, { uploaded_at: new Date(now).toISOString() });
    }
    // The token is only needed to start a TUS session; drop the secret once it is done.
    this.progress.token = null;
    const moved = await ctx.jobs.update(
      this.id,
      {
        state: 'processing',
        progress: this.progress,
        error: null,
        ...(size !== null ? { bytes_forwarded: size } : {}),
      },
      { onlyFrom: FORWARDING },
    );
    if (!moved) return;
    if (ctx.settings.completeOn === 'uploaded' && this.record.kind === 'upload') {
      await finishJob(ctx, this.id);
      return;
    }
    await ensureTracking(ctx.queues, this.id);
  }

  private async moveTo(state: 'creating' | 'uploading'): Promise<void> {
    const moved = await this.ctx.jobs.update(this.id, { state, error: null }, { onlyFrom: FORWARDING });
    if (!moved) throw new AppError('JOB_CANCELED', 'the job was canceled', 409);
  }

  private async save(extra: Parameters<WorkerContext['jobs']['update']>[1] = {}): Promise<void> {
    await this.ctx.jobs.update(this.id, { ...extra, progress: this.progress });
  }
}

/** After a cancel: delete the Gcore video if the tool asked for it; the files are gone already. */
async function afterCancel(ctx: WorkerContext, record: JobRecord): Promise<void> {
  if (record.delete_video && record.progress.video_id !== null) await deleteVideoOf(ctx, record.id);
}

async function deleteVideoOf(ctx: WorkerContext, id: string): Promise<void> {
  const record = await ctx.jobs.get(id);
  const videoId = record?.progress.video_id;
  if (!record || videoId === null || videoId === undefined) return;
  const existed = await ctx.gcore.deleteVideo(videoId, { ignoreNotFound: true });
  ctx.logger.info({ jobId: id, videoId, existed }, 'Gcore video deleted on cancel');
}
