import type { JobCallback, NotifyJobData } from '@gtr/core';
import { type Job, UnrecoverableError } from 'bullmq';
import { type CallbackPolicy, sendCallback, signBody, signTimestamped } from './callback.js';
import type { WorkerContext } from './context.js';

/**
 * The notify queue's processor: POST the job to the tool's callback_url through the SSRF guard,
 * and record on the job how that went (`callback`). A refused address fails at once
 * (UnrecoverableError); anything else is retried by BullMQ with backoff. The thrown message is
 * the one the job shows, so bull-board tells no more than the jobs API.
 */
export function notifyProcessor(ctx: WorkerContext) {
  const policy: CallbackPolicy = {
    allowPrivate: ctx.settings.callbackAllowPrivate,
    allowedHosts: ctx.settings.callbackAllowedHosts,
    resolve: ctx.resolve,
  };
  return async (job: Job<NotifyJobData>): Promise<void> => {
    const body = JSON.stringify(job.data.job);
    const timestamp = Math.floor(ctx.now() / 1_000);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'gcore-tus-relay',
      'X-Relay-Event': `job.${job.data.job.state}`,
      'X-Relay-Delivery': job.id ?? '',
      'X-Relay-Timestamp': String(timestamp),
    };
    const secret = ctx.settings.callbackSecret;
    if (secret) {
      headers['X-Relay-Signature-256'] = signTimestamped(secret, timestamp, body);
      if (ctx.settings.callbackLegacySignature) headers['X-Relay-Signature'] = signBody(secret, body);
    }
    const attempts = job.attemptsMade + 1;
    const outcome = await sendCallback(job.data.url, body, headers, policy);
    if (outcome.delivered) {
      await record(ctx, job.data.id, {
        state: 'delivered',
        attempts,
        last_error: null,
        delivered_at: new Date(ctx.now()).toISOString(),
      });
      ctx.metrics.callbacks.inc({ outcome: 'delivered' });
      ctx.logger.info({ jobId: job.data.id, state: job.data.job.state }, 'callback delivered');
      return;
    }
    const last = outcome.refused || attempts >= (job.opts.attempts ?? 1);
    await record(ctx, job.data.id, {
      state: outcome.refused ? 'refused' : last ? 'failed' : 'pending',
      attempts,
      last_error: outcome.reason,
      delivered_at: null,
    });
    ctx.metrics.callbacks.inc({ outcome: outcome.refused ? 'refused' : 'failed' });
    // The operator's log may say what happened; the job and bull-board only get the reason.
    ctx.logger.warn(
      { jobId: job.data.id, attempt: attempts, refused: outcome.refused, detail: outcome.detail },
      `callback not delivered: ${outcome.reason}`,
    );
    throw outcome.refused ? new UnrecoverableError(outcome.reason) : new Error(outcome.reason);
  };
}

/** Saves the delivery's state on the job (a field, not a move); a Redis hiccup only costs the record. */
async function record(ctx: WorkerContext, id: string, callback: JobCallback): Promise<void> {
  try {
    await ctx.jobs.update(id, { callback });
  } catch (error) {
    ctx.logger.warn({ err: error, jobId: id }, 'could not record the callback state');
  }
}
