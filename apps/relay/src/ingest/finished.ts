import type { JobRecord, JobRepository } from '@gtr/core';
import { ERRORS } from '@tus/utils';

export interface FinishedUploadsDeps {
  jobs: Pick<JobRepository, 'get'>;
  /** FINISHED_UPLOAD_RETENTION, counted from the last byte. */
  retentionMs: number;
  now?: () => number;
}

/**
 * Uploads whose every byte arrived, as their job remembers them once the worker forwarded and
 * removed the file: a client that resumes such an upload (Uppy and tus-js-client keep its URL)
 * must learn that it is done, not start it again and make a second video. The job (in Redis, so
 * any relay of a fleet answers alike) is the upload's memory: its id is the upload id.
 */
export class FinishedUploads {
  private readonly now: () => number;

  constructor(private readonly deps: FinishedUploadsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The length of upload `id` if it finished less than FINISHED_UPLOAD_RETENTION ago, else null. */
  async lengthOf(id: string): Promise<number | null> {
    const job = await this.deps.jobs.get(id);
    return job ? finishedLength(job, this.now() - this.deps.retentionMs) : null;
  }
}

/**
 * An upload job that left `receiving` with all its bytes (`received_at` is set then, and only
 * then) at or after `since`. One that expired or was canceled while receiving never has it.
 */
export function finishedLength(job: JobRecord, since: number): number | null {
  if (job.kind !== 'upload' || job.state === 'receiving' || job.size === null || !job.received_at) {
    return null;
  }
  if (job.state === 'failed' && job.error?.code === 'UPLOAD_EXPIRED') return null;
  return Date.parse(job.received_at) >= since ? job.size : null;
}

/**
 * What a finished upload's URL answers once its file is gone, as @tus/server answers while the
 * file is there: HEAD 200 with `Upload-Offset` = `Upload-Length` (no `Upload-Expires`, no
 * `Upload-Metadata`: the metadata went with the file, the job keeps what the relay read of it);
 * PATCH at that offset without a body 204, at another offset 409, with a body 413; DELETE 400
 * (finished uploads are not terminated). Errors in @tus/server's words: the caller renders them.
 * `tusAnswer` (the 404/410 @tus/server gave) lends its CORS and `Tus-Resumable` headers.
 */
export function answerFinished(
  req: { method: string; get(name: string): string | undefined },
  length: number,
  tusAnswer: Response,
): Response {
  const headers = new Headers(tusAnswer.headers);
  headers.delete('Content-Length');
  headers.delete('Content-Type');
  headers.delete('Upload-Expires');
  const fail = ({ status_code, body }: { status_code: number; body: string }) =>
    new Response(body, { status: status_code, headers });
  if (req.method === 'DELETE') return fail(ERRORS.INVALID_TERMINATION);
  if (req.method === 'PATCH') {
    if (Number(req.get('upload-offset')) !== length) return fail(ERRORS.INVALID_OFFSET);
    if (Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined) {
      return fail(ERRORS.ERR_SIZE_EXCEEDED);
    }
    headers.delete('Connection');
    headers.set('Upload-Offset', String(length));
    return new Response(null, { status: 204, headers });
  }
  headers.delete('Connection');
  headers.set('Cache-Control', 'no-store');
  headers.set('Upload-Offset', String(length));
  headers.set('Upload-Length', String(length));
  return new Response(null, { status: 200, headers });
}
