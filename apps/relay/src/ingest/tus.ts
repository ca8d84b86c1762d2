import path from 'node:path';
import { AppError, type ErrorCode, type Logger, type Principal } from '@gtr/core';
import { Server } from '@tus/server';
import { HEADERS, type Locker, Uid } from '@tus/utils';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { principalOf, seesEveryJob } from '../auth.js';
import { type RenderedError, renderAppError, renderError, sendError } from '../http-errors.js';
import type { RelayMetrics } from '../metrics.js';
import { answersUnfinished, uploadExpires } from './activity.js';
import { CHECKSUM_ALGORITHMS, refuseChecksum, withChecksumOf } from './checksum.js';
import { CONCAT_METADATA, Concatenation, parseUploadConcat } from './concat.js';
import { sendDownload } from './download-body.js';
import { RelayFileStore } from './file-store.js';
import { answerFinished } from './finished.js';
import type { ReceiveHashes } from './receive-hash.js';
import { TUS_PATH, type UploadTarget, uploadIdOfRequest, uploadTargetOfRequest } from './upload-id.js';
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
  corsOrigins?: '*' | readonly string[];
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

// tus-node-server answers errors in plain text; the contract promises JSON everywhere.
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  403: 'INVALID_REQUEST',
  404: 'UPLOAD_NOT_FOUND',
  409: 'OFFSET_CONFLICT',
  410: 'UPLOAD_EXPIRED',
  412: 'TUS_VERSION_MISMATCH',
  413: 'UPLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_FORMAT',
  423: 'UPLOAD_LOCKED',
  431: 'METADATA_TOO_LARGE',
  500: 'INTERNAL_ERROR',
  501: 'NOT_SUPPORTED',
  503: 'SERVICE_UNAVAILABLE',
  507: 'INSUFFICIENT_STORAGE',
};

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
    ...(corsOrigins !== '*' ? { allowedOrigins: (origin: string) => corsOrigins.includes(origin) } : {}),
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
    onResponseError: (_req, error) => {
      if (isDiskFull(error)) {
        logger.warn({ err: error }, 'upload dir is full');
        return forTus(renderError('INSUFFICIENT_STORAGE'));
      }
      // The hooks' refusals say whether sending the request again can help.
      if (error instanceof AppError) return forTus(renderAppError(error, true));
      if (!('status_code' in error)) {
        logger.error({ err: error }, 'TUS request failed');
        return forTus(renderError('INTERNAL_ERROR'));
      }
      // tus-node-server's own protocol errors: its plain text is wrapped by `asJsonError`.
      return undefined;
    },
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

  /**
   * Whether this principal may touch upload `id`: operators and admins every one, a tool only its
   * own (its job's owner; a partial upload has no job, its owner is in its info). No principal, or
   * no owner found: no.
   */
  async function mayUse(principal: Principal | undefined, id: string): Promise<boolean> {
    if (!principal) return false;
    if (seesEveryJob(principal)) return true;
    const owner = (await options.ownerOf(id)) ?? (await concatenation.partialOwner(id));
    return owner === principal.name;
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
    if (createdId && refusesCreation(response.status)) await undoCreation(createdId);
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
      (await refuseForeign(req.method, target, principal)) ??
      (await refuseConcat(req));
    if (corsOrigins !== '*') res.vary('Origin');
    if (refused) {
      if (req.method === 'POST') metrics.uploadsRefused.inc({ code: refused.code });
      // The body, if any, is not read: close the connection instead of draining it.
      res.setHeader('Connection', 'close');
      // As @tus/server's own answers, so that a browser tool can read the refusal.
      for (const [name, value] of tusHeaders(corsOrigins, req.get('origin') ?? null))
        res.setHeader(name, value);
      for (const [name, value] of Object.entries(refused.headers ?? {})) res.setHeader(name, value);
      if (wireMethod !== 'HEAD' && req.method === 'HEAD') {
        // A POST's answer has its body, even when it stands for a HEAD (Express would drop it and
        // keep its Content-Length: a proxy in between would then wait for bytes that never come).
        const { status, body } = renderError(refused.code, refused.message);
        res.status(status).setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(body));
        return;
      }
      sendError(res, refused.code, refused.message);
      return;
    }
    let response = await withChecksumOf(req, () => answer(req, res, principal));
    if (req.method === 'OPTIONS')
      response.headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
    response = await settle(req, response);
    if (response.status < 400) {
      if (req.method === 'GET') await sendDownload(res, response, logger);
      else sendNodeResponse(res, response);
      return;
    }
    const json = await asJsonError(response);
    if (req.method === 'POST') {
      metrics.uploadsRefused.inc({ code: JSON.parse(json).error.code });
    }
    const headers = new Headers(response.headers);
    headers.set('Content-Type', 'application/json');
    headers.set('Content-Length', String(Buffer.byteLength(json)));
    // Node knows no reason phrase for TUS's own 460.
    const statusText = response.status === 460 ? 'Checksum Mismatch' : '';
    sendNodeResponse(res, new Response(json, { status: response.status, statusText, headers }));
  }

  /**
   * @tus/server's answer about an existing upload, completed: a finished upload whose file is gone
   * (or past its expiry) answers as finished, an expired one 410, and an unfinished one's HEAD and
   * PATCH carry `Upload-Expires` from its last byte (@tus/server counts from before the PATCH's
   * bytes, and sends none on HEAD).
   */
  async function settle(req: ExpressRequest, response: Response): Promise<Response> {
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

  /**
   * A tool may touch only its own uploads: another tool's is answered as if it did not exist.
   * (A creation's partials are checked the same way by the concatenation, before any lock.)
   */
  async function refuseForeign(
    method: string,
    target: UploadTarget,
    principal: Principal | undefined,
  ): Promise<Refusal | null> {
    // A preflight (it carries no token) reads nothing of any upload.
    if (method === 'OPTIONS' || target.kind === 'creation') return null;
    if (target.kind === 'upload' && (await mayUse(principal, target.id))) return null;
    return NO_SUCH_UPLOAD;
  }

  /** A malformed `Upload-Concat` on a creation; a PATCH of a final upload (403, as tusd). */
  async function refuseConcat(req: ExpressRequest): Promise<Refusal | null> {
    if (req.method === 'POST' && parseUploadConcat(req.get('upload-concat'))?.kind === 'invalid') {
      return { code: 'CONCAT_INVALID' };
    }
    const id = req.method === 'PATCH' ? uploadIdOfRequest(req) : null;
    if (id && (await concatenation.isFinal(id))) {
      return { code: 'CONCAT_FINAL_IMMUTABLE', message: 'a final upload is complete: it takes no PATCH' };
    }
    return null;
  }

  /**
   * A creation refused after its files and job exist (creation-with-upload whose body is longer
   * than `Upload-Length`, a full disk while writing it): the client got no `Location`, so nothing
   * may stay behind — not the file, its info and manifest, nor a `receiving` job for 24 h.
   */
  async function undoCreation(id: string): Promise<void> {
    await store.discard(id);
    await uploads.abandoned(id).catch((error: unknown) => {
      logger.warn({ err: error, uploadId: id }, 'could not remove the job of a refused upload');
    });
  }

  return { server, store, concatenation, handle };
}

/** The Node request and response behind the Request srvx made for @tus/server. */
const nodeOf = (req: Request) =>
  (req as Request & { runtime?: { node?: { req?: ExpressRequest; res?: ExpressResponse } } }).runtime?.node;

/** The Node (Express) request behind a Request srvx made for @tus/server. */
const nodeRequestOf = (req: Request): ExpressRequest | undefined => nodeOf(req)?.req;

/** The principal of the Express response behind the Request srvx made for @tus/server. */
function principalOfTusRequest(req: Request): Principal | undefined {
  const res = nodeOf(req)?.res;
  return res ? principalOf(res) : undefined;
}
/** Where an upload's owner is kept in @tus/file-store's info (read back by Uploads.created). */
export const OWNER_METADATA = 'relay_owner';

/**
 * Answers to a creation that leave nothing behind: the client's errors and a full disk. Not a 503
 * from queueing a complete upload (the bytes are all there; the reconciler queues them), nor 5xx.
 */
const refusesCreation = (status: number): boolean => (status >= 400 && status < 500) || status === 507;

/** 410 with the relay's UPLOAD_EXPIRED error, keeping @tus/server's other headers (CORS, Tus-Resumable). */
function gone(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.delete('Content-Length');
  const body = JSON.stringify({
    error: {
      code: 'UPLOAD_EXPIRED',
      message: 'the upload expired (UPLOAD_EXPIRY) and was removed; upload the file again',
    },
  });
  return new Response(body, { status: 410, headers });
}

const NO_SUCH_UPLOAD: Refusal = { code: 'UPLOAD_NOT_FOUND', message: 'no such upload' };

/** Methods a creation (`/files`) takes; every other one is answered as for an unknown upload. */
const CREATION_METHODS = new Set(['POST', 'OPTIONS']);
/** Methods an upload (`/files/<id>`) takes (GET: its bytes, once complete). */
const UPLOAD_METHODS = new Set(['HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS']);

/**
 * Anything under TUS_PATH that is not exactly `/files` (a creation) or `/files/<id>` (an upload),
 * or a method that place does not take, is no upload: 404 before any store or lock is touched.
 */
function refuseTarget(method: string, target: UploadTarget): Refusal | null {
  if (target.kind === 'creation' && CREATION_METHODS.has(method)) return null;
  if (target.kind === 'upload' && UPLOAD_METHODS.has(method)) return null;
  return NO_SUCH_UPLOAD;
}

/** Methods a client behind a restrictive proxy may send as POST with `X-HTTP-Method-Override`. */
const OVERRIDABLE_METHODS = new Set(['POST', 'PATCH', 'HEAD', 'DELETE']);

/**
 * `X-HTTP-Method-Override` on a POST (tus-js-client's `overridePatchMethod`, as tusd takes it):
 * the request is handled as the method it names. Any other value is refused, never taken as a
 * creation.
 */
function applyMethodOverride(req: ExpressRequest): Refusal | null {
  const override = req.get('x-http-method-override')?.trim().toUpperCase();
  if (override === undefined || req.method !== 'POST') return null;
  if (!OVERRIDABLE_METHODS.has(override)) {
    return {
      code: 'INVALID_REQUEST',
      message: 'X-HTTP-Method-Override must be PATCH, HEAD or DELETE',
    };
  }
  req.method = override;
  return null;
}

/** Request headers browsers may send on /files besides @tus/server's TUS list. */
const CORS_ALLOWED_HEADERS = ['X-Request-ID', 'Upload-Checksum'];
/** Response headers browsers may read on /files besides @tus/server's TUS list. */
const CORS_EXPOSED_HEADERS = ['Upload-Expires', 'Tus-Checksum-Algorithm'];

/** Longest `Upload-Metadata` taken: the relay's own keys fit in a fraction of it. */
export const MAX_METADATA_BYTES = 8 * 1024;

/** Answered with the code's status, and unless given its message, from the catalogue. */
interface Refusal {
  code: ErrorCode;
  message?: string;
  headers?: Record<string, string>;
}

/**
 * What tus-node-server would answer off the TUS 1.0.0 spec (403 for a PATCH without
 * `Upload-Offset` or `Content-Type`, 400 for an unsupported version) or not refuse at all (huge
 * metadata, stored with every upload), answered here as the spec says.
 */
function refuseMalformed(req: ExpressRequest): Refusal | null {
  if (req.method === 'OPTIONS') return null;
  const version = req.headers['tus-resumable'];
  if (version !== undefined && version !== '1.0.0') {
    return { code: 'TUS_VERSION_MISMATCH', headers: { 'Tus-Version': '1.0.0' } };
  }
  const metadata = req.get('upload-metadata');
  if (metadata !== undefined && Buffer.byteLength(metadata) > MAX_METADATA_BYTES) {
    return {
      code: 'METADATA_TOO_LARGE',
      message: `Upload-Metadata must be at most ${MAX_METADATA_BYTES} bytes`,
    };
  }
  if (req.method === 'PATCH' && version !== undefined) {
    const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/offset+octet-stream') {
      return { code: 'INVALID_CONTENT_TYPE' };
    }
    if (req.headers['upload-offset'] === undefined) {
      return { code: 'MISSING_UPLOAD_OFFSET' };
    }
  }
  return null;
}

/** ENOSPC from creating an upload's files (its writes turn it into an AppError themselves). */
const isDiskFull = (error: unknown): boolean =>
  ['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');

/** Takes a request header off before @tus/server reads it (it reads `rawHeaders` too). */
function removeHeader(req: ExpressRequest, name: string): void {
  delete req.headers[name];
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  req.rawHeaders = raw;
}

async function asJsonError(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return text;
  } catch {
    // plain text from tus-node-server: wrapped below
  }
  const code = CODE_BY_STATUS[response.status] ?? 'INVALID_REQUEST';
  const message = text.trim().replace(/\s+/g, ' ') || `HTTP ${response.status}`;
  return JSON.stringify(renderError(code, message, { status: response.status }).body);
}

/** A rendered error as tus-node-server's `onResponseError` returns it. */
const forTus = ({ status, body }: RenderedError) => ({ status_code: status, body: JSON.stringify(body) });

/** What every TUS answer carries, as @tus/server sends it: `Tus-Resumable` and CORS. */
function tusHeaders(origins: '*' | readonly string[], origin: string | null): Headers {
  return new Headers({
    'Tus-Resumable': '1.0.0',
    ...allowOrigin(origins, origin),
    'Access-Control-Expose-Headers': [...HEADERS, ...CORS_EXPOSED_HEADERS].join(', '),
  });
}

/** `Access-Control-Allow-Origin` as @tus/server answers it under `CORS_ORIGINS` (none for an unlisted origin). */
function allowOrigin(origins: '*' | readonly string[], origin: string | null): Record<string, string> {
  if (origins === '*') return { 'Access-Control-Allow-Origin': '*' };
  return origin && origins.includes(origin) ? { 'Access-Control-Allow-Origin': origin } : {};
}
