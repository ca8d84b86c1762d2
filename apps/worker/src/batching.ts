import type { Logger } from '@gtr/core';
import type { CreateVideoFields, GcoreClient, GcoreVideo } from '@gtr/gcore';
import { GcoreApiError, GcoreError, GcoreResponseError, GcoreTimeoutError, MAX_BATCH_SIZE } from '@gtr/gcore';

interface Waiting<T, R> {
  input: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

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

/** Ids per `GET /streaming/videos?id=…` call. */
const IDS_PER_LIST = 100;

export interface StatusBoardOptions {
  /** How long lookups gather before a call. Default 100 ms. */
  windowMs?: number;
  /** Below this many ids to look up at once, single GETs are cheaper than listing. Default 4. */
  listThreshold?: number;
  /**
   * An answer this recent is the answer to a lookup: no call. Default 5 s; the worker uses its
   * shortest poll interval (`trackIntervalMs.first`), so that no tracker looks less often than set.
   */
  freshMs?: number;
  /** A video not asked about for this long is no longer looked at in passing. Default 2 min. */
  forgetMs?: number;
  /**
   * A video looked at in passing (nobody asked this time) changed status since the last answer:
   * its tracker should look now instead of at its next poll (which then finds the fresh answer).
   */
  onChange?: (video: GcoreVideo) => void;
  now?: () => number;
}

/** Statuses after which Gcore's processing does not move again. */
const SETTLED = new Set(['ready', 'error']);

/**
 * Answers "what is video N's status?" for many tracked videos at once: lookups made within a
 * short window share `GET /streaming/videos?id=1,2,3` calls — the documented id filter (OA
 * `get_api_videos`: "IDs of the videos to find … separated by commas. Example, ?id=1,101,1001"),
 * 100 ids a call, nothing assumed about the order of the answer — and only the ones missing from
 * those answers cost a `GET /streaming/videos/{id}` each.
 *
 * A call has room for 100 ids, and a migration tracks thousands of videos while only a few dozen
 * trackers ask at any moment: the room is filled with other videos this process tracks (those
 * looked at longest ago first). Their answers are kept for `freshMs`, so their own lookups cost
 * nothing, and one whose status changed is reported to `onChange`, so that its job moves on now.
 * A migration of N videos then costs about N/100 calls per look at all of them.
 *
 * No `fields`: the attributes it may name (OA: "id, name, duration, status, created_at,
 * updated_at, hls_url, screenshots, converted_videos, priority, stream_id") leave out `error` and
 * `dash_url`, which tracking needs (a video can stop short of `ready` with `error` set).
 */
export class StatusBoard {
  private waiting = new Map<number, Array<Waiting<number, GcoreVideo>>>();
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  /** Videos asked about recently: when, and the last answer (and when it came). */
  private readonly tracked = new Map<number, { askedAt: number; video: GcoreVideo | null; at: number }>();
  private readonly windowMs: number;
  private readonly listThreshold: number;
  private readonly freshMs: number;
  private readonly forgetMs: number;
  private readonly now: () => number;

  constructor(
    private readonly gcore: GcoreClient,
    options: StatusBoardOptions | number = {},
  ) {
    const o = typeof options === 'number' ? { windowMs: options } : options;
    this.windowMs = o.windowMs ?? 100;
    this.listThreshold = o.listThreshold ?? 4;
    this.freshMs = o.freshMs ?? 5_000;
    this.forgetMs = o.forgetMs ?? 120_000;
    this.now = o.now ?? Date.now;
    this.onChange = o.onChange;
  }

  private readonly onChange: ((video: GcoreVideo) => void) | undefined;

  get(id: number): Promise<GcoreVideo> {
    const now = this.now();
    const known = this.tracked.get(id);
    if (known) known.askedAt = now;
    else this.tracked.set(id, { askedAt: now, video: null, at: 0 });
    if (known?.video && now - known.at <= this.freshMs) return Promise.resolve(known.video);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(id) ?? [];
      list.push({ input: id, resolve, reject });
      this.waiting.set(id, list);
      this.schedule();
    });
  }

  // One round at a time: lookups that arrive while a round waits for its API slot join the next
  // round, so under a tight GCORE_API_RPS the rounds simply grow instead of multiplying.
  private schedule(): void {
    if (this.flushing || this.timer || this.waiting.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing = true;
      void this.flush().finally(() => {
        this.flushing = false;
        this.schedule();
      });
    }, this.windowMs);
  }

  /** Tracked videos nobody asked about this round, not settled, looked at longest ago first. */
  private passengers(wanted: ReadonlyMap<number, unknown>, room: number): number[] {
    if (room <= 0) return [];
    const now = this.now();
    const candidates: Array<[number, number]> = [];
    for (const [id, entry] of this.tracked) {
      if (now - entry.askedAt > this.forgetMs) {
        this.tracked.delete(id);
        continue;
      }
      if (wanted.has(id) || (entry.video && SETTLED.has(entry.video.status))) continue;
      if (entry.video && now - entry.at <= this.freshMs) continue;
      candidates.push([id, entry.at]);
    }
    return candidates
      .sort((a, b) => a[1] - b[1])
      .slice(0, room)
      .map(([id]) => id);
  }

  private async flush(): Promise<void> {
    const wanted = this.waiting;
    this.waiting = new Map();
    const settle = (id: number, outcome: { video?: GcoreVideo; error?: unknown }) => {
      for (const w of wanted.get(id) ?? []) {
        if (outcome.video) w.resolve(outcome.video);
        else w.reject(outcome.error);
      }
      wanted.delete(id);
    };
    const seen = (video: GcoreVideo, passenger: boolean) => {
      const entry = this.tracked.get(video.id);
      const before = entry?.video?.status;
      if (entry) {
        entry.video = video;
        entry.at = this.now();
      }
      if (passenger && before !== undefined && before !== video.status) this.onChange?.(video);
    };
    const asked = [...wanted.keys()];
    const rounds = Math.max(1, Math.ceil(asked.length / IDS_PER_LIST));
    const extra = this.passengers(wanted, rounds * IDS_PER_LIST - asked.length);
    if (asked.length + extra.length >= this.listThreshold) {
      const ids = [...asked, ...extra];
      for (let start = 0; start < ids.length; start += IDS_PER_LIST) {
        const chunk = ids.slice(start, start + IDS_PER_LIST);
        try {
          const videos = await this.gcore.listVideos({ id: chunk.join(','), per_page: chunk.length });
          for (const video of videos) {
            if (!chunk.includes(video.id)) continue;
            const passenger = !wanted.has(video.id);
            seen(video, passenger);
            if (!passenger) settle(video.id, { video });
          }
        } catch (error) {
          for (const id of chunk) settle(id, { error });
        }
      }
    }
    await Promise.all(
      [...wanted.keys()].map((id) =>
        this.gcore.getVideo(id).then(
          (video) => {
            seen(video, false);
            settle(id, { video });
          },
          (error: unknown) => settle(id, { error }),
        ),
      ),
    );
  }
}
