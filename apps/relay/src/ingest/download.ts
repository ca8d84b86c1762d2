import path from 'node:path';
import type { Logger } from '@gtr/core';
import type { Upload } from '@tus/utils';
import type { Response } from 'express';
import { renderError, sendError } from '../http-errors.js';

export interface DownloadOptions {
  /** Where the store keeps each upload's bytes, as `<directory>/<id>`. */
  directory: string;
  /** The upload as the store knows it; throws (or null) when there is none. */
  getUpload(id: string): Promise<Upload | null>;
  /** @tus/server's own `Content-Type`/`Content-Disposition` rule for an upload's metadata. */
  contentHeaders(upload: Upload): { contentType: string; contentDisposition: string };
  logger: Logger;
}

/**
 * `GET /files/<id>`: the stored bytes of a complete upload, to the tool that made it (or an
 * operator) — the owner check happened before. As @tus/server's GET: only a complete upload is
 * served (an unfinished one is 404: its bytes are still arriving), with its `Content-Type` and
 * `Content-Disposition` from @tus/server's own filter (only a few types inline, everything else
 * an attachment). Beyond it, as tusd's file store (which hands GET to Go's `http.ServeFile`): one
 * `Range` (`bytes=a-b`, `a-`, `-n`) answers 206 with `Content-Range`, overlapping ranges are
 * combined, a range past the end 416 with the length in `Content-Range`, and `If-Range` is
 * honoured with the `ETag` or `Last-Modified` given. Several distinct ranges get the whole file
 * (200; tusd answers them as multipart/byteranges, RFC 9110 lets a server ignore Range). Express's `res.sendFile` (the `send` package) does the ranges and streams the file with
 * `fs.createReadStream`, and ends the read when the client goes away at any byte.
 *
 * No lock is taken: a complete upload's bytes no longer change (a PATCH of it is refused, and
 * over TUS it cannot be terminated), and a file that the forward removes while it is read stays
 * readable to the open stream.
 */
export async function sendDownload(res: Response, id: string, options: DownloadOptions): Promise<void> {
  const upload = await options.getUpload(id).catch(() => null);
  if (!upload || upload.size === undefined || upload.offset !== upload.size) {
    sendError(
      res,
      'UPLOAD_NOT_FOUND',
      'no complete upload at this URL (a download is of a finished upload only)',
    );
    return;
  }
  const { contentType, contentDisposition } = options.contentHeaders(upload);
  await new Promise<void>((resolve) => {
    res.sendFile(
      path.join(options.directory, id),
      {
        headers: {
          'Content-Type': contentType,
          'Content-Disposition': contentDisposition,
          // Another tool's bytes must never come out of a shared cache.
          'Cache-Control': 'private, no-store',
        },
        cacheControl: false,
        dotfiles: 'deny',
      },
      (error?: Error & { status?: number; code?: string }) => {
        resolve();
        if (!error || error.code === 'ECONNABORTED') return;
        if (res.headersSent) {
          // A read that failed mid-body: the client sees a short answer, never a wrong one.
          options.logger.warn({ err: error, uploadId: id }, 'download stopped');
          res.destroy();
          return;
        }
        // send had already set the file's own headers: an error answer is JSON about no file.
        for (const name of ['Content-Type', 'Content-Disposition', 'Content-Length', 'ETag', 'Last-Modified'])
          res.removeHeader(name);
        if (error.status === 416) {
          res.setHeader('Content-Range', `bytes */${upload.size}`);
          sendError(res, 'RANGE_NOT_SATISFIABLE');
          return;
        }
        if (error.status === 404) {
          sendError(res, 'UPLOAD_NOT_FOUND', 'the upload’s bytes are no longer kept here');
          return;
        }
        // 412 (a failed If-Match/If-Unmodified-Since): send's status, in the relay's words.
        if (error.status === 412) {
          const { body } = renderError('INVALID_REQUEST', 'If-Match or If-Unmodified-Since does not hold');
          res.status(412).json(body);
          return;
        }
        options.logger.error({ err: error, uploadId: id }, 'download failed');
        sendError(res, 'INTERNAL_ERROR');
      },
    );
  });
}
