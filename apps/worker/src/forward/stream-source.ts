import type { WaitForBytes } from '@gtr/gcore';
import { type ForwardAttempt, JobCanceledError } from './attempt.js';

/** What a forward of an upload still arriving (FORWARD_MODE=stream) waits on. */
export interface StreamSource {
  /** Each PATCH to Gcore waits until the relay holds every byte it carries. */
  available: WaitForBytes;
  /**
   * Resolves once the relay has recorded the upload complete (the job left `receiving`), with the
   * digest it computed while receiving; the job is `uploading` from then on. The last piece of the
   * last PATCH waits for it (send-hash.ts), so Gcore never holds the whole file before the relay
   * has queued it, nor a file whose bytes hash to anything else.
   */
  completed(): Promise<string | null>;
  /** The forward's run ended: a wait for completion still pending is dropped, never acted on. */
  close(): void;
}

/**
 * Waits, on the relay's announcements (UploadFeed), never on a timer: each PATCH opens once the
 * relay announced an offset past its end — the last one too, so the tail of the file goes out as
 * soon as it is in, while the relay records the upload complete. A tool that sends nothing for
 * `streamParkAfterMs` makes the forward give its worker slot back (parked, processor.ts).
 */
export function streamSource(attempt: ForwardAttempt): StreamSource {
  const { ctx, id } = attempt;
  let completed: Promise<string | null> | null = null;
  const closed = new AbortController();
  const signal = AbortSignal.any([attempt.signal, closed.signal]);

  /** The job, unless the upload is gone (terminated, expired): then the forward stops as a cancel does. */
  const current = async () => {
    const job = await ctx.jobs.get(id);
    if (!job || job.state === 'canceled' || job.state === 'failed') {
      ctx.cancels.abort(id, 'canceled');
      throw new JobCanceledError();
    }
    return job;
  };

  return {
    available: async (end) => {
      const park = setTimeout(() => ctx.cancels.abort(id, 'parked'), ctx.settings.streamParkAfterMs);
      try {
        await ctx.watcher.until(
          id,
          async () => {
            const received = await ctx.feed.offset(id);
            if (received !== null && received >= end) return true;
            // Complete (the announcement may have been missed): every byte is there.
            return (await current()).state === 'receiving' ? undefined : true;
          },
          attempt.signal,
        );
      } finally {
        clearTimeout(park);
      }
    },
    completed() {
      completed ??= (async () => {
        const job = await ctx.watcher.until(
          id,
          async () => {
            const job = await current();
            return job.state === 'receiving' ? undefined : job;
          },
          signal,
        );
        signal.throwIfAborted();
        await attempt.moveTo('uploading');
        return job.sha256 ?? null;
      })().catch((error: unknown) => {
        completed = null;
        throw error;
      });
      return completed;
    },
    close: () => closed.abort(),
  };
}
