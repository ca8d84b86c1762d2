import type { GcoreClient, GcoreVideo } from '@gtr/gcore';
import type { Waiting } from './waiting.js';

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
