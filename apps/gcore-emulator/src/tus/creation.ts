import type { IncomingHttpHeaders } from 'node:http';
import { Metadata, type Upload } from '@tus/utils';
import type { VideoEntity } from '../catalog.js';
import type { EmulatorContext } from '../context.js';

/** What `@tus/server` sends when a hook throws it. */
export interface TusError {
  status_code: number;
  body: string;
}

export function tusError(status_code: number, body: string): TusError {
  return { status_code, body };
}

/** Gcore's answer to creations with wrong parameters (its docs: "405 Method Not Allowed"). */
export function wrongParameters(detail: string): TusError {
  return tusError(405, `Method Not Allowed: ${detail}`);
}

/**
 * Checks a new upload the way Gcore's upload servers do, with their error texts: the token must be
 * valid and name the same video and client as the metadata. Returns the video the upload is for.
 */
export function authorizeCreation(ctx: EmulatorContext, upload: Upload): VideoEntity {
  const metadata = upload.metadata ?? {};
  const token = metadata.token?.trim();
  if (!token) throw tusError(500, 'Error: token invalid (null)');
  const claims = ctx.tokens.verify(token, ctx.clock.now());
  if (claims === null) throw tusError(500, `Error: token invalid (${token.slice(0, 10)}...)`);
  const videoId = metadata.video_id?.trim() ?? null;
  if (videoId !== String(claims.video_id)) {
    throw tusError(500, `Error: token video (${claims.video_id}) does not match this video (${videoId})`);
  }
  const clientId = metadata.client_id?.trim() ?? null;
  if (clientId !== String(claims.client_id)) {
    throw tusError(500, `Error: token client (${claims.client_id}) does not match this client (${clientId})`);
  }
  const video = ctx.videos.live(claims.video_id);
  if (video === undefined) throw wrongParameters(`video ${claims.video_id} does not exist`);
  return video;
}

/**
 * Creation refusals due before `@tus/server` sees the request, which would answer both with its
 * own 400s: metadata it cannot parse (Gcore: no readable token) and a missing Upload-Length (Gcore
 * takes no deferred lengths).
 */
export function refuseCreation(headers: IncomingHttpHeaders): TusError | undefined {
  const metadata = headers['upload-metadata'];
  if (typeof metadata === 'string') {
    try {
      Metadata.parse(metadata);
    } catch {
      return tusError(500, 'Error: token invalid (null)');
    }
  }
  if (headers['upload-length'] === undefined) return wrongParameters('Upload-Length is required');
  return undefined;
}
