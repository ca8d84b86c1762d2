import type { CreateVideoFields, GcoreClient, GcoreVideo } from '@gtr/gcore';
import { GcoreError, MAX_BATCH_SIZE } from '@gtr/gcore';

interface Waiting<T, R> {
  input: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers create-video calls made within a short window into Gcore's batch endpoint (up to 500
 * per call): a migration of thousands of URLs then costs a handful of API requests instead of
 * one each, under the same GCORE_API_RPS.
 */
export class CreateBatcher {
  private waiting: Array<Waiting<CreateVideoFields, GcoreVideo>> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly gcore: GcoreClient,
    private readonly windowMs = 100,
  ) {}

  create(fields: CreateVideoFields): Promise<GcoreVideo> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input: fields, resolve, reject });
      if (this.waiting.length >= MAX_BATCH_SIZE) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.waiting.splice(0, MAX_BATCH_SIZE);
    if (batch.length > 0) void this.send(batch);
  }

  private async send(batch: Array<Waiting<CreateVideoFields, GcoreVideo>>): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      await this.gcore.createVideo(only!.input).then(only!.resolve, only!.reject);
      return;
    }
    try {
      const videos = await this.gcore.createVideosBatch(batch.map((w) => w.input));
      if (videos.length !== batch.length) {
        throw new GcoreError(
          'GCORE_INVALID_RESPONSE',
          `Gcore's batch create answered ${videos.length} videos for ${batch.length}`,
          { retryable: true },
        );
      }
      for (const [i, w] of batch.entries()) w.resolve(videos[i]!);
    } catch (error) {
      // One bad item must not sink the others: a refused batch is retried one by one.
      if (error instanceof GcoreError && !error.retryable && error.status !== 401 && error.status !== 403) {
        await Promise.all(batch.map((w) => this.gcore.createVideo(w.input).then(w.resolve, w.reject)));
        return;
      }
      for (const w of batch) w.reject(error);
    }
  }
}

/**
 * Answers "what is video N's status?" for many tracked videos at once: lookups made within a
 * short window share `GET /streaming/videos` pages (100 a page, newest first — where videos in
 * processing are), and only the ones not found there cost a `GET /streaming/videos/{id}` each.
 */
export class StatusBoard {
  private waiting = new Map<number, Array<Waiting<number, GcoreVideo>>>();
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;

  constructor(
    private readonly gcore: GcoreClient,
    private readonly windowMs = 100,
    /** Below this many lookups at once, single GETs are cheaper than listing. */
    private readonly listThreshold = 4,
  ) {}

  get(id: number): Promise<GcoreVideo> {
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
    if (wanted.size >= this.listThreshold) {
      const perPage = 100;
      const pages = Math.ceil(wanted.size / perPage) + 1;
      try {
        for (let page = 1; page <= pages && wanted.size > 0; page++) {
          const videos = await this.gcore.listVideos({ page, per_page: perPage });
          for (const video of videos) if (wanted.has(video.id)) settle(video.id, { video });
          if (videos.length < perPage) break;
        }
      } catch (error) {
        for (const id of [...wanted.keys()]) settle(id, { error });
        return;
      }
    }
    await Promise.all(
      [...wanted.keys()].map((id) =>
        this.gcore.getVideo(id).then(
          (video) => settle(id, { video }),
          (error: unknown) => settle(id, { error }),
        ),
      ),
    );
  }
}
