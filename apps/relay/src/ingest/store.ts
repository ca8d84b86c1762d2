import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import type { Upload } from '@tus/utils';

/** What the relay does around the file store's own work. */
export interface StoreHooks {
  /** After the file and its info exist on disk. Throwing undoes the creation. */
  created(upload: Upload): Promise<void>;
  /** Bytes are arriving (`settled` false: the hook may throttle) or a write ended (`settled` true). */
  progress(id: string, offset: number, settled: boolean): void;
  /** Every chunk written, for the bytes-received counter. */
  received(bytes: number): void;
  /** The tool terminated the upload (TUS DELETE). */
  terminated(id: string): Promise<void>;
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
  ) {
    super({ directory, expirationPeriodInMilliseconds });
  }

  override async create(upload: Upload): Promise<Upload> {
    const created = await super.create(upload);
    try {
      await this.hooks.created(created);
    } catch (error) {
      await super.remove(created.id).catch(() => {});
      throw error;
    }
    return created;
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    let position = offset;
    // A second 'data' listener sees the same chunks as the store's own pipe, and pauses with it.
    readable.on('data', (chunk: Buffer) => {
      position += chunk.length;
      this.hooks.received(chunk.length);
      this.hooks.progress(id, position, false);
    });
    const end = await super.write(readable, id, offset);
    this.hooks.progress(id, end, true);
    return end;
  }

  override async remove(id: string): Promise<void> {
    await super.remove(id);
    await this.hooks.terminated(id);
  }

  /** Removes the file and its info without the termination hook (cancel, expiry, after forwarding). */
  async discard(id: string): Promise<void> {
    await super.remove(id).catch(() => {});
  }

  override deleteExpired(): Promise<number> {
    throw new Error('the relay expires uploads itself; FileStore.deleteExpired would delete finished ones');
  }
}
