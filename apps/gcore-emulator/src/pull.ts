import { createWriteStream } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPrivateFile, ensurePrivateDir } from '@gtr/core';
import type { Logger } from 'pino';
import type { VideoCatalog, VideoEntity } from './catalog.js';
import { inspectFile } from './inspect.js';
import type { Processor } from './processing.js';

/** Gcore documents three tries, each expecting HTTP 200. */
export const PULL_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 50;
export const ORIGIN_NOT_FOUND = 'The requested origin was not found';

/**
 * The headers Gcore sends with its download: G-Core/product-documentation
 * `api-reference/services_docs_mintlify/streaming_api.yaml` (`createVideo.origin_http_headers`)
 * documents one "Authorization HTTP request header", syntax `Authorization: <auth-scheme>
 * <authorization-parameters>`. So the emulator honours exactly that: one line, that header name, a
 * scheme and parameters. Anything else (other names, several lines) is sent as nothing at all, so a
 * relay that let more through would see its import fail here as it would at Gcore.
 */
export function originAuthorization(text: string | null): Record<string, string> {
  const match = /^authorization:[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+([\x21-\x7e][\x20-\x7e]*)$/i.exec(
    (text ?? '').trim(),
  );
  return match ? { authorization: `${match[1]} ${match[2]!.trimEnd()}` } : {};
}

/** Downloads `origin_url`s the way Gcore does, then hands the file to processing. */
export class OriginPuller {
  #pulls = new Map<number, { abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly dir: string,
    private readonly store: VideoCatalog,
    private readonly processor: Processor,
    private readonly logger: Logger,
  ) {}

  start(video: VideoEntity): void {
    if (video.originUrl === null) return;
    this.cancel(video.id);
    const abort = new AbortController();
    const done = this.#pull(video, video.originUrl, abort.signal)
      .catch((error: unknown) => {
        if (!abort.signal.aborted)
          this.logger.error({ err: error, videoId: video.id }, 'origin pull crashed');
      })
      .finally(() => {
        if (this.#pulls.get(video.id)?.abort === abort) this.#pulls.delete(video.id);
      });
    this.#pulls.set(video.id, { abort, done });
  }

  cancel(videoId: number): void {
    this.#pulls.get(videoId)?.abort.abort();
    this.#pulls.delete(videoId);
  }

  async close(): Promise<void> {
    const pulls = [...this.#pulls.values()];
    for (const pull of pulls) pull.abort.abort();
    await Promise.all(pulls.map((p) => p.done));
  }

  async #pull(video: VideoEntity, url: string, signal: AbortSignal): Promise<void> {
    ensurePrivateDir(this.dir);
    const path = join(this.dir, String(video.id));
    let failure = ORIGIN_NOT_FOUND;
    for (let attempt = 1; attempt <= PULL_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(RETRY_PAUSE_MS, undefined, { signal });
      video.pullAttempts++;
      try {
        const res = await fetch(url, { headers: originAuthorization(video.originHttpHeaders), signal });
        if (res.status !== 200 || res.body === null) {
          await res.body?.cancel();
          failure =
            res.status === 404 || res.status === 410
              ? ORIGIN_NOT_FOUND
              : `The requested origin answered ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trim();
          continue;
        }
        // 0600 before the first byte; writing over it keeps the mode.
        await createPrivateFile(path);
        await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(path));
      } catch (error) {
        if (signal.aborted) return;
        this.logger.debug({ err: error, videoId: video.id, attempt }, 'origin pull attempt failed');
        failure = ORIGIN_NOT_FOUND;
        continue;
      }
      const facts = await inspectFile(path);
      if (!signal.aborted) this.processor.accept(video, facts);
      return;
    }
    this.store.transition(video, 'empty', failure);
  }
}
