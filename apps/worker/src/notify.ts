import { createHmac } from 'node:crypto';
import type { NotifyJobData } from '@gtr/core';
import type { Job } from 'bullmq';
import type { WorkerContext } from './context.js';

/** `sha256=<hex HMAC of the raw body>`, as the contract's X-Relay-Signature. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The notify queue's processor: POST the job to the tool's callback_url; BullMQ retries with backoff. */
export function notifyProcessor(ctx: WorkerContext) {
  return async (job: Job<NotifyJobData>): Promise<void> => {
    const body = JSON.stringify(job.data.job);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'gcore-tus-relay',
      'X-Relay-Event': `job.${job.data.job.state}`,
      'X-Relay-Delivery': job.id ?? '',
    };
    if (ctx.settings.callbackSecret)
      headers['X-Relay-Signature'] = signBody(ctx.settings.callbackSecret, body);
    let response: Response;
    try {
      response = await fetch(job.data.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
    } catch (error) {
      ctx.metrics.callbacks.inc({ outcome: 'failed' });
      throw new Error(`callback to ${new URL(job.data.url).host} failed: ${(error as Error).message}`);
    }
    if (response.status < 200 || response.status >= 300) {
      ctx.metrics.callbacks.inc({ outcome: 'failed' });
      throw new Error(`callback to ${new URL(job.data.url).host} answered ${response.status}`);
    }
    ctx.metrics.callbacks.inc({ outcome: 'delivered' });
    ctx.logger.info({ jobId: job.data.id, state: job.data.job.state }, 'callback delivered');
  };
}
