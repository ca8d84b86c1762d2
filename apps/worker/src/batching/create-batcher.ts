import type { Logger } from '@gtr/core';
import type { CreateVideoFields, GcoreClient, GcoreVideo } from '@gtr/gcore';
import { GcoreApiError, GcoreError, GcoreResponseError, GcoreTimeoutError, MAX_BATCH_SIZE } from '@gtr/gcore';
import type { Waiting } from './waiting.js';

type WaitingCreate = Waiting<CreateVideoFields, GcoreVideo>;

/** What ties a batch answer to its request: Gcore echoes both in the video it creates. */
function contentKey(name: string, originUrl: string | null | undefined): string {
  return JSON.stringify([name, originUrl ?? null]);
}

/**
 * Pairs the videos of a batch answer with the requests by content, never by position: Gcore's
 * OpenAPI file (`post_videos_batch`, product-documentation
 * `api-reference/services_docs_mintlify/streaming_api.yaml`) answers "array of videoDetails" and
 * says nothing of its order. First by (name, origin_url) — the batcher never puts two requests
 * with the same pair in one call — then, for what is left, by name alone where that name is
 * unique on both sides (in case Gcore rewrites an origin URL, e.g. normalises it). Returns one
 * entry per request: its video, or undefined when no answer could be tied to it.
 */
export function matchBatchAnswer(
  requests: readonly CreateVideoFields[],
  answers: readonly GcoreVideo[],
): Array<GcoreVideo | undefined> {
  const matched: Array<GcoreVideo | undefined> = requests.map(() => undefined);
  const free = new Map<string, GcoreVideo[]>();
  for (const video of answers) {
    const key = contentKey(video.name, video.origin_url);
    free.set(key, [...(free.get(key) ?? []), video]);
  }
  const used = new Set<GcoreVideo>();
  for (const [i, request] of requests.entries()) {
    const video = free.get(contentKey(request.name, request.origin_url))?.shift();
    if (video) {
      matched[i] = video;
      used.add(video);
    }
  }
  const leftAnswers = answers.filter((v) => !used.has(v));
  const leftRequests = [...requests.keys()].filter((i) => matched[i] === undefined);
  const count = <T>(items: T[], name: (item: T) => string) => {
    const counts = new Map<string, number>();
    for (const item of items) counts.set(name(item), (counts.get(name(item)) ?? 0) + 1);
    return counts;
  };
  const answerNames = count(leftAnswers, (v) => v.name);
  const requestNames = count(leftRequests, (i) => requests[i]!.name);
  for (const i of leftRequests) {
    const name = requests[i]!.name;
    if (requestNames.get(name) !== 1 || answerNames.get(name) !== 1) continue;
    matched[i] = leftAnswers.find((v) => v.name === name);
  }
  return matched;
}

export interface CreateBatcherOptions {
  /** How long creates gather before a call. Default 100 ms. */
  windowMs?: number;
  /**
   * Most videos per batch call. Gcore allows 500 but closes a connection after 30 s (OA
   * `post_videos_batch`: "Batch max size = 500 videos … API connection timeout = 30 sec."), and
   * publishes no per-video time: 100 keeps a call well inside it. Default 100.
   */
  maxBatch?: number;
  /** A batch call slower than this halves the batch size for the rest of the process. Default 10 s. */
  slowMs?: number;
  /** After the batch endpoint answered 403/404/405, single creates only, for this long. Default 10 min. */
  reprobeMs?: number;
  now?: () => number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/** The statuses with which an account says it has no batch endpoint. */
const BATCH_UNAVAILABLE = new Set([403, 404, 405]);

/**
 * Gathers create-video calls made within a short window into Gcore's batch endpoint: a migration
 * of thousands of URLs then costs a handful of API requests instead of one each, under the same
 * GCORE_API_RPS.
 *
 * Gcore's docs page on uploading via API still calls batch upload "available soon — ask support",
 * so an account may lack it: a 403/404/405 from the batch endpoint turns batching off for this
 * process (single creates instead, and the waiting creates are made one by one), and it is tried
 * again after `reprobeMs`. A batch call whose answer was lost (timeout, connection, 5xx), or one
 * that named no video for a request, may have created its videos: those creates reject with the
 * error, and each job looks its video up (ensureVideo) before anything is created again.
 */
export class CreateBatcher {
  private waiting: WaitingCreate[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;
  private readonly slowMs: number;
  private readonly reprobeMs: number;
  private readonly now: () => number;
  private readonly logger: Pick<Logger, 'info' | 'warn'> | undefined;
  /** The current most videos per call (halved after a slow or timed-out call). */
  maxBatch: number;
  private batchOffUntil = 0;

  constructor(
    private readonly gcore: GcoreClient,
    options: CreateBatcherOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 100;
    this.maxBatch = Math.max(1, Math.min(MAX_BATCH_SIZE, options.maxBatch ?? 100));
    this.slowMs = options.slowMs ?? 10_000;
    this.reprobeMs = options.reprobeMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  /** Whether batch calls are off for now (the endpoint refused recently). */
  get batchOff(): boolean {
    return this.now() < this.batchOffUntil;
  }

  create(fields: CreateVideoFields): Promise<GcoreVideo> {
    return new Promise((resolve, reject) => {
      if (this.batchOff) {
        void this.single({ input: fields, resolve, reject });
        return;
      }
      this.waiting.push({ input: fields, resolve, reject });
      if (this.waiting.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Never two requests with the same (name, origin_url) in one call: answers are tied to
    // requests by that pair. A repeat waits for the next call.
    const batch: WaitingCreate[] = [];
    const keys = new Set<string>();
    const rest: WaitingCreate[] = [];
    for (const w of this.waiting) {
      const key = contentKey(w.input.name, w.input.origin_url);
      if (batch.length < this.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(w);
      } else rest.push(w);
    }
    this.waiting = rest;
    if (batch.length > 0) void this.send(batch);
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.flush(), this.windowMs);
  }

  private single(w: WaitingCreate): Promise<void> {
    return this.gcore.createVideo(w.input).then(w.resolve, w.reject);
  }

  private async send(batch: WaitingCreate[]): Promise<void> {
    if (batch.length === 1 || this.batchOff) {
      await Promise.all(batch.map((w) => this.single(w)));
      return;
    }
    const sentAt = this.now();
    let videos: GcoreVideo[];
    try {
      videos = await this.gcore.createVideosBatch(batch.map((w) => w.input));
    } catch (error) {
      await this.failed(batch, error, sentAt);
      return;
    }
    if (this.now() - sentAt > this.slowMs) this.shrink(batch.length, this.now() - sentAt);
    const matched = matchBatchAnswer(
      batch.map((w) => w.input),
      videos,
    );
    const unmatched: WaitingCreate[] = [];
    for (const [i, w] of batch.entries()) {
      const video = matched[i];
      if (video) w.resolve(video);
      else unmatched.push(w);
    }
    if (unmatched.length === 0) return;
    this.logger?.warn(
      { requested: batch.length, answered: videos.length, unmatched: unmatched.length },
      "Gcore's batch answer did not name every requested video; their jobs look them up",
    );
    const error = new GcoreResponseError(
      'POST',
      '/streaming/videos/batch',
      'an answer that names no video for this request',
      200,
    );
    for (const w of unmatched) w.reject(error);
  }

  private async failed(batch: WaitingCreate[], error: unknown, sentAt: number): Promise<void> {
    if (error instanceof GcoreApiError && BATCH_UNAVAILABLE.has(error.status)) {
      this.batchOffUntil = this.now() + this.reprobeMs;
      this.logger?.warn(
        { status: error.status, retryInMs: this.reprobeMs },
        "Gcore's batch endpoint is not available to this account; creating videos one by one",
      );
      await Promise.all(batch.map((w) => this.single(w)));
      return;
    }
    if (error instanceof GcoreError && (error.status === 401 || error.status === 429)) {
      // Nothing was created; singles would meet the same answer.
      for (const w of batch) w.reject(error);
      return;
    }
    if (error instanceof GcoreError && !error.retryable) {
      // One bad item must not sink the others: a refused batch is retried one by one.
      await Promise.all(batch.map((w) => this.single(w)));
      return;
    }
    // Timeout, lost connection, 5xx: Gcore may have created some or all of the videos. Each job
    // looks its own up (forward/lost-create.ts), holding its name's create lock, before any
    // create again: only a job knows which videos other jobs hold.
    if (error instanceof GcoreTimeoutError) this.shrink(batch.length, this.now() - sentAt);
    this.logger?.warn(
      { err: error, videos: batch.length },
      "Gcore's batch answer was lost; each job looks its video up before creating any again",
    );
    for (const w of batch) w.reject(error);
  }

  private shrink(size: number, tookMs: number): void {
    const next = Math.max(1, Math.min(this.maxBatch, Math.floor(size / 2)));
    if (next === this.maxBatch) return;
    this.maxBatch = next;
    this.logger?.info({ videos: size, tookMs, maxBatch: next }, 'Gcore batch call was slow; smaller batches');
  }
}
