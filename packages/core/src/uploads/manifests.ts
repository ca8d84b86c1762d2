import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobKind, JobRequest } from '../jobs/types.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './files.js';

/**
 * What the relay keeps next to each uploaded file (`<id>.relay.json`), so that Redis is a queue
 * and an index, not the only copy: from this manifest alone a lost job can be rebuilt.
 * It holds no secrets (Gcore's TUS token lives only in Redis, and is cheap to fetch again).
 */
export interface UploadManifest {
  id: string;
  kind: JobKind;
  name: string;
  filename: string | null;
  size: number | null;
  created_at: string;
  request: JobRequest;
  /** When the last byte arrived; null while receiving. */
  completed_at: string | null;
  /** Gcore's video id once it was created: the guard against a second video for one upload. */
  video_id: number | null;
  client_id: number | null;
  /** The TUS upload at Gcore, once created: a resume point. */
  upload_url: string | null;
  /** When Gcore acknowledged the last byte. */
  uploaded_at: string | null;
  /** The name of the token that made the upload; absent in manifests written before owners. */
  owner?: string | null;
  /**
   * SHA-256 (hex) of the complete file as the relay received it; set with `completed_at`. Absent
   * in manifests written before the field (then the file is hashed from disk when it is queued).
   */
  sha256?: string | null;
  /** The batch the upload joined (`batch` in its Upload-Metadata); absent when none. */
  batch?: string | null;
}

const SUFFIX = '.relay.json';
/** `<id>.relay.json.<8 hex>.tmp`, as write() names its temp files. */
const TEMP = /\.relay\.json\.[0-9a-f]{8}\.tmp$/;

/**
 * Serializes the read-modify-writes and removals of one manifest across processes (relays and
 * workers share the upload dir): see `redisManifestLock`.
 */
export type ManifestLock = <T>(id: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Reads and writes upload manifests atomically (write to a temp file, then rename). With a
 * `lock`, `update` and `remove` hold it, so that two processes never lose each other's fields
 * and a removed manifest is never written back.
 */
export class UploadManifests {
  constructor(
    readonly directory: string,
    private readonly lock?: ManifestLock,
  ) {}

  file(id: string): string {
    return path.join(this.directory, `${id}${SUFFIX}`);
  }

  async read(id: string): Promise<UploadManifest | null> {
    try {
      return JSON.parse(await fs.readFile(this.file(id), 'utf8')) as UploadManifest;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(manifest: UploadManifest): Promise<void> {
    await fs.mkdir(this.directory, { recursive: true, mode: PRIVATE_DIR_MODE });
    const target = this.file(manifest.id);
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      // 0600 whatever the umask: the manifest names the video and its callback URL.
      const handle = await fs.open(temp, 'wx', PRIVATE_FILE_MODE);
      try {
        await handle.chmod(PRIVATE_FILE_MODE);
        await handle.writeFile(JSON.stringify(manifest, null, 2));
      } finally {
        await handle.close();
      }
      await fs.rename(temp, target);
    } catch (error) {
      // A full disk leaves a partial temp file: never let it pile up next to the uploads.
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  /** Read-modify-write; returns the new manifest, or null when there is none. */
  async update(id: string, patch: Partial<Omit<UploadManifest, 'id'>>): Promise<UploadManifest | null> {
    return this.locked(id, async () => {
      const current = await this.read(id);
      if (!current) return null;
      const next = { ...current, ...patch };
      await this.write(next);
      return next;
    });
  }

  async remove(id: string): Promise<void> {
    await this.locked(id, () => fs.rm(this.file(id), { force: true }));
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.lock ? this.lock(id, fn) : fn();
  }

  /**
   * Removes temp files of writes that never reached their rename (the writer was killed between
   * the two) once they are older than `olderThanMs`; a younger one may be a write in progress.
   * Returns how many it removed.
   */
  async sweepTemp(olderThanMs: number, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.directory);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names.filter((n) => TEMP.test(n))) {
      const file = path.join(this.directory, name);
      const stat = await fs.stat(file).catch(() => null);
      if (stat && now - stat.mtimeMs > olderThanMs) {
        await fs.rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  async ids(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.filter((n) => n.endsWith(SUFFIX)).map((n) => n.slice(0, -SUFFIX.length));
  }
}
