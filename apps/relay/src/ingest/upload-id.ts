import type { IncomingMessage } from 'node:http';

/** Where TUS uploads live: `POST /files` creates one, `/files/<id>` is one. */
export const TUS_PATH = '/files';

/**
 * An upload id as the relay makes them (`Uid.rand()` of @tus/utils: 16 random bytes in lower-case
 * hex). Nothing else is an upload id: not an upper-case or encoded spelling of one, nor a name
 * with a suffix such as `<id>.json` (a file next to the upload's own).
 */
const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** Whether Express routes this path (`req.path`) to the TUS handler: TUS_PATH and anything under it. */
export const isTusPath = (pathname: string): boolean =>
  pathname === TUS_PATH || pathname.startsWith(`${TUS_PATH}/`);

/** What a request target names under TUS_PATH. */
export type UploadTarget =
  /** `/files` or `/files/` (tus-js-client and Uppy are often given `…/files/` as endpoint). */
  | { kind: 'creation' }
  /** Exactly `/files/<id>`. */
  | { kind: 'upload'; id: string }
  /** Anything else: no upload. */
  | { kind: 'none' };

const NONE: UploadTarget = { kind: 'none' };
const CREATION: UploadTarget = { kind: 'creation' };

/**
 * What a request target (as it came on the request line) names: the one rule for which upload a
 * request is about. The path is taken as sent, never decoded or normalised, and must be exactly
 * `/files/<id>` (or `/files`, `/files/` for a creation): another case, a trailing slash, an empty,
 * dot or extra segment, a percent-encoded character, a `;` parameter, a fragment or an absolute-form
 * target names no upload. A query string is not part of the path and is ignored.
 */
export function uploadTargetOf(target: string): UploadTarget {
  const query = target.indexOf('?');
  const pathname = query < 0 ? target : target.slice(0, query);
  if (pathname === TUS_PATH || pathname === `${TUS_PATH}/`) return CREATION;
  if (!pathname.startsWith(`${TUS_PATH}/`)) return NONE;
  const id = pathname.slice(TUS_PATH.length + 1);
  return UPLOAD_ID.test(id) ? { kind: 'upload', id } : NONE;
}

// Derived once per request, and every part of the relay asks here: owner check, locks,
// @tus/server's handlers, concatenation, logs and metrics cannot disagree on the id.
const targets = new WeakMap<IncomingMessage, UploadTarget>();

/** What the request names (its original target: Express may shorten `req.url` under a mount). */
export function uploadTargetOfRequest(req: IncomingMessage): UploadTarget {
  let target = targets.get(req);
  if (!target) {
    target = uploadTargetOf((req as { originalUrl?: string }).originalUrl ?? req.url ?? '');
    targets.set(req, target);
  }
  return target;
}

/** The upload the request is about, or null (a creation, or no upload at all). */
export function uploadIdOfRequest(req: IncomingMessage): string | null {
  const target = uploadTargetOfRequest(req);
  return target.kind === 'upload' ? target.id : null;
}

/**
 * The upload a reference in `Upload-Concat: final;…` names: the path `/files/<id>`, or an absolute
 * `http(s)` URL whose path is that, or that under PUBLIC_URL's path (`/video-relay/files/<id>`, as
 * `Location` gave it). The path is judged by `uploadTargetOf`, as sent; null for anything else.
 */
export function uploadIdOfReference(reference: string, publicPath = ''): string | null {
  const absolute = /^https?:\/\/[^/?#\\]+(\/.*)?$/i.exec(reference);
  let pathname = absolute ? (absolute[1] ?? '') : reference;
  if (publicPath && pathname.startsWith(`${publicPath}${TUS_PATH}/`))
    pathname = pathname.slice(publicPath.length);
  const target = uploadTargetOf(pathname);
  return target.kind === 'upload' ? target.id : null;
}
