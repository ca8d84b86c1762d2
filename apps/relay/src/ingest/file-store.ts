import fs from 'node:fs';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, createPrivateUploadFiles, removeUploadFiles } from '@gtr/core';
import { FileStore } from '@tus/file-store';
import { ERRORS, type Upload } from '@tus/utils';
import { lastActivityOf } from './activity.js';
import { CHECKSUM_EXTENSIONS, startChunkCheck } from './checksum.js';
import type { ReceiveHashes } from './receive-hash.js';

/** What the relay does around the file store's own work. */
export interface StoreHooks {
  /** After the file and its info exist on disk. Throwing undoes the creation. */
  created(upload: Upload): Promise<void>;
  /** Bytes are arriving (`settled` false: the hook may throttle) or a write ended (`settled` true). */
  progress(id: string, offset: number, settled: boolean): void;
  /** Every chunk written, for the bytes-received counter. */
  received(bytes: number): void;
  /**
   * `offset` bytes of the upload are in its file (written, not merely read from the request);
   * `settled`: the write ended there. What a streaming forward may send (see Uploads.written).
   */
  written(id: string, offset: number, settled: boolean): void;
  /**
   * A deferred-length upload is about to declare its length (`metadata`: its stored metadata):
   * throwing refuses the declaration, and the upload stays as it was.
   */
  declaringLength(id: string, metadata: Upload['metadata'], size: number): Promise<void>;
  /** A deferred-length upload's length was declared. */
  lengthDeclared(id: string, size: number): Promise<void>;
  /** The tool terminated the upload (TUS DELETE). */
  terminated(id: string): Promise<void>;
  /** The upload's files were removed without a termination (see {@link RelayFileStore.discard}); never throws. */
  discarded(id: string): Promise<void>;
}

/**
 * `@tus/file-store` with the relay's bookkeeping in the same steps, so that a job exists exactly
 * when a file does. Its expiry cleanup (`deleteExpired`) is never called: it would also delete
 * completed uploads that still wait to be forwarded (see maintenance/expiry.ts instead).
 */
export class RelayFileStore extends FileStore {
  constructor(
    directory: string,
    private readonly hooks: StoreHooks,
    expirationPeriodInMilliseconds: number,
    /** Each upload's SHA-256 as its bytes arrive; null turns it off (the bench's baseline). */
    private readonly hashes: ReceiveHashes | null = null,
  ) {
    super({ directory, expirationPeriodInMilliseconds });
    this.extensions = [...this.extensions, ...CHECKSUM_EXTENSIONS];
  }

  override async create(upload: Upload): Promise<Upload> {
    let created: Upload;
    try {
      // Both files exist with mode 0600 before FileStore writes them (writing keeps the mode).
      if (!(await createPrivateUploadFiles(this.directory, upload.id))) throw ERRORS.FILE_NOT_FOUND;
      created = await super.create(upload);
    } catch (error) {
      // E.g. a full disk between the empty file and its info: leave neither behind.
      await removeUploadFiles(this.directory, upload.id, { keepRecord: true }).catch(() => {});
      throw error;
    }
    try {
      await this.hooks.created(created);
    } catch (error) {
      await super.remove(created.id).catch(() => {});
      throw error;
    }
    return created;
  }

  /**
   * FileStore's write, but a full disk keeps its cause: FileStore turns every write error into a
   * 500, and a client must learn that retrying later (507) is what helps. With an Upload-Checksum
   * (see checksum.ts) the bytes are hashed on their way to the disk; when they cannot be kept, the
   * file is put back as it was (length and mtime) before the upload's lock is let go.
   */
  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const file = path.join(this.directory, id);
    const inside = path.relative(this.directory, file);
    if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) throw ERRORS.FILE_NOT_FOUND;
    let position = offset;
    const check = startChunkCheck();
    const before = check ? await fs.promises.stat(file) : undefined;
    const sink = fs.createWriteStream(file, { flags: 'r+', start: offset });
    const count = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        check?.update(chunk);
        position += chunk.length;
        this.hooks.received(chunk.length);
        this.hooks.progress(id, position, false);
        // `bytesWritten` counts the writes the file has taken, not those still buffered. A PATCH
        // with `Upload-Checksum` may yet be refused whole: its bytes are told only once verified.
        if (!check) this.hooks.written(id, offset + sink.bytesWritten, false);
        done(null, chunk);
      },
    });
    const hash = await this.hashes?.begin(id, offset);
    const stages = hash ? [count, hash.stage()] : [count];
    try {
      await pipeline([readable, ...stages, sink]);
      check?.verify();
    } catch (error) {
      if (before) {
        await fs.promises.truncate(file, offset);
        await fs.promises.utimes(file, before.atime, before.mtime);
      }
      // What reached the disk is the offset a resume starts from.
      const size = await fs.promises.stat(file).then(
        (stat) => stat.size,
        () => null,
      );
      if (size !== null) {
        this.hooks.progress(id, size, true);
        this.hooks.written(id, size, true);
      }
      hash?.fail(size);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new AppError(
          'INSUFFICIENT_STORAGE',
          'the relay ran out of disk space for this upload; resume it later',
          507,
          true,
          { cause: error },
        );
      }
      if (error instanceof AppError) throw error;
      throw ERRORS.FILE_WRITE_ERROR;
    }
    hash?.commit(position);
    this.hooks.progress(id, position, true);
    this.hooks.written(id, position, true);
    return position;
  }

  /**
   * FileStore's upload, with `creation_date` moved on to its last byte (activity.ts): @tus/server
   * counts its 410 and `Upload-Expires` from `creation_date`, and UPLOAD_EXPIRY runs from the last
   * byte. Nothing in the relay reads it as the creation time: the manifest's and the job's
   * `created_at` come from the upload `create` returns, before any byte.
   */
  override async getUpload(id: string): Promise<Upload> {
    const upload = await super.getUpload(id);
    const last = await lastActivityOf(upload);
    if (last !== null) upload.creation_date = new Date(last).toISOString();
    return upload;
  }

  /** When upload `id` last took a byte (its creation if none yet), or null if it is not here. */
  async lastActivity(id: string): Promise<number | null> {
    const upload = await this.getUpload(id).catch(() => null);
    const at = upload?.creation_date ? Date.parse(upload.creation_date) : Number.NaN;
    return Number.isFinite(at) ? at : null;
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    await this.hooks.declaringLength(id, (await this.configstore.get(id))?.metadata, length);
    await super.declareUploadLength(id, length);
    await this.hooks.lengthDeclared(id, length);
  }

  override async remove(id: string): Promise<void> {
    await super.remove(id);
    this.hashes?.forget(id);
    await this.hooks.terminated(id);
  }

  /**
   * Removes the file and its info without the termination hook (cancel, expiry, a refused
   * creation, a final upload's partials once assembled, after forwarding).
   */
  async discard(id: string): Promise<void> {
    this.hashes?.forget(id);
    await super.remove(id).catch(() => {});
    await this.hooks.discarded(id);
  }

  override deleteExpired(): Promise<number> {
    throw new Error('the relay expires uploads itself; FileStore.deleteExpired would delete finished ones');
  }
}
