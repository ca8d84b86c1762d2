import { downloadToFile, originRequestHeaders, uploadPaths } from '@gtr/core';
import type { ForwardAttempt } from './attempt.js';

/**
 * For `via: "relay"` imports (sources Gcore cannot reach): the worker downloads the origin into
 * the upload dir, resuming a partial file with Range (and If-Range, so a changed origin starts it
 * over), then forwards it like an upload. Returns its size.
 */
export async function pullOrigin(attempt: ForwardAttempt): Promise<number> {
  const { ctx, record } = attempt;
  let lastWrite = 0;
  const result = await downloadToFile(record.origin_url!, uploadPaths(ctx.uploadDir, attempt.id).data, {
    allowPrivate: ctx.settings.importAllowPrivate,
    ...(ctx.settings.maxUploadSize > 0 ? { maxBytes: ctx.settings.maxUploadSize } : {}),
    headers: originRequestHeaders(record.request.fields.origin_http_headers),
    signal: attempt.signal,
    validator: attempt.progress.origin_validator ?? null,
    // Saved before the first byte lands: a partial file is resumed only against its own version.
    onStart: async (validator) => {
      attempt.progress.origin_validator = validator;
      await attempt.save();
    },
    onProgress: (bytes) => {
      const now = ctx.now();
      if (now - lastWrite < 500) return;
      lastWrite = now;
      ctx.jobs.update(attempt.id, { bytes_received: bytes }).catch(() => {});
    },
  });
  await ctx.jobs.update(attempt.id, { size: result.bytes, bytes_received: result.bytes });
  ctx.logger.info(
    { jobId: attempt.id, bytes: result.bytes, resumed: result.resumed },
    'origin downloaded by the relay',
  );
  return result.bytes;
}
