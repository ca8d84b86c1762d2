import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';

/** Reads for hashing in pieces this large: few syscalls, little memory. */
const READ_BYTES = 1024 * 1024;

/**
 * Feeds bytes `[start, end)` of `file` into `hash` (a new SHA-256 unless given) and returns it,
 * not yet digested. Rejects when the file ends before `end`, so a hash never silently covers less
 * than it claims.
 */
export async function hashFileRange(
  file: string,
  start: number,
  end: number,
  hash: Hash = createHash('sha256'),
): Promise<Hash> {
  if (end <= start) return hash;
  let at = start;
  const stream = fs.createReadStream(file, { start, end: end - 1, highWaterMark: READ_BYTES });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    at += (chunk as Buffer).length;
  }
  if (at !== end) throw new Error(`${file} ended at ${at} bytes, before ${end}`);
  return hash;
}

/** SHA-256 (hex) of a whole file, or of its first `size` bytes. */
export async function sha256OfFile(file: string, size?: number): Promise<string> {
  const end = size ?? (await fs.promises.stat(file)).size;
  return (await hashFileRange(file, 0, end)).digest('hex');
}
