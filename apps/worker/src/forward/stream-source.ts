import type { WaitForBytes } from '@gtr/gcore';
import { type ForwardAttempt, JobCanceledError } from './attempt.js';

/**
 * For an upload still arriving (FORWARD_MODE=stream): each PATCH to Gcore waits, on the relay's
 * announcements (UploadFeed), until the relay has received the bytes it carries — never past the
 * offset the relay announced. The last PATCH waits for more: the relay has recorded the upload
 * complete (the job left `receiving`), so the job moves to `uploading` as it is sent.
 *
 * Integrity: the job then carries the relay's digest (`job.sha256`), handed to `onComplete`, which
 * what was sent must hash to before the last piece of the last PATCH goes out (send-hash.ts).
 */
export function streamedBytes(
  attempt: ForwardAttempt,
  /** The relay recorded the upload complete: the digest it computed while receiving. */
  onComplete?: (sha256: string | null) => void,
): WaitForBytes {
  const { ctx, id } = attempt;
  return async (end, last) => {
    // A tool that sends nothing for a while must not hold a worker slot: the forward is parked.
    const park = setTimeout(() => ctx.cancels.abort(id, 'parked'), ctx.settings.streamParkAfterMs);
    try {
      await waitForBytes(end, last);
    } finally {
      clearTimeout(park);
    }
    if (last) await attempt.moveTo('uploading');
  };

  async function waitForBytes(end: number, last: boolean): Promise<void> {
    await ctx.watcher.until(
      id,
      async () => {
        if (!last) {
          const received = await ctx.feed.offset(id);
          if (received !== null && received >= end) return true;
        }
        const job = await ctx.jobs.get(id);
        if (!job || job.state === 'canceled' || job.state === 'failed') {
          // Terminated or expired, and its announcement missed: stop as a cancel does.
          ctx.cancels.abort(id, 'canceled');
          throw new JobCanceledError();
        }
        if (job.state === 'receiving') return undefined;
        if (last) onComplete?.(job.sha256 ?? null);
        return true;
      },
      attempt.signal,
    );
  }
}
