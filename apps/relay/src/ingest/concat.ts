import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { AppError, createPrivateFile, type Logger, type Principal, uploadPaths } from '@gtr/core';
import { ERRORS, type Lock, type Locker, Metadata, Uid, Upload } from '@tus/utils';
import { renderAppError, renderError } from '../http-errors.js';
import { CONCAT_METADATA, isPartialUpload, partsOfFinal } from './concat-marks.js';
import { isDiskFull } from './disk.js';
import type { RelayFileStore } from './file-store.js';
import { OWNER_METADATA } from './owner.js';
import type { ReceiveHashes } from './receive-hash.js';
import { uploadIdOfReference } from './upload-id.js';
import type { Uploads } from './uploads.js';

export interface ConcatenationOptions {
  uploadDir: string;
  store: RelayFileStore;
  uploads: Uploads;
  /** The TUS requests' locker: a partial being assembled is locked as a PATCH locks it. */
  locker: Locker;
  logger: Logger;
  /** Bytes; 0 means no limit. Applies to the sum of the partials. */
  maxUploadSize: number;
  /** UPLOAD_EXPIRY: a partial older than this is not assembled (the sweep removes it). */
  expiryMs: number;
  /** The URL of an upload, as `Location` gives it for this request. */
  urlOf(req: Request, id: string): string;
  /** PUBLIC_URL's path (`/video-relay`), under which `Location` names uploads; '' for none. */
  publicPath: string;
  /** Whether the principal may use upload `id` (the TUS requests' owner rule). */
  mayUse(principal: Principal | undefined, id: string): Promise<boolean>;
  /** What every TUS answer carries (Tus-Resumable, CORS), as @tus/server sends them. */
  responseHeaders(req: Request): Headers;
  /** The uploads' running SHA-256s: the final upload's, taken while assembling, is not read again. */
  hashes?: ReceiveHashes | null;
  now?: () => number;
}

/** What assembling wrote: the final upload's size and the SHA-256 (hex) of its bytes. */
export interface Assembled {
  size: number;
  sha256: string;
}

/**
 * The TUS concatenation extension (what tusd does), which @tus/server lacks: partial uploads are
 * created by @tus/server with a mark (see tus.ts); a final upload is made here, from finished
 * partials of the same tool, assembled in order into one new upload, which is then a finished
 * upload like any other — one job, queued before the 201 — and the partials are removed.
 */
export class Concatenation {
  private readonly now: () => number;

  constructor(private readonly options: ConcatenationOptions) {
    this.now = options.now ?? Date.now;
  }

  /** `POST` with `Upload-Concat: final;…`: the 201 with `Location`, or a JSON error. */
  async createFinal(
    req: Request,
    urls: string[],
    principal: Principal | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    try {
      const id = await this.assembleFinal(req, urls, principal, signal);
      const headers = this.options.responseHeaders(req);
      headers.set('Location', this.options.urlOf(req, id));
      return new Response(null, { status: 201, headers });
    } catch (error) {
      const headers = this.options.responseHeaders(req);
      headers.set('Content-Type', 'application/json');
      // The body of a refused request is not read: the connection cannot be reused.
      if (req.headers.get('content-length') || req.headers.get('transfer-encoding')) {
        headers.set('Connection', 'close');
      }
      const { status, body } = this.rendered(error);
      return new Response(JSON.stringify(body), { status, headers });
    }
  }

  /** The `Upload-Concat` a HEAD answers for an upload (null: neither partial nor final). */
  async headerFor(req: Request, id: string): Promise<string | null> {
    const upload = await this.options.store.configstore.get(id);
    if (isPartialUpload(upload)) return 'partial';
    const parts = partsOfFinal(upload);
    return parts ? `final;${parts.map((part) => this.options.urlOf(req, part)).join(' ')}` : null;
  }

  /** Whether the upload is a final upload: it takes no PATCH. */
  async isFinal(id: string): Promise<boolean> {
    return partsOfFinal(await this.options.store.configstore.get(id)) !== null;
  }

  /** The owner of a partial upload (it has no job to ask); null for any other upload. */
  async partialOwner(id: string): Promise<string | null> {
    const upload = await this.options.store.configstore.get(id);
    return isPartialUpload(upload) ? (upload?.metadata?.[OWNER_METADATA] ?? null) : null;
  }

  /** Checks, assembles, records and queues the final upload; returns its id. */
  private async assembleFinal(
    req: Request,
    urls: string[],
    principal: Principal | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    if (!req.headers.get('tus-resumable')) {
      throw new AppError('TUS_VERSION_MISMATCH', 'Tus-Resumable Required', 412);
    }
    // As tusd: a final upload is complete as created, so its creation carries no chunk.
    if (req.headers.get('content-type') === 'application/offset+octet-stream' || hasBody(req)) {
      throw new AppError('CONCAT_FINAL_IMMUTABLE', 'a final upload is created without a body', 403);
    }
    const metadata = parseMetadata(req.headers.get('upload-metadata'));
    const ids = urls.map((url) => {
      const id = uploadIdOfReference(url, this.options.publicPath);
      if (!id) throw new AppError('UPLOAD_NOT_FOUND', `no partial upload at ${shorten(url)}`, 404);
      return id;
    });
    // Before any lock: another tool's upload (which it may be writing right now) is not even waited for.
    for (const id of new Set(ids)) {
      if (!(await this.options.mayUse(principal, id))) {
        throw new AppError('UPLOAD_NOT_FOUND', `no partial upload ${id}`, 404);
      }
    }
    const locks = await this.lockAll([...new Set(ids)].sort(), signal);
    try {
      const parts: Upload[] = [];
      for (const id of ids) parts.push(await this.finishedPartial(id));
      const size = parts.reduce((sum, part) => sum + (part.size ?? 0), 0);
      const { maxUploadSize } = this.options;
      if (maxUploadSize > 0 && size > maxUploadSize) {
        throw new AppError(
          'UPLOAD_TOO_LARGE',
          `the partial uploads add up to ${size} bytes, more than MAX_UPLOAD_SIZE (${maxUploadSize})`,
          413,
        );
      }
      const owner = principal?.name;
      const upload = new Upload({
        id: Uid.rand(),
        size,
        offset: 0,
        // The final request's metadata, not the partials' (the spec: they are not transferred).
        metadata: {
          ...metadata,
          ...(owner ? { [OWNER_METADATA]: owner } : {}),
          [CONCAT_METADATA]: `final;${ids.join(' ')}`,
        },
      });
      await this.options.uploads.validate(upload, principal);
      // While it is assembled it is one more open upload of its tool (and its size more on the
      // disk), in place of its partials; recording it as finished frees the place.
      await this.options.uploads.reserve(upload, principal, ids);
      let assembled: Assembled;
      try {
        const [lock] = await this.lockAll([upload.id], signal);
        try {
          assembled = await this.assemble(upload, parts, signal);
          await this.record(upload);
        } finally {
          await lock!.unlock();
        }
      } catch (error) {
        await this.options.uploads.discarded(upload.id);
        throw error;
      }
      // Assembled and queued: the partials have served (a second final of them would be a
      // second video), so they go, as tusd's filestore would let them expire.
      for (const id of new Set(ids)) await this.options.store.discard(id);
      this.options.logger.info(
        { uploadId: upload.id, parts: ids, size, sha256: assembled.sha256, owner: owner ?? null },
        'final upload assembled from partial uploads and queued',
      );
      return upload.id;
    } finally {
      for (const lock of locks) await lock.unlock().catch(() => {});
    }
  }

  /** A partial (the tool may use it: checked before its lock), finished and not expired; else the error tusd would answer. */
  private async finishedPartial(id: string): Promise<Upload> {
    const upload = await this.options.store.getUpload(id).catch(() => null);
    if (!upload) throw new AppError('UPLOAD_NOT_FOUND', `no partial upload ${id}`, 404);
    if (!isPartialUpload(upload)) {
      throw new AppError(
        'CONCAT_NOT_PARTIAL',
        `upload ${id} was not created with Upload-Concat: partial`,
        400,
      );
    }
    const created = upload.creation_date ? Date.parse(upload.creation_date) : Number.NaN;
    if (this.options.expiryMs > 0 && this.now() > created + this.options.expiryMs) {
      throw new AppError('UPLOAD_EXPIRED', `the partial upload ${id} expired (UPLOAD_EXPIRY)`, 410);
    }
    if (upload.size === undefined || upload.offset !== upload.size) {
      throw new AppError(
        'CONCAT_PARTIAL_UNFINISHED',
        `the partial upload ${id} has ${upload.offset} of ${upload.size ?? 'an unknown number of'} bytes`,
        400,
      );
    }
    return upload;
  }

  /**
   * Writes the final upload's info (unfinished: the sweep removes it if this process dies
   * midway) and streams the partials into its file, in order. On any failure nothing of it stays.
   */
  async assemble(upload: Upload, parts: readonly Upload[], signal: AbortSignal): Promise<Assembled> {
    const { uploadDir, store } = this.options;
    const paths = uploadPaths(uploadDir, upload.id);
    const hash = createHash('sha256');
    let written = 0;
    try {
      await createPrivateFile(paths.data);
      await createPrivateFile(paths.info);
      await store.configstore.set(upload.id, upload);
      await pipeline(
        async function* () {
          for (const part of parts) {
            for await (const chunk of fs.createReadStream(uploadPaths(uploadDir, part.id).data)) {
              hash.update(chunk as Buffer);
              written += (chunk as Buffer).length;
              yield chunk as Buffer;
            }
          }
        },
        fs.createWriteStream(paths.data, { flags: 'r+' }),
        { signal },
      );
      if (written !== upload.size) {
        throw new Error(`assembled ${written} bytes of ${upload.size}: a partial changed`);
      }
    } catch (error) {
      await store.discard(upload.id);
      throw error;
    }
    this.options.hashes?.commit(upload.id, written, hash.copy());
    return { size: written, sha256: hash.digest('hex') };
  }

  /**
   * The manifest and job of the final upload, then the durable enqueue, as for the last PATCH of
   * any upload. If queueing fails the final upload is undone (the partials stay), so that the
   * client's retry of the final POST makes one job, not two.
   */
  private async record(upload: Upload): Promise<void> {
    const { store, uploads, logger } = this.options;
    try {
      await uploads.created(upload);
    } catch (error) {
      await store.discard(upload.id);
      throw error;
    }
    try {
      await uploads.finished(Object.assign(upload, { offset: upload.size }));
    } catch (error) {
      logger.error({ err: error, uploadId: upload.id }, 'final upload could not be queued: undone');
      await store.discard(upload.id);
      await uploads.abandoned(upload.id).catch((undo: unknown) => {
        logger.warn({ err: undo, uploadId: upload.id }, 'could not remove the job of an undone final upload');
      });
      throw new AppError(
        'QUEUE_UNAVAILABLE',
        'the relay cannot queue uploads right now; send the final upload again shortly',
        503,
        true,
      );
    }
  }

  /** Locks the uploads in the order given (sorted: two finals never wait on each other). */
  private async lockAll(ids: readonly string[], signal: AbortSignal): Promise<Lock[]> {
    const held: Lock[] = [];
    try {
      for (const id of ids) {
        const lock = this.options.locker.newLock(id);
        // A request that wants a partial meanwhile waits (the lock's timeout): the assembly holds
        // it until done, as stopping it would only make the client send the final again.
        await lock.lock(signal, () => {});
        held.push(lock);
      }
      return held;
    } catch (error) {
      for (const lock of held) await lock.unlock().catch(() => {});
      throw error;
    }
  }

  private rendered(error: unknown) {
    if (error instanceof AppError) return renderAppError(error, true);
    if (isDiskFull(error)) return renderError('INSUFFICIENT_STORAGE');
    // A partial stayed locked by another request for the lock's whole timeout.
    if (error === ERRORS.ERR_LOCK_TIMEOUT) return renderError('UPLOAD_LOCKED');
    if ((error as Error | undefined)?.name === 'AbortError') {
      return renderError('INVALID_REQUEST', 'the request was aborted', { status: 400 });
    }
    this.options.logger.error({ err: error }, 'final upload could not be assembled');
    return renderError('INTERNAL_ERROR');
  }
}

function parseMetadata(header: string | null): Record<string, string | null> {
  if (!header) return {};
  try {
    const metadata = Metadata.parse(header);
    delete metadata[CONCAT_METADATA];
    return metadata;
  } catch {
    throw new AppError('INVALID_REQUEST', 'Invalid upload-metadata', 400);
  }
}

const hasBody = (req: Request): boolean =>
  Number(req.headers.get('content-length') ?? 0) > 0 || req.headers.get('transfer-encoding') !== null;

/** A client's URL in a message: never more than a line. */
const shorten = (url: string): string => (url.length > 200 ? `${url.slice(0, 200)}…` : url);
