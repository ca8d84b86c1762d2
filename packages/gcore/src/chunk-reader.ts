import { type FileHandle, open } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';

/** Each PATCH body goes out through two buffers of this size, taking turns. */
const PIECE = 256 * 1024;

/** tus-js-client's file source contract (its typings do not export it). */
export interface ChunkSource {
  size: number;
  slice(start: number, end: number): Promise<{ value: ChunkBody; done: boolean }>;
  close(): void;
}

/** Sees the bytes of a forward as they go out (see send-hash.ts). */
export interface ChunkObserver {
  /** A PATCH body from `start` is about to be made (tus-js-client's slice); awaited. */
  seek(start: number): Promise<void>;
  /**
   * `bytes`, at `position` of the file, are about to be written; throwing (or rejecting) stops the
   * body first. A promise holds the piece back until it settles (the last one, until the file's
   * digest can be checked).
   */
  piece(position: number, bytes: Buffer): void | Promise<void>;
}

/**
 * The body of one PATCH: a byte range of the file, written to the request by
 * {@link ObservedHttpStack} through two small buffers. A buffer is filled again only after the
 * socket has written it (the write callback), and the pair then serves the forward's next PATCH:
 * 512 KiB per forward in progress, allocated once.
 *
 * Why not tus-js-client's own `fs.ReadStream` slices: they allocate a fresh 64 KiB Buffer per
 * read. V8 counts those bytes against the old generation's allocation limit, and in a worker
 * whose heap has settled (after idling between jobs) that starts a full mark-compact every
 * ~15–25 MB sent — measured at 3× the CPU of the transfer and 1.4× its wall time
 * (BENCHMARKS.md, "Forward").
 */
export class ChunkBody {
  constructor(
    private readonly reader: ChunkReader,
    private readonly start: number,
    /** Bytes in the range; tus-js-client reads it to check the slice. */
    readonly size: number,
  ) {}

  /**
   * Writes the range to `req` and ends it. Stops early (without ending) once the request is
   * closed or answered; rejects if the file cannot be read.
   */
  async writeTo(req: ClientRequest, onBytes: (bytes: number) => void): Promise<void> {
    const file = await this.reader.file();
    let gone = false;
    let wake: () => void = () => {};
    const stop = () => {
      gone = true;
      wake();
    };
    req.once('close', stop);
    req.once('response', stop);
    const buffers = this.reader.takeBuffers();
    const written: Array<Promise<void> | null> = [null, null];
    // Resolves when the callback of the buffer's last write ran, or the request went away.
    const settled = (p: Promise<void>) =>
      new Promise<void>((resolve) => {
        wake = resolve;
        void p.then(resolve);
      });
    try {
      let at = 0;
      for (let turn = 0; at < this.size && !gone; turn ^= 1) {
        const pending = written[turn];
        if (pending) await settled(pending);
        if (gone) return;
        const buffer = buffers[turn]!;
        const { bytesRead } = await file.read(buffer, 0, Math.min(PIECE, this.size - at), this.start + at);
        if (bytesRead === 0) throw new Error(`the file ended ${this.size - at} bytes early`);
        if (gone) return;
        const held = this.reader.sent?.piece(this.start + at, buffer.subarray(0, bytesRead));
        if (held) {
          // Held back on purpose: not a stalled transfer.
          const waiting = this.reader.observer;
          waiting?.waiting();
          try {
            await held;
          } finally {
            waiting?.done();
          }
          if (gone) return;
        }
        let room = true;
        written[turn] = new Promise<void>((resolve) => {
          room = req.write(buffer.subarray(0, bytesRead), () => resolve());
        });
        onBytes(bytesRead);
        at += bytesRead;
        if (!room && !gone) {
          await settled(
            new Promise<void>((resolve) => {
              req.once('drain', resolve);
            }),
          );
        }
      }
      if (!gone) req.end();
    } finally {
      req.off('response', stop);
      // The buffers serve the next PATCH once the socket is done with them: every write called
      // back, or the request closed (its socket destroyed, pending writes dropped).
      const released = Promise.all(written);
      const closed = new Promise<void>((resolve) => {
        if (req.closed) resolve();
        else req.once('close', () => resolve());
      });
      void Promise.race([released, closed]).then(() => {
        req.off('close', stop);
        this.reader.returnBuffers(buffers);
      });
    }
  }
}

/**
 * Resolves once the file holds the bytes up to `end` (`last`: the slice that completes the
 * upload), for a file still being written; rejects to fail the PATCH. See ForwardOptions.available.
 */
export type WaitForBytes = (end: number, last: boolean) => Promise<void>;

/** Told while a slice waits for its bytes, so that the wait does not count as a stall. */
export interface WaitObserver {
  waiting(): void;
  done(): void;
}

/**
 * A tus-js-client `fileReader` for a file on disk whose slices are {@link ChunkBody}s (sent by
 * {@link ObservedHttpStack}). One reader serves every run of one forward; `close()` ends it.
 *
 * With `available`, the file may still be growing: each slice first waits for its bytes, so no
 * PATCH is opened before they are all there. A wrapper that must see every slice before it goes
 * out (hashing what is sent) composes with `available` or with `openFile`'s source.
 */
export class ChunkReader {
  #file: Promise<FileHandle> | undefined;
  #spare: Buffer[] | undefined;
  /** The run currently using the reader (its stall watchdog). */
  observer: WaitObserver | undefined;

  constructor(
    private readonly path: string,
    private readonly size: number,
    private readonly available?: WaitForBytes,
    /** @internal Sees every piece sent (send-hash.ts). */
    readonly sent?: ChunkObserver,
  ) {}

  openFile(): Promise<ChunkSource> {
    return Promise.resolve({
      size: this.size,
      slice: async (start, end) => {
        const last = Math.min(end, this.size);
        if (this.available) {
          const observer = this.observer;
          observer?.waiting();
          try {
            await this.available(last, last >= this.size);
          } finally {
            observer?.done();
          }
        }
        await this.sent?.seek(start);
        const body = new ChunkBody(this, start, Math.max(0, last - start));
        return { value: body, done: last >= this.size };
      },
      close: () => {},
    });
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    this.#spare = undefined;
    if (file) await (await file.catch(() => null))?.close();
  }

  /** @internal The file, opened on first use. */
  file(): Promise<FileHandle> {
    this.#file ??= open(this.path, 'r');
    return this.#file;
  }

  /** @internal Two piece buffers: the spare pair, or new ones while a previous body still holds it. */
  takeBuffers(): Buffer[] {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare ?? [Buffer.allocUnsafeSlow(PIECE), Buffer.allocUnsafeSlow(PIECE)];
  }

  /** @internal */
  returnBuffers(buffers: Buffer[]): void {
    this.#spare ??= buffers;
  }
}
