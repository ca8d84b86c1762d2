import { forwardFile, GcoreError, GcoreTokenError, IntegrityMismatchError } from '@gtr/gcore';
import type { ForwardAttempt } from './attempt.js';
import { checkIntegrityFirst, forgetGcoreUpload } from './integrity.js';
import { streamSource } from './stream-source.js';
import { ensureUploadParams } from './upload-params.js';

/**
 * Step 3: the local file to Gcore's TUS server, resuming from the saved upload URL (at most the
 * chunk in flight is sent twice). A refused token fetches fresh parameters and resumes.
 */
export async function sendFile(attempt: ForwardAttempt, file: string, size: number): Promise<void> {
  const { ctx, record, progress } = attempt;
  await checkIntegrityFirst(attempt, file, size);
  await attempt.moveTo('uploading');
  // Streaming, the relay's digest is known only once it has recorded the upload complete: the
  // last piece to Gcore waits for that (and is checked against it).
  const stream = attempt.streaming ? streamSource(attempt) : undefined;
  // The job turns `uploading` the moment the relay has it all, while the tail still goes out.
  stream?.completed().catch(() => {});
  let acknowledged = 0;
  let lastWrite = 0;
  const rateLimited = () => {
    ctx.metrics.rateLimited.inc({ source: 'tus' });
    ctx.stats.recordRateLimited().catch(() => {});
  };
  try {
    for (let tokenTries = 0; ; tokenTries++) {
      await ensureUploadParams(attempt, tokenTries > 0);
      try {
        const result = await forwardFile({
          filePath: file,
          endpoint: progress.endpoint!,
          ...(progress.upload_url ? { uploadUrl: progress.upload_url } : {}),
          size,
          ...(stream
            ? { available: stream.available, sha256: () => stream.completed() }
            : record.sha256
              ? { sha256: record.sha256 }
              : {}),
          chunkSize: ctx.settings.chunkSize,
          stallTimeoutMs: ctx.settings.stallTimeoutMs,
          // A 429 on a PATCH pauses the whole queue (the processor's rate-limit pause), not just this upload.
          maxRateLimitWaitMs: 0,
          metadata: {
            filename: record.filename ?? `${attempt.id}.mp4`,
            ...(record.request.filetype ? { filetype: record.request.filetype } : {}),
            token: progress.token!,
            video_id: progress.video_id!,
            client_id: progress.client_id ?? '',
          },
          signal: attempt.signal,
          onUploadUrl: async (url) => {
            progress.upload_url = url;
            await attempt.save();
            await attempt.saveManifest({ upload_url: url });
          },
          onProgress: (bytes) => {
            const delta = bytes - acknowledged;
            acknowledged = bytes;
            if (delta > 0) {
              attempt.onMoving();
              ctx.stats.recordForwarded(delta).catch(() => {});
            }
            const now = ctx.now();
            if (now - lastWrite >= 500 || bytes === size) {
              lastWrite = now;
              ctx.jobs
                .update(
                  attempt.id,
                  { bytes_forwarded: bytes },
                  { onlyFrom: ['receiving', 'queued', 'uploading'] },
                )
                .catch(() => {});
            }
          },
          onRateLimited: rateLimited,
          logger: ctx.logger,
        });
        ctx.metrics.bytesSent.inc(result.bytesSent);
        progress.upload_url = result.uploadUrl;
        return;
      } catch (error) {
        if (error instanceof GcoreTokenError && tokenTries < 2) {
          ctx.logger.info(
            { jobId: attempt.id, kind: error.kind },
            'Gcore refused the TUS token; fetching fresh parameters',
          );
          progress.token = null;
          continue;
        }
        if (error instanceof GcoreError && error.status === 429) rateLimited();
        if (error instanceof IntegrityMismatchError) await forgetGcoreUpload(attempt);
        throw error;
      }
    }
  } finally {
    stream?.close();
  }
}
