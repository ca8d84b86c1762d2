import type { Logger } from 'pino';
import type { VideoEntity } from './catalog.js';
import type { Stats } from './stats.js';

const SEND_TIMEOUT_MS = 5_000;

/**
 * Gcore's status notifications: one POST per event, no retries, no signature, failures ignored.
 * Sent one after another so a receiver sees the statuses in the order they happened.
 */
export class WebhookSender {
  #queue: Promise<void> = Promise.resolve();
  #closing = new AbortController();

  constructor(
    private readonly url: string | undefined,
    private readonly stats: Stats,
    private readonly logger: Logger,
  ) {}

  videoChanged(video: VideoEntity): void {
    this.#send({
      type: 'video',
      message: {
        video: {
          id: video.id,
          slug: video.slug,
          name: video.name,
          duration: video.duration,
          stream_id: null,
          status: video.status,
          converted_videos: video.convertedVideos.map((c) => ({ ...c })),
        },
      },
    });
  }

  videoDeleted(video: VideoEntity): void {
    this.#send({
      type: 'video_delete',
      message: {
        video: {
          id: video.id,
          slug: video.slug,
          name: video.name,
          status: video.status,
          deleted_at: new Date(video.deletedAt ?? Date.now()).toISOString(),
        },
      },
    });
  }

  /** Abandons unsent and in-flight webhooks. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#queue;
  }

  #send(body: unknown): void {
    const url = this.url;
    if (url === undefined || this.#closing.signal.aborted) return;
    // Serialised now: the video object changes after this call returns.
    const json = JSON.stringify(body);
    this.#queue = this.#queue.then(async () => {
      if (this.#closing.signal.aborted) return;
      this.stats.count('webhooksSent');
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: json,
          signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]),
        });
        await res.body?.cancel();
      } catch (error) {
        this.logger.debug({ err: error, url }, 'webhook not delivered');
      }
    });
  }
}
