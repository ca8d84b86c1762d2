import type { ErrorCode, Principal } from '@gtr/core';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { renderError, sendError } from '../http-errors.js';
import { parseUploadConcat } from './concat-marks.js';
import { type UploadTarget, uploadIdOfRequest } from './upload-id.js';

/** Answered with the code's status, and unless given its message, from the catalogue. */
export interface Refusal {
  code: ErrorCode;
  message?: string;
  headers?: Record<string, string>;
}

/** Longest `Upload-Metadata` taken: the relay's own keys fit in a fraction of it. */
export const MAX_METADATA_BYTES = 8 * 1024;

const NO_SUCH_UPLOAD: Refusal = { code: 'UPLOAD_NOT_FOUND', message: 'no such upload' };

/** Methods a creation (`/files`) takes; every other one is answered as for an unknown upload. */
const CREATION_METHODS = new Set(['POST', 'OPTIONS']);
/** Methods an upload (`/files/<id>`) takes (GET: its bytes, once complete: download.ts). */
const UPLOAD_METHODS = new Set(['HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS']);

/**
 * Anything under TUS_PATH that is not exactly `/files` (a creation) or `/files/<id>` (an upload),
 * or a method that place does not take, is no upload: 404 before any store or lock is touched.
 */
export function refuseTarget(method: string, target: UploadTarget): Refusal | null {
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
export function applyMethodOverride(req: ExpressRequest): Refusal | null {
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

/**
 * What tus-node-server would answer off the TUS 1.0.0 spec (403 for a PATCH without
 * `Upload-Offset` or `Content-Type`, 400 for an unsupported version) or not refuse at all (huge
 * metadata, stored with every upload), answered here as the spec says.
 */
export function refuseMalformed(req: ExpressRequest): Refusal | null {
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

/**
 * A tool may touch only its own uploads: another tool's is answered as if it did not exist.
 * (A creation's partials are checked the same way by the concatenation, before any lock.)
 */
export async function refuseForeign(
  method: string,
  target: UploadTarget,
  principal: Principal | undefined,
  mayUse: (principal: Principal | undefined, id: string) => Promise<boolean>,
): Promise<Refusal | null> {
  // A preflight (it carries no token) reads nothing of any upload.
  if (method === 'OPTIONS' || target.kind === 'creation') return null;
  if (target.kind === 'upload' && (await mayUse(principal, target.id))) return null;
  return NO_SUCH_UPLOAD;
}

/** A malformed `Upload-Concat` on a creation; a PATCH of a final upload (403, as tusd). */
export async function refuseConcat(
  req: ExpressRequest,
  isFinal: (id: string) => Promise<boolean>,
): Promise<Refusal | null> {
  if (req.method === 'POST' && parseUploadConcat(req.get('upload-concat'))?.kind === 'invalid') {
    return { code: 'CONCAT_INVALID' };
  }
  const id = req.method === 'PATCH' ? uploadIdOfRequest(req) : null;
  if (id && (await isFinal(id))) {
    return { code: 'CONCAT_FINAL_IMMUTABLE', message: 'a final upload is complete: it takes no PATCH' };
  }
  return null;
}

/**
 * Answers a refused request, as @tus/server answers (its `headers`: `Tus-Resumable` and CORS), so
 * that a browser tool can read the refusal; `wireMethod` is the method before any override.
 */
export function sendRefusal(
  req: ExpressRequest,
  res: ExpressResponse,
  refused: Refusal,
  wireMethod: string,
  headers: Headers,
): void {
  // The body, if any, is not read: close the connection instead of draining it.
  res.setHeader('Connection', 'close');
  for (const [name, value] of headers) res.setHeader(name, value);
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
}
