import path from 'node:path';
import { AppError, type Logger, type Principal } from '@gtr/core';
import { Server } from '@tus/server';
import { type Locker, Uid } from '@tus/utils';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { principalOf } from '../auth.js';
import { allowedOrigin, type CorsOrigins } from '../cors.js';
import type { RelayMetrics } from '../metrics.js';
import { answersUnfinished, uploadExpires } from './activity.js';
import { CHECKSUM_ALGORITHMS, refuseChecksum, withChecksumOf } from './checksum.js';
import { Concatenation } from './concat.js';
import { CONCAT_METADATA, parseUploadConcat } from './concat-marks.js';
import { refusesCreation, undoCreation } from './disk.js';
import { sendDownload } from './download.js';
import { RelayFileStore } from './file-store.js';
import { answerFinished } from './finished.js';
import { OWNER_METADATA, mayUse as ownerMayUse } from './owner.js';
import type { ReceiveHashes } from './receive-hash.js';
import {
  applyMethodOverride,
  type Refusal,
  refuseConcat,
  refuseForeign,
  refuseMalformed,
  refuseTarget,
  sendRefusal,
} from './refusals.js';
import { asJsonError, gone, tusErrorAnswer, withJsonBody } from './tus-errors.js';
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, tusHeaders } from './tus-headers.js';
import { nodeRequestOf, principalOfTusRequest, removeHeader } from './tus-request.js';
import { TUS_PATH, uploadIdOfRequest, uploadTargetOfRequest } from './upload-id.js';
import type { Uploads } from './uploads.js';

export interface TusIngestOptions {
  uploadDir: string;
  uploads: Uploads;
  metrics: RelayMetrics;
  logger: Logger;
  /** Bytes; 0 means no limit. */
  maxUploadSize: number;
  /**
   * Advertised as `Upload-Expires` (on POST, PATCH and HEAD of an unfinished upload); unfinished
   * uploads that took no byte for this long are refused and removed.
   */
  expiryMs: number;
  /** Build `Location` from `X-Forwarded-*`/`Forwarded` (behind a reverse proxy). */
  trustProxy: boolean;
  /** `PUBLIC_URL`: when set, `Location` is built from it alone (never from `Host` or forwarded headers). */
  publicUrl?: string | undefined;
  /** `CORS_ORIGINS`: `*`, or the only browser origins that get `Access-Control-Allow-Origin`. */
  corsOrigins?: CorsOrigins;
  /**
   * Whether a HEAD/PATCH that @tus/server answered 410 (it found the upload expired) or 404 is
   * about an expired upload. For a 410 it also removes the upload and fails its job before the
   * answer leaves, so that the client and the jobs API agree from that moment on; a 404 for an
   * upload whose job failed `UPLOAD_EXPIRED` (removed by the sweep or a look at the job) is
   * answered 410 as well.
   */
  expired(id: string, tusSaysGone: boolean): Promise<boolean>;
  /**
   * The length of an upload that finished (within FINISHED_UPLOAD_RETENTION) and whose file is
   * gone or past its expiry, else null: its HEAD/PATCH/DELETE are answered as if it were still here.
   */
  finishedLength(id: string): Promise<number | null>;
  /** The owner of an upload's job (null: none known), for tools that may touch only their own. */
  ownerOf(id: string): Promise<string | null>;
  /**
   * Every PATCH, HEAD, DELETE (and creation-with-upload) holds the upload's lock: in Redis (the
   * RedisLocker); @tus/server's MemoryLocker only with UPLOAD_LOCKER=memory (benchmarks).
   */
  locker: Locker;
  /** Each upload's SHA-256 as its bytes arrive (shared with `uploads`); null: none. */
  hashes?: ReceiveHashes | null;
}

export interface TusIngest {
  server: Server;
  store: RelayFileStore;
  concatenation: Concatenation;
  handle(req: ExpressRequest, res: ExpressResponse): Promise<void>;
}

export function createTusIngest(options: TusIngestOptions): TusIngest {
  const { uploads, logger, metrics } = options;
  const store = new RelayFileStore(
    path.resolve(options.uploadDir),
    {
      created: (upload) => uploads.created(upload),
      progress: (id, offset, settled) => uploads.progress(id, offset, settled),
      received: (bytes) => metrics.bytesReceived.inc(bytes),
      written: (id, offset, settled) => uploads.written(id, offset, settled),
      declaringLength: (id, metadata, size) => uploads.declaring(id, metadata, size),
      lengthDeclared: (id, size) => uploads.lengthDeclared(id, size),
      terminated: (id) => uploads.terminated(id),
      discarded: (id) => uploads.discarded(id),
    },
    options.expiryMs,
    options.hashes ?? null,
  );
  // Implemented around @tus/server (concat.ts), which has no concatenation of its own.
  store.extensions.push('concatenation');

  // The id each creation request got, so a creation refused after its files exist can be undone.
  const createdBy = new WeakMap<Request, string>();
  // Creations with `Upload-Concat: partial` (the header is taken off before @tus/server sees it).
  const partials = new WeakSet<Request>();
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const corsOrigins = options.corsOrigins ?? '*';
  const server = new Server({
    path: TUS_PATH,
    datastore: store,
    // The id `handle` checked the owner of, never one @tus/server reads from the URL itself.
    getFileIdFromRequest: (req) => {
      const node = nodeRequestOf(req);
      return (node && uploadIdOfRequest(node)) ?? undefined;
    },
    namingFunction: (req) => {
      const id = Uid.rand();
      createdBy.set(req, id);
      return id;
    },
    ...(publicUrl ? { generateUrl: (_req, { path: base, id }) => `${publicUrl}${base}/${id}` } : {}),
    locker: options.locker,
    // How long a request asked to let go of its lock (another request, on any relay, wants the
    // upload) may still finish what it is doing: then it is ended and its bytes so far stay.
    lockDrainTimeout: 1_000,
    ...(options.maxUploadSize > 0 ? { maxSize: options.maxUploadSize } : {}),
    respectForwardedHeaders: options.trustProxy,
    // Only a listed origin gets itself back; @tus/server would answer any other with the first.
    ...(corsOrigins !== '*'
      ? { allowedOrigins: (origin: string) => allowedOrigin(corsOrigins, origin) !== null }
      : {}),
    // Browsers may send and read these on /files (beyond @tus/server's own TUS header list).
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    // A finished upload belongs to its job now; cancel it through the jobs API instead.
    disableTerminationForFinishedUploads: true,
    onUploadCreate: async (req, upload) => {
      const partial = partials.has(req);
      const principal = principalOfTusRequest(req);
      // A partial's metadata is not the video's (the final upload brings that): no filename needed.
      if (!partial) await uploads.validate(upload, principal);
      // Last: a refusal after it would leave its place in the quota held.
      await uploads.reserve(upload, principal);
      // Who made it, as the relay's own guard found it (never what the client says).
      const owner = principal?.name;
      const { [CONCAT_METADATA]: claimed, ...metadata } = upload.metadata ?? {};
      if (!owner && !partial && claimed === undefined) return {};
      return {
        metadata: {
          ...metadata,
          ...(owner ? { [OWNER_METADATA]: owner } : {}),
          ...(partial ? { [CONCAT_METADATA]: 'partial' } : {}),
        },
      };
    },
    onUploadFinish: async (_req, upload) => {
      try {
        await uploads.finished(upload);
      } catch (error) {
        logger.error({ err: error, uploadId: upload.id }, 'finished upload could not be queued yet');
        throw new AppError(
          'QUEUE_UNAVAILABLE',
          'the upload is stored but could not be queued yet; the relay queues it as soon as it can',
          503,
          true,
        );
      }
      return {};
    },
    onResponseError: (_req, error) => tusErrorAnswer(error, logger),
  });

  const concatenation = new Concatenation({
    uploadDir: options.uploadDir,
    store,
    uploads,
    locker: options.locker,
    logger,
    maxUploadSize: options.maxUploadSize,
    expiryMs: options.expiryMs,
    hashes: options.hashes ?? null,
    urlOf: (req, id) => server.handlers.POST.generateUrl(req, id),
    publicPath: publicUrl ? new URL(publicUrl).pathname.replace(/\/+$/, '') : '',
    mayUse: (principal, id) => mayUse(principal, id),
    responseHeaders: (req) => tusHeaders(corsOrigins, req.headers.get('origin')),
  });

  /** The owner rule (owner.ts), with this relay's lookups. */
  function mayUse(principal: Principal | undefined, id: string): Promise<boolean> {
    return ownerMayUse(principal, id, {
      ownerOf: (upload) => options.ownerOf(upload),
      partialOwner: (upload) => concatenation.partialOwner(upload),
    });
  }

  /** @tus/server's answer, or for `Upload-Concat` creations and HEADs the concatenation's part. */
  async function answer(req: ExpressRequest, res: ExpressResponse, principal?: Principal): Promise<Response> {
    const concat = req.method === 'POST' ? parseUploadConcat(req.get('upload-concat')) : null;
    if (concat?.kind === 'final') {
      const aborted = new AbortController();
      res.once('close', () => aborted.abort());
      return concatenation.createFinal(new NodeRequest({ req, res }), concat.urls, principal, aborted.signal);
    }
    if (concat?.kind === 'partial') removeHeader(req, 'upload-concat');
    const webRequest = new NodeRequest({ req, res });
    if (concat?.kind === 'partial') partials.add(webRequest);
    const response = await server.handleWeb(webRequest);
    const createdId = createdBy.get(webRequest);
    if (createdId && refusesCreation(response.status))
      await undoCreation(createdId, { store, uploads, logger });
    const id = req.method === 'HEAD' && response.status === 200 ? uploadIdOfRequest(req) : null;
    const header = id ? await concatenation.headerFor(webRequest, id) : null;
    if (header) response.headers.set('Upload-Concat', header);
    return response;
  }

  async function handle(req: ExpressRequest, res: ExpressResponse): Promise<void> {
    const principal = principalOf(res);
    const target = uploadTargetOfRequest(req);
    const wireMethod = req.method;
    // From here on (checks, @tus/server, logs, metrics) the method is the effective one.
    const refused: Refusal | null =
      applyMethodOverride(req) ??
      refuseTarget(req.method, target) ??
      refuseMalformed(req) ??
      refuseChecksum(req) ??
      (await refuseForeign(req.method, target, principal, mayUse)) ??
      (await refuseConcat(req, (id) => concatenation.isFinal(id)));
    if (corsOrigins !== '*') res.vary('Origin');
    if (refused) {
      if (req.method === 'POST') metrics.uploadsRefused.inc({ code: refused.code });
      sendRefusal(req, res, refused, wireMethod, tusHeaders(corsOrigins, req.get('origin') ?? null));
      return;
    }
    if (req.method === 'GET' && target.kind === 'upload') {
      for (const [name, value] of tusHeaders(corsOrigins, req.get('origin') ?? null))
        res.setHeader(name, value);
      await sendDownload(res, target.id, {
        directory: store.directory,
        getUpload: (id) => store.getUpload(id),
        contentHeaders: (upload) => server.handlers.GET.filterContentType(upload),
        logger,
      });
      return;
    }
    let response = await withChecksumOf(req, () => answer(req, res, principal));
    if (req.method === 'OPTIONS')
      response.headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
    response = await completeUploadAnswer(req, response);
    if (response.status < 400) {
      sendNodeResponse(res, response);
      return;
    }
    const json = await asJsonError(response);
    if (req.method === 'POST') {
      metrics.uploadsRefused.inc({ code: JSON.parse(json).error.code });
    }
    sendNodeResponse(res, withJsonBody(response, json));
  }

  /**
   * @tus/server's answer about an existing upload, completed: a finished upload whose file is gone
   * (or past its expiry) answers as finished, an expired one 410, and an unfinished one's HEAD and
   * PATCH carry `Upload-Expires` from its last byte (@tus/server counts from before the PATCH's
   * bytes, and sends none on HEAD).
   */
  async function completeUploadAnswer(req: ExpressRequest, response: Response): Promise<Response> {
    const id = uploadIdOfRequest(req);
    if (!id || !['HEAD', 'PATCH', 'DELETE'].includes(req.method)) return response;
    if (response.status === 410 || response.status === 404) {
      const finished = await options.finishedLength(id);
      if (finished !== null) return answerFinished(req, finished, response);
      if (req.method === 'DELETE') return response;
      return (await options.expired(id, response.status === 410)) ? gone(response) : response;
    }
    if (response.ok && options.expiryMs > 0 && answersUnfinished(req.method, response)) {
      const last = await store.lastActivity(id);
      if (last !== null) response.headers.set('Upload-Expires', uploadExpires(last, options.expiryMs));
    }
    return response;
  }

  return { server, store, concatenation, handle };
}
