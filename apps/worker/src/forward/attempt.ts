import {
  AppError,
  type ForwardProgress,
  type JobPatch,
  type JobRecord,
  type UploadManifest,
} from '@gtr/core';
import type { WorkerContext } from '../context.js';
import { toJobVideo } from '../outcome.js';

/** The job was canceled (or taken by another path) while this attempt ran: stop quietly. */
export class JobCanceledError extends AppError {
  constructor() {
    super('JOB_CANCELED', 'the job was canceled', 409);
    this.name = 'JobCanceledError';
  }
}

/**
 * One forward attempt of one job: what each step reads (the job as the attempt started, the
 * progress so far, the abort signal) and the two ways it saves (Redis first, then the upload's
 * manifest on disk). The steps themselves live one per file beside this one.
 */
export class ForwardAttempt {
  progress: ForwardProgress;
  readonly id: string;

  constructor(
    readonly ctx: WorkerContext,
    readonly record: JobRecord,
    readonly signal: AbortSignal,
    /** Called whenever bytes reach Gcore: the 429 streak is over. */
    readonly onMoving: () => void,
  ) {
    this.progress = { ...record.progress };
    this.id = record.id;
  }

  /**
   * Into `creating` or `uploading`; a job canceled meanwhile stops the attempt. A streamed upload
   * stays `receiving` until the relay has its last byte (stream-source.ts moves it on then).
   */
  async moveTo(state: 'creating' | 'uploading'): Promise<void> {
    for (let looks = 0; looks < 2; looks++) {
      if (await this.ctx.lifecycle.advance(this.id, state)) return;
      const current = await this.ctx.jobs.get(this.id);
      if (current?.state === 'receiving' && this.record.kind === 'upload') return;
      // Left `receiving` between the two looks: advance again.
      if (current?.state !== 'queued') break;
    }
    throw new JobCanceledError();
  }

  /** Whether the upload was still arriving when this attempt started. */
  get streaming(): boolean {
    return this.record.state === 'receiving';
  }

  /** Saves the progress (and `extra`) in Redis. */
  async save(extra: JobPatch = {}): Promise<void> {
    await this.ctx.jobs.update(this.id, { ...extra, progress: this.progress });
  }

  /** Mirrors a resume point into the upload's manifest on disk (the copy Redis can be rebuilt from). */
  async saveManifest(patch: Partial<Omit<UploadManifest, 'id'>>): Promise<void> {
    await this.ctx.manifests.update(this.id, patch);
  }

  async saveVideo(video: { id: number; client_id?: number | null }): Promise<void> {
    this.progress.video_id = video.id;
    this.progress.client_id = video.client_id ?? null;
    await this.save({ video: toJobVideo(video as Parameters<typeof toJobVideo>[0]) });
    // Gcore's webhooks name only the video: this finds the job again (apps/relay/src/hooks.ts).
    await this.ctx.jobs.indexVideo(video.id, this.id);
    await this.saveManifest({ video_id: video.id, client_id: this.progress.client_id });
  }
}
