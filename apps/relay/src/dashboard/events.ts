import type { RedisClient } from '@gtr/core';
import { duplicateRedis, type JobRepository, type Logger, toPublicJob } from '@gtr/core';
import type { Request, Response } from 'express';
import { sendError } from '../http-errors.js';
import type { DashboardSummary } from './summary.js';

export interface JobEventsOptions {
  /** Duplicated for SUBSCRIBE: a subscribed connection can run no other command. */
  redis: RedisClient;
  jobs: JobRepository;
  summary: () => Promise<DashboardSummary>;
  logger: Logger;
  /** Changes are gathered for this long and sent as one event. Default 250 ms. */
  coalesceMs?: number;
  /** The header numbers are sent at most this often after changes, and at least this often anyway. Default 1 s / 5 s. */
  summaryMinMs?: number;
  summaryMaxMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. Default 20 s. */
  heartbeatMs?: number;
  /** More changed jobs than this in one window: clients are told to reload instead. Default 500. */
  maxJobsPerEvent?: number;
}

/** A client that stops reading is dropped once this much is waiting for it; it reconnects and reloads. */
const MAX_BUFFERED = 1024 * 1024;

/**
 * Server-sent events for the dashboard, fed by the JobRepository's pub/sub channel (the id of every job
 * that changed). Ids are coalesced per window, the jobs read once and sent to every client, so a
 * burst of progress updates costs one read per window however many tabs are open.
 *
 * Events: `ready` (subscribed: load the list now, nothing will be missed), `jobs`
 * (`{jobs: PublicJob[], removed: string[]}`), `summary` (DashboardSummary), `resync` (too many
 * changes or Redis reconnected: reload the list).
 */
export class JobEvents {
  private readonly clients = new Set<Response>();
  private subscriber: RedisClient | null = null;
  private subscribed: Promise<void> | null = null;
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private summaryTimer: NodeJS.Timeout | null = null;
  private lastSummaryAt = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: JobEventsOptions) {}

  /** `GET /api/events`. */
  handle = (req: Request, res: Response): void => {
    if (this.closed) {
      sendError(res, 'SHUTTING_DOWN');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    res.on('close', () => this.drop(res));
    this.start()
      .then(() => {
        this.send(res, 'ready', {});
        return this.options.summary().then((summary) => this.send(res, 'summary', summary));
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'dashboard events could not start');
        res.end();
      });
    req.socket.setNoDelay(true);
  };

  /** Ends every stream and the subscription (the relay is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    for (const res of [...this.clients]) {
      this.clients.delete(res);
      res.end();
    }
    await this.stop();
  }

  private start(): Promise<void> {
    if (this.subscribed) return this.subscribed;
    const { redis, jobs, logger } = this.options;
    const subscriber = duplicateRedis(redis, { connectionName: 'relay-dashboard-events' });
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === jobs.eventsChannel) this.changed(id);
    });
    let first = true;
    // ioredis subscribes again after a reconnect; what changed meanwhile was not heard.
    subscriber.on('ready', () => {
      if (!first) this.broadcast('resync', {});
      first = false;
    });
    this.subscriber = subscriber;
    this.subscribed = subscriber.subscribe(jobs.eventsChannel).then(() => {
      logger.debug({ channel: jobs.eventsChannel }, 'dashboard events subscribed');
    });
    this.subscribed.catch(() => {
      if (this.subscriber === subscriber) void this.stop();
    });
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) res.write(': ping\n\n');
    }, this.options.heartbeatMs ?? 20_000);
    this.summaryTimer = setTimeout(() => this.pushSummary(), this.options.summaryMaxMs ?? 5_000);
    return this.subscribed;
  }

  private async stop(): Promise<void> {
    for (const timer of [this.flushTimer, this.summaryTimer]) if (timer) clearTimeout(timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.flushTimer = this.summaryTimer = this.heartbeat = null;
    this.pending.clear();
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.subscribed = null;
    if (subscriber) {
      subscriber.removeAllListeners('message');
      await subscriber.quit().catch(() => subscriber.disconnect());
    }
  }

  private drop(res: Response): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0 && !this.closed) void this.stop();
  }

  private changed(id: string): void {
    this.pending.add(id);
    // A throttle, not a debounce: steady progress updates still reach the page every window.
    this.flushTimer ??= setTimeout(() => void this.flush(), this.options.coalesceMs ?? 250);
  }

  private async flush(): Promise<void> {
    this.flushTimer = null;
    const ids = [...this.pending];
    this.pending.clear();
    if (ids.length === 0 || this.clients.size === 0) return;
    if (ids.length > (this.options.maxJobsPerEvent ?? 500)) {
      this.broadcast('resync', {});
    } else {
      try {
        const records = await this.options.jobs.getMany(ids);
        const found = new Set(records.map((record) => record.id));
        this.broadcast('jobs', {
          jobs: records.map(toPublicJob),
          removed: ids.filter((id) => !found.has(id)),
        });
      } catch (error) {
        this.options.logger.warn({ err: error }, 'dashboard events: reading changed jobs failed');
        for (const id of ids) this.pending.add(id);
        this.flushTimer ??= setTimeout(() => void this.flush(), 1_000);
        return;
      }
    }
    this.scheduleSummary();
  }

  /** Soon after changes (counts moved), but at most once per `summaryMinMs`. */
  private scheduleSummary(): void {
    if (!this.subscriber) return;
    const min = this.options.summaryMinMs ?? 1_000;
    const due = Math.max(0, this.lastSummaryAt + min - Date.now());
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = setTimeout(() => this.pushSummary(), due);
  }

  private pushSummary(): void {
    this.summaryTimer = null;
    if (!this.subscriber) return;
    this.lastSummaryAt = Date.now();
    this.options
      .summary()
      .then((summary) => this.broadcast('summary', summary))
      .catch((error: unknown) => this.options.logger.debug({ err: error }, 'dashboard summary failed'))
      .finally(() => {
        // Throughput and 429 counts move with time alone, so the header refreshes even when idle.
        if (this.subscriber && !this.summaryTimer) {
          this.summaryTimer = setTimeout(() => this.pushSummary(), this.options.summaryMaxMs ?? 5_000);
        }
      });
  }

  private broadcast(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) this.write(res, frame);
  }

  private send(res: Response, event: string, data: unknown): void {
    if (this.clients.has(res)) this.write(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(res: Response, frame: string): void {
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy();
      return;
    }
    res.write(frame);
  }
}
