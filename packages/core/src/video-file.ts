import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 1 << 20;

/** An MP4 `ftyp` box (isom, with the usual compatible brands): enough for Gcore to call it a video. */
const FTYP = Buffer.from([
  0x00,
  0x00,
  0x00,
  0x20,
  ...Buffer.from('ftypisom'),
  0x00,
  0x00,
  0x02,
  0x00,
  ...Buffer.from('isomiso2avc1mp41'),
]);

/**
 * Writes a `size`-byte file that starts like an MP4 and continues with bytes that are pseudo-random
 * but the same for the same `seed`. Streamed, never held whole: fine for 1 GiB benchmark files.
 */
export async function writeVideoFile(path: string, size: number, seed = 1): Promise<{ sha256: string }> {
  const hash = createHash('sha256');
  // AES-CTR over zeros is a fast, seedable stream of pseudo-random bytes.
  const key = createHash('sha256').update(`gcore-emulator:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);

  async function* chunks(): AsyncGenerator<Buffer> {
    for (let written = 0; written < size; written += CHUNK) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(CHUNK, size - written)));
      if (written === 0) FTYP.copy(chunk, 0, 0, Math.min(FTYP.length, chunk.length));
      hash.update(chunk);
      yield chunk;
    }
  }

  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return { sha256: hash.digest('hex') };
}
