import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { SNIFF_BYTES } from './container.js';

/** What the emulator learns from a received file. */
export interface FileFacts {
  size: number;
  sha256: string;
  /** The first bytes, for recognising the container. */
  head: Buffer;
}

/** Streams the file once: never holds it whole, so gigabyte benchmark files are fine. */
export async function inspectFile(path: string): Promise<FileFacts> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headLength = 0;
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (headLength < SNIFF_BYTES) {
      const part = chunk.subarray(0, SNIFF_BYTES - headLength);
      head.push(part);
      headLength += part.length;
    }
  }
  return { size, sha256: hash.digest('hex'), head: Buffer.concat(head) };
}
