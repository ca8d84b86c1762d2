import fs from 'node:fs/promises';
import path from 'node:path';
import { AppError, type ErrorCode, type Logger, type Principal } from '@gtr/core';
import { Server } from '@tus/server';
import { type Locker, Uid } from '@tus/utils';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { principalOf, seesEveryJob } from '../auth.js';
import { type RenderedError, renderAppError, renderError, sendError } from '../http-errors.js';
import type { RelayMetrics } from '../metrics.js';
import { RelayFileStore } from './file-store.js';
import type { Uploads } from './uploads.js';

export const TUS_PATH = '/files';

export interface TusIngestOptions {
  uploadDir: string;
  uploads: Uploads;
  metrics: RelayMetrics;
  logger: Logger;
  /** Bytes; 0 means no limit. */
  maxUploadSize: number;
  /** Advertised as `Upload-Expires`; unfinished uploads older than this are refused and removed. */
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
  /** The owner of an upload's job (null: none known), for tools that may touch only their own. */
  ownerOf(id: string): Promise<string | null>;
  /**
   * Every PATCH, HEAD, DELETE (and creation-with-upload) holds the upload's lock: in Redis (the
   * RedisLocker); @tus/server's MemoryLocker only with UPLOAD_LOCKER=memory (benchmarks).
   */
  locker: Locker;
}

export interface TusIngest {
  server: Server;
  store: RelayFileStore;
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
      terminated: (id) => uploads.terminated(id),
    },
    options.expiryMs,
  );

  // The id each creation request got, so a creation refused after its files exist can be undone.
  const createdBy = new WeakMap<Request, string>();
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const corsOrigins = options.corsOrigins ?? '*';
  const server = new Server({
    path: TUS_PATH,
    datastore: store,
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
      const principal = principalOfTusRequest(req);
      await uploads.validate(upload, principal);
      await ensureRoomFor(options.uploadDir, upload.size);
      // Who made it, as the relay's own guard found it (never what the client says).
      const owner = principal?.name;
      return owner ? { metadata: { ...upload.metadata, [OWNER_METADATA]: owner } } : {};
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

  async function handle(req: ExpressRequest, res: ExpressResponse): Promise<void> {
    const principal = principalOf(res);
    // From here on (checks, @tus/server, logs, metrics) the method is the effective one.
    const refused = applyMethodOverride(req) ?? refuseMalformed(req) ?? (await refuseForeign(req, principal));
    if (refused) {
      if (req.method === 'POST') metrics.uploadsRefused.inc({ code: refused.code });
      // The body, if any, is not read: close the connection instead of draining it.
      res.setHeader('Connection', 'close');
      for (const [name, value] of Object.entries(refused.headers ?? {})) res.setHeader(name, value);
      sendError(res, refused.code, refused.message);
      return;
    }
    if (corsOrigins !== '*') res.vary('Origin');
    const webRequest = new NodeRequest({ req, res });
    let response = await server.handleWeb(webRequest);
    const createdId = createdBy.get(webRequest);
    if (createdId && refusesCreation(response.status)) await undoCreation(createdId);
    if (
      (response.status === 410 || response.status === 404) &&
      (req.method === 'HEAD' || req.method === 'PATCH')
    ) {
      const id = uploadIdOf(req.path);
      if (id && (await options.expired(id, response.status === 410))) response = gone(response);
    }
    if (response.status < 400) {
      sendNodeResponse(res, response);
      return;
    }
    const json = await asJsonError(response);
    if (req.method === 'POST') {
      metrics.uploadsRefused.inc({ code: JSON.parse(json).error.code });
    }
    const headers = new Headers(response.headers);
    headers.set('Content-Type', 'application/json');
    headers.set('Content-Length', String(Buffer.byteLength(json)));
    sendNodeResponse(res, new Response(json, { status: response.status, headers }));
  }

  /** A tool may touch only its own uploads: another tool's is answered as if it did not exist. */
  async function refuseForeign(
    req: ExpressRequest,
    principal: Principal | undefined,
  ): Promise<Refusal | null> {
    if (!principal || seesEveryJob(principal) || req.method === 'POST' || req.method === 'OPTIONS')
      return null;
    const id = uploadIdOf(req.path);
    if (!id || (await options.ownerOf(id)) === principal.name) return null;
    return { code: 'UPLOAD_NOT_FOUND', message: 'no such upload' };
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

  return { server, store, handle };
}

/** The principal of the Express response behind the Request srvx made for @tus/server. */
function principalOfTusRequest(req: Request): Principal | undefined {
  const node = (req as Request & { runtime?: { node?: { res?: ExpressResponse } } }).runtime?.node;
  return node?.res ? principalOf(node.res) : undefined;
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

/** The upload id of `/files/<id>`, as @tus/server reads it (the last path segment). */
function uploadIdOf(requestPath: string): string | null {
  const match = /^\/files\/([^/]+)$/.exec(requestPath);
  return match ? decodeURIComponent(match[1]!) : null;
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
const CORS_EXPOSED_HEADERS = ['Upload-Expires'];

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

/** Refuses an upload up front when the disk has less free space than its declared length. */
async function ensureRoomFor(dir: string, size: number | undefined): Promise<void> {
  if (size === undefined || size === 0) return;
  const stats = await fs.statfs(dir).catch(() => null);
  if (stats && size > stats.bavail * stats.bsize) {
    throw new AppError('INSUFFICIENT_STORAGE');
  }
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
