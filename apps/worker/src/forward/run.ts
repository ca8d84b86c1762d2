import fs from 'node:fs/promises';
import { AppError, ensureTracking, uploadPaths } from '@gtr/core';
import { finishJob, isRejectedByGcore } from '../outcome.js';
import type { ForwardAttempt } from './attempt.js';
import { ensureVideo, startOver } from './create-video.js';
import { pullOrigin } from './pull-origin.js';
import { sendFile } from './send-file.js';

/** An upload (or a relay-pulled import): create the video, send the file, hand over. */
export async function runUpload(
  attempt: ForwardAttempt,
  knownSize: number | null = attempt.record.size,
): Promise<void> {
  const { ctx } = attempt;
  const file = uploadPaths(ctx.uploadDir, attempt.id).data;
  // Gcore's TUS server wants Upload-Length at creation: the relay queues a deferred-length upload
  // again once its length is declared, or once it is complete.
  if (attempt.streaming && knownSize === null) return;
  const size = knownSize ?? (await fs.stat(file)).size;
  if (attempt.progress.video_id !== null && isRejectedByGcore(attempt.record.video)) await startOver(attempt);
  if (attempt.progress.uploaded_at === null && !attempt.streaming) {
    const stat = await fs.stat(file);
    if (stat.size < size) {
      throw new AppError(
        'FILE_INCOMPLETE',
        'the local file is shorter than the upload; upload it again',
        409,
      );
    }
  }
  await ensureVideo(attempt);
  if (attempt.progress.uploaded_at === null) await sendFile(attempt, file, size);
  await handOver(attempt, size);
}

/** An import: Gcore pulls the origin itself (the create call carries it), or the relay does. */
export async function runImport(attempt: ForwardAttempt): Promise<void> {
  const { record } = attempt;
  if ((record.request.via ?? 'gcore') === 'relay') {
    const size = attempt.progress.uploaded_at === null ? await pullOrigin(attempt) : record.size;
    await runUpload(attempt, size);
    return;
  }
  if (attempt.progress.video_id !== null && isRejectedByGcore(record.video)) await startOver(attempt);
  await ensureVideo(attempt);
  await handOver(attempt, record.size);
}

/** Gcore has the bytes (or is pulling them): processing is followed by the light track queue. */
async function handOver(attempt: ForwardAttempt, size: number | null): Promise<void> {
  const { ctx, progress } = attempt;
  const now = ctx.now();
  if (attempt.record.kind === 'upload' && progress.uploaded_at === null) {
    progress.uploaded_at = now;
    ctx.metrics.forwardsFinished.inc();
    await attempt.saveManifest({ uploaded_at: new Date(now).toISOString() });
  }
  // The token is only needed to start a TUS session; drop the secret once it is done.
  progress.token = null;
  const moved = await ctx.lifecycle.handOver(attempt.id, {
    progress,
    ...(size !== null ? { bytes_forwarded: size } : {}),
  });
  if (!moved) return;
  if (ctx.settings.completeOn === 'uploaded' && attempt.record.kind === 'upload') {
    await finishJob(ctx, attempt.id);
    return;
  }
  await ensureTracking(ctx.queues, attempt.id);
}
