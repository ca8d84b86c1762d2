import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ChunkObserver } from './chunk-reader.js';
import { GcoreError } from './errors.js';

/**
 * The file on disk is not the one the tool sent: its SHA-256 differs from the one the relay
 * computed while receiving it. Thrown before the last bytes go to Gcore, so Gcore never holds the
 * changed file whole. Retryable: restoring the file (or uploading again) is what helps.
 */
export class IntegrityMismatchError extends GcoreError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      'UPLOAD_INTEGRITY_MISMATCH',
      `the file on the relay's disk no longer matches what the tool sent (sha256 ${actual}, the tool sent ${expected}); the last chunk was not sent to Gcore`,
      { retryable: true },
    );
    this.name = 'IntegrityMismatchError';
  }
}

/**
 * Hashes, in order, the bytes a forward sends (as {@link ChunkReader} hands them to the socket)
 * and checks the digest of the whole file against `expected` before the last piece goes out.
 * A PATCH that starts elsewhere than where the hash stands (a resume after a failed request, or a
 * forward resuming a saved Gcore upload at offset > 0) first brings the hash there from disk:
 * from the start of the previous PATCH when it lies behind, from the start of the file otherwise.
 */
export class SendHash implements ChunkObserver {
  #hash: Hash = createHash('sha256');
  /** Bytes `[0, offset)` are in `#hash`. */
  #offset = 0;
  /** The hash at the start of the latest PATCH, for a resume inside it. */
  #mark: { offset: number; hash: Hash } | undefined;

  constructor(
    private readonly path: string,
    private readonly size: number,
    /** The digest the file must have, or a look-up of it (null: not known, no check). */
    private readonly expected: string | (() => string | null | Promise<string | null>),
  ) {}

  async seek(start: number): Promise<void> {
    if (start !== this.#offset) {
      const mark = this.#mark;
      if (mark && mark.offset <= start && start < this.#offset) {
        this.#hash = mark.hash.copy();
        this.#offset = mark.offset;
      } else if (start < this.#offset) {
        this.#hash = createHash('sha256');
        this.#offset = 0;
      }
      await this.#hashFromDisk(start);
    }
    this.#mark = { offset: start, hash: this.#hash.copy() };
  }

  piece(position: number, bytes: Buffer): void | Promise<void> {
    const end = position + bytes.length;
    if (end <= this.#offset) return;
    if (position > this.#offset) {
      // Not reachable while every PATCH starts with seek(): refuse rather than hash a gap.
      throw new Error(`the hash of the forward is at ${this.#offset}, a piece came for ${position}`);
    }
    this.#hash.update(position < this.#offset ? bytes.subarray(this.#offset - position) : bytes);
    this.#offset = end;
    if (end < this.size) return;
    const actual = this.#hash.copy().digest('hex');
    const expected = typeof this.expected === 'function' ? this.expected() : this.expected;
    if (expected instanceof Promise) return expected.then((known) => check(known, actual));
    check(expected, actual);
  }

  async #hashFromDisk(end: number): Promise<void> {
    if (end <= this.#offset) return;
    const stream = createReadStream(this.path, {
      start: this.#offset,
      end: end - 1,
      highWaterMark: 1024 * 1024,
    });
    for await (const chunk of stream) {
      this.#hash.update(chunk as Buffer);
      this.#offset += (chunk as Buffer).length;
    }
    if (this.#offset !== end) throw new Error(`the file ended at ${this.#offset} bytes, before ${end}`);
  }
}

function check(expected: string | null, actual: string): void {
  if (expected && actual !== expected) throw new IntegrityMismatchError(expected, actual);
}

/** SHA-256 (hex) of the first `size` bytes of a file. */
export async function sha256OfFilePrefix(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1, highWaterMark: 1024 * 1024 }))
      hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
