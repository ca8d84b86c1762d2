import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, getHashes, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError, type ErrorCode } from '@gtr/core';

/**
 * The TUS checksum extension (and checksum-trailer): a PATCH — or a creation-with-upload POST —
 * that carries `Upload-Checksum: <algorithm> <base64 digest>` is hashed while it is written, and
 * its bytes are kept only when the digest matches. The verdict is given by RelayFileStore.write,
 * which throws (and puts the file back as it was) when the bytes cannot be kept.
 */

/**
 * Advertised in `Tus-Checksum-Algorithm`: sha1 (which the spec requires) and the other digests
 * OpenSSL computes at hundreds of MB/s, as far as this Node's OpenSSL offers them (md5 is missing
 * in FIPS mode).
 */
export const CHECKSUM_ALGORITHMS: readonly string[] = ['sha1', 'md5', 'sha256', 'sha384', 'sha512'].filter(
  (name) => getHashes().includes(name),
);

/** Added to the store's `Tus-Extension`. */
export const CHECKSUM_EXTENSIONS = ['checksum', 'checksum-trailer'];

interface Checksum {
  algorithm: string;
  digest: Buffer;
}

/** How one request's body is checked: a checksum in its headers, or one promised as a trailer. */
type Expected = { checksum: Checksum } | { trailersOf: IncomingMessage };

const requests = new AsyncLocalStorage<Expected>();

/**
 * A refusal of the request's `Upload-Checksum` before any byte is read (400: malformed, or an
 * algorithm the relay does not offer), or null. Only writing requests are looked at.
 */
export function refuseChecksum(req: IncomingMessage): { code: ErrorCode; message: string } | null {
  const header = checksumHeader(req);
  if (header === undefined) return null;
  try {
    parseChecksum(header);
    return null;
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message };
    throw error;
  }
}

/**
 * Runs `handle` (the request's way through @tus/server) with the request's checksum where
 * {@link startChunkCheck} finds it: the data store's `write(stream, id, offset)` is not told
 * which request it writes for, but it runs inside this call.
 */
export function withChecksumOf<T>(req: IncomingMessage, handle: () => Promise<T>): Promise<T> {
  const header = checksumHeader(req);
  if (header !== undefined) return requests.run({ checksum: parseChecksum(header) }, handle);
  if (writes(req) && announcesChecksumTrailer(req)) return requests.run({ trailersOf: req }, handle);
  return handle();
}

/** The check of the bytes a write is about to take, or undefined when the request asks for none. */
export interface ChunkCheck {
  update(chunk: Buffer): void;
  /** After the last byte: throws the AppError to answer when the bytes must not be kept. */
  verify(): void;
}

/** Called by the data store when a write starts, inside {@link withChecksumOf}. */
export function startChunkCheck(): ChunkCheck | undefined {
  const expected = requests.getStore();
  if (!expected) return undefined;
  if ('checksum' in expected) {
    const { algorithm, digest } = expected.checksum;
    const hash = createHash(algorithm);
    return {
      update: (chunk) => hash.update(chunk),
      verify: () => match(hash, digest),
    };
  }
  // The algorithm is named only after the body: every offered one runs over it. Only a client that
  // chose trailers pays for that (no common client does; browsers cannot send trailers at all).
  const hashes = new Map(CHECKSUM_ALGORITHMS.map((name) => [name, createHash(name)]));
  const req = expected.trailersOf;
  return {
    update: (chunk) => {
      for (const hash of hashes.values()) hash.update(chunk);
    },
    verify: () => {
      // Node fills in `trailers` when the body's last chunk has been read, before its end.
      const trailer = req.trailers['upload-checksum'];
      if (trailer === undefined) {
        throw new AppError(
          'INVALID_CHECKSUM',
          'the request announced an Upload-Checksum trailer (Trailer: Upload-Checksum) but sent none; nothing was stored',
        );
      }
      const { algorithm, digest } = parseChecksum(trailer);
      match(hashes.get(algorithm)!, digest);
    },
  };
}

function match(hash: Hash, expected: Buffer): void {
  if (hash.digest().equals(expected)) return;
  // Also what a body cut off (client gone, or its lock handed to a newer request) ends in: the
  // spec verifies "once the entire request has been received", so bytes that cannot be verified
  // are not kept, unlike a PATCH without a checksum, whose partial body stays (as with tusd).
  throw new AppError(
    'CHECKSUM_MISMATCH',
    'the bytes that arrived do not match Upload-Checksum; none of them were kept: send them again from the same Upload-Offset',
  );
}

/** `<algorithm> <base64 digest>`, the digest as long as the algorithm's; throws a 400 AppError. */
function parseChecksum(value: string): Checksum {
  const match = /^\s*([^\s]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(value);
  const algorithm = match?.[1];
  if (algorithm !== undefined && !CHECKSUM_ALGORITHMS.includes(algorithm)) {
    throw new AppError(
      'CHECKSUM_ALGORITHM_UNSUPPORTED',
      `Upload-Checksum: the relay offers ${CHECKSUM_ALGORITHMS.join(', ')} (Tus-Checksum-Algorithm), not ${JSON.stringify(algorithm.slice(0, 32))}; nothing was stored`,
    );
  }
  const digest =
    match?.[2] !== undefined && match[2].length % 4 === 0 ? Buffer.from(match[2], 'base64') : null;
  if (!algorithm || !digest || digest.length !== createHash(algorithm).digest().length) {
    throw new AppError(
      'INVALID_CHECKSUM',
      'Upload-Checksum must be "<algorithm> <base64 digest of the body>", e.g. "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="; nothing was stored',
    );
  }
  return { algorithm, digest };
}

/** Requests whose body @tus/server writes: PATCH, and POST (creation-with-upload). */
const writes = (req: IncomingMessage): boolean => req.method === 'PATCH' || req.method === 'POST';

function checksumHeader(req: IncomingMessage): string | undefined {
  const value = writes(req) ? req.headers['upload-checksum'] : undefined;
  // Node joins repeated headers of unknown names with ", ", which no single checksum matches.
  return Array.isArray(value) ? value.join(', ') : value;
}

function announcesChecksumTrailer(req: IncomingMessage): boolean {
  return (req.headers.trailer ?? '')
    .split(',')
    .some((name) => name.trim().toLowerCase() === 'upload-checksum');
}
