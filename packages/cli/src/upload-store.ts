import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PreviousUpload, UrlStorage } from 'tus-js-client';

/** Entries older than this are dropped on the next write: the relay expired those uploads long ago. */
const MAX_AGE_MS = 30 * 24 * 3_600_000;

type StoredUpload = Omit<PreviousUpload, 'urlStorageKey'> & { storedAt?: number };

/** `$XDG_CONFIG_HOME/gcore-tus-relay/uploads.json`, else `~/.config/gcore-tus-relay/uploads.json`. */
export function defaultUploadStorePath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'gcore-tus-relay', 'uploads.json');
}

/**
 * tus-js-client's URL storage in one JSON file, so an interrupted `pnpm relay upload` resumes
 * when run again. Keys are `tus::<fingerprint>::<random>`, as tus-js-client's own stores do.
 * Writes go to a temporary file renamed over the old one, so a crash never leaves half a file.
 */
export class FileUploadStore implements UrlStorage {
  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  async findAllUploads(): Promise<PreviousUpload[]> {
    return this.find('tus::');
  }

  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return this.find(`tus::${fingerprint}::`);
  }

  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `tus::${fingerprint}::${randomBytes(6).toString('hex')}`;
    const data = await this.read();
    const { urlStorageKey: _ignored, ...stored } = upload as PreviousUpload & { urlStorageKey?: string };
    data[key] = { ...stored, storedAt: this.now() };
    await this.write(data);
    return key;
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    const data = await this.read();
    if (!(urlStorageKey in data)) return;
    delete data[urlStorageKey];
    await this.write(data);
  }

  private async find(prefix: string): Promise<PreviousUpload[]> {
    const data = await this.read();
    return Object.entries(data)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => ({ ...value, urlStorageKey: key }))
      .sort((a, b) => (b.storedAt ?? 0) - (a.storedAt ?? 0));
  }

  private async read(): Promise<Record<string, StoredUpload>> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
        ? (parsed as Record<string, StoredUpload>)
        : {};
    } catch {
      // A damaged store only costs the ability to resume; uploading must still work.
      return {};
    }
  }

  private async write(data: Record<string, StoredUpload>): Promise<void> {
    const cutoff = this.now() - MAX_AGE_MS;
    for (const [key, value] of Object.entries(data)) {
      if ((value.storedAt ?? 0) < cutoff) delete data[key];
    }
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.file);
  }
}
