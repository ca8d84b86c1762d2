import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { hashFileRange, sha256OfFile, uploadPaths } from '@gtr/core';

export interface ReceiveHashOptions {
  /** Uploads whose running hash is kept at once; the least recently written goes first. Default 10 000. */
  maxUploads?: number;
  /** A running hash untouched this long is dropped (the next PATCH re-hashes from disk). Default 1 h. */
  idleMs?: number;
  now?: () => number;
}

interface RunningHash {
  /** Bytes `[0, offset)` of the file are in `hash`. */
  offset: number;
  hash: Hash;
  touchedAt: number;
}

/**
 * Every upload's SHA-256, computed while its bytes arrive, so that the finished file is never
 * read again for it. Node's `Hash` cannot be serialized, so the running hash lives in this
 * process, per upload id, with the offset it covers; a PATCH that starts anywhere else (an earlier
 * PATCH went to another relay — the fleet has no sticky sessions — or this relay restarted)
 * re-hashes the stored prefix from disk once, then goes on from there.
 */
export class ReceiveHashes {
  readonly #states = new Map<string, RunningHash>();
  readonly #maxUploads: number;
  readonly #idleMs: number;
  readonly #now: () => number;

  constructor(
    private readonly directory: string,
    options: ReceiveHashOptions = {},
  ) {
    this.#maxUploads = options.maxUploads ?? 10_000;
    this.#idleMs = options.idleMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  /** How many uploads have a running hash here (for tests and metrics). */
  get size(): number {
    return this.#states.size;
  }

  /**
   * A PATCH of upload `id` writes from `offset`: the stage its body goes through on the way to
   * disk. Never rejects: when the prefix cannot be hashed the stage only passes bytes on, and the
   * digest is taken from disk when the upload finishes.
   */
  async begin(id: string, offset: number): Promise<PatchHash> {
    this.#prune();
    const file = uploadPaths(this.directory, id).data;
    const known = this.#states.get(id);
    let base: Hash | null = null;
    try {
      if (known && known.offset === offset) base = known.hash;
      // A lower offset covers bytes that never change (the file only grows): read the rest only.
      else if (known && known.offset < offset)
        base = await hashFileRange(file, known.offset, offset, known.hash.copy());
      else base = await hashFileRange(file, 0, offset);
    } catch {
      base = null;
    }
    if (!base) {
      this.#states.delete(id);
      return new PatchHash(this, id, offset, null);
    }
    // The state before this PATCH, kept if the PATCH leaves no byte behind.
    this.#set(id, { offset, hash: base, touchedAt: this.#now() });
    return new PatchHash(this, id, offset, base.copy());
  }

  /**
   * The SHA-256 (hex) of the first `size` bytes of the finished upload `id`: from the running
   * hash when it covers exactly them, else read from disk (once). Forgets the running hash.
   */
  async digest(id: string, size: number): Promise<string> {
    const known = this.#states.get(id);
    this.#states.delete(id);
    if (known && known.offset === size) return known.hash.digest('hex');
    return sha256OfFile(uploadPaths(this.directory, id).data, size);
  }

  /** The upload is finished, terminated, discarded or expired: nothing more will be written. */
  forget(id: string): void {
    this.#states.delete(id);
  }

  /** @internal A PATCH ended normally at `offset` with `hash` covering `[0, offset)`. */
  commit(id: string, offset: number, hash: Hash): void {
    this.#set(id, { offset, hash, touchedAt: this.#now() });
  }

  #set(id: string, state: RunningHash): void {
    // Re-inserted, so the Map's order is least recently written first.
    this.#states.delete(id);
    this.#states.set(id, state);
    while (this.#states.size > this.#maxUploads) {
      const oldest = this.#states.keys().next().value;
      if (oldest === undefined) break;
      this.#states.delete(oldest);
    }
  }

  #prune(): void {
    const cutoff = this.#now() - this.#idleMs;
    for (const [id, state] of this.#states) {
      if (state.touchedAt >= cutoff) break;
      this.#states.delete(id);
    }
  }
}

/** The hash of one PATCH: a stage for its body, then either `commit` or `fail`. */
export class PatchHash {
  #bytes = 0;

  constructor(
    private readonly hashes: ReceiveHashes,
    private readonly id: string,
    private readonly offset: number,
    private readonly hash: Hash | null,
  ) {}

  /** A pass-through stage that hashes what goes through it. */
  stage(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.hash?.update(chunk);
        this.#bytes += chunk.length;
        done(null, chunk);
      },
    });
  }

  /** The write returned normally: the file now ends at `end`. */
  commit(end: number): void {
    if (this.hash && end === this.offset + this.#bytes) this.hashes.commit(this.id, end, this.hash);
    else this.hashes.forget(this.id);
  }

  /**
   * The write threw (a refused checksum, a disconnect, a full disk) and the file is now
   * `sizeAfter` bytes: the state before the PATCH still holds when no byte of it stayed.
   */
  fail(sizeAfter: number | null): void {
    if (sizeAfter !== this.offset) this.hashes.forget(this.id);
  }
}
