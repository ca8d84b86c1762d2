import { videoBaseUrl } from './api/video-json.js';
import type { VideoCatalog, VideoEntity } from './catalog.js';
import { detectContainer } from './container.js';
import type { FaultSwitches } from './faults.js';
import type { FileFacts } from './inspect.js';

const QUALITIES = ['vod360n', 'vod480n', 'vod720n'];
const LAST = QUALITIES.length - 1;
/** Progress updates per processing step, so pollers see `converted_videos` move. */
const TICKS_PER_STEP = 4;
/** A made-up bitrate (1 Mbit/s) that turns a file size into a plausible duration. */
const BYTES_PER_SECOND = 125_000;

/** Plays Gcore's processing: pending → viewable → ready (or error), on real timers. */
export class Processor {
  #timers = new Map<number, NodeJS.Timeout>();
  #closed = false;

  constructor(
    private readonly store: VideoCatalog,
    private readonly faults: FaultSwitches,
  ) {}

  /** A whole origin file has arrived for `video`, by upload or pull. */
  accept(video: VideoEntity, file: FileFacts): void {
    // A file can finish arriving while the emulator shuts down; no timers may start after close().
    if (video.deleted || this.#closed) return;
    this.cancel(video.id);
    video.bytesReceived = file.size;
    video.size = file.size;
    video.sha256 = file.sha256;
    video.originSize = file.size;
    video.viewable = false;
    video.duration = null;
    video.screenshots = [];
    video.convertedVideos = [];
    if (detectContainer(file.head) === null) {
      // What Gcore does with a non-video file: the entity stays empty, with the reason in `error`.
      this.store.transition(video, 'empty', 'File Invalid');
      return;
    }
    video.convertedVideos = QUALITIES.map((name) => ({
      name,
      progress: 0,
      status: 'processing' as const,
      error: '',
      mp4_url: null,
    }));
    this.store.transition(video, 'pending', null);
    const { processingStepMs, processingError, halfFailed } = this.faults.current;
    this.#schedule(video, 1, processingStepMs, { error: processingError, halfFailed });
  }

  cancel(videoId: number): void {
    clearTimeout(this.#timers.get(videoId));
    this.#timers.delete(videoId);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(video: VideoEntity, tick: number, stepMs: number, failure: Failure): void {
    const timer = setTimeout(() => {
      this.#timers.delete(video.id);
      this.#tick(video, tick, stepMs, failure);
    }, stepMs / TICKS_PER_STEP);
    this.#timers.set(video.id, timer);
  }

  #tick(video: VideoEntity, tick: number, stepMs: number, failure: Failure): void {
    if (video.deleted) return;
    // Time in steps: the lowest quality is done after one step (viewable), the highest after two (ready).
    const elapsed = tick / TICKS_PER_STEP;
    if (failure.error !== null && elapsed >= 1) {
      for (const rendition of video.convertedVideos) {
        if (rendition.status === 'processing')
          Object.assign(rendition, { status: 'error', error: failure.error });
      }
      this.store.transition(video, 'error', failure.error);
      return;
    }
    const base = videoBaseUrl(video);
    if (failure.halfFailed !== null && elapsed >= 1) {
      // Gcore's demo video on its "Video Lifecycle and Statuses" page (vod-status.mdx): `viewable`
      // with `error: "The storage limit has been exceeded"`, the lower renditions complete, the
      // highest in `error` at progress 0, and it never becomes `ready`.
      video.convertedVideos.forEach((rendition, i) => {
        if (i === LAST) Object.assign(rendition, { status: 'error', error: failure.halfFailed, progress: 0 });
        else
          Object.assign(rendition, {
            status: 'complete',
            progress: 100,
            mp4_url: `${base}/${rendition.name}.mp4`,
          });
      });
      this.#makeViewable(video, base);
      this.store.transition(video, 'viewable', failure.halfFailed);
      return;
    }
    video.convertedVideos.forEach((rendition, i) => {
      const doneAt = 1 + i / Math.max(1, LAST);
      rendition.progress = Math.min(100, Math.floor((100 * elapsed) / doneAt));
      if (rendition.progress === 100 && rendition.status !== 'complete') {
        rendition.status = 'complete';
        rendition.mp4_url = `${base}/${rendition.name}.mp4`;
      }
    });
    this.store.touch(video);
    if (elapsed >= 1 && !video.viewable) {
      this.#makeViewable(video, base);
      this.store.transition(video, 'viewable', null);
    }
    if (elapsed >= 2) {
      this.store.transition(video, 'ready', null);
      return;
    }
    this.#schedule(video, tick + 1, stepMs, failure);
  }

  #makeViewable(video: VideoEntity, base: string): void {
    video.viewable = true;
    video.duration = Math.max(1_000, Math.round(((video.size ?? 0) / BYTES_PER_SECOND) * 1_000));
    video.screenshots = [`${base}/screenshots/0.jpg`];
  }
}

/** How processing ends when it does not reach `ready` (the processingError / halfFailed switches). */
interface Failure {
  error: string | null;
  halfFailed: string | null;
}
