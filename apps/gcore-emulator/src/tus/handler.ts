import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { EmulatorContext } from '../context.js';
import { type ShapedBody, shapeBody } from './body.js';
import { refuseCreation } from './creation.js';
import { applyPatchFaults } from './faults.js';
import { createTusServer, TUS_PATH } from './server.js';

const UPLOAD_ID = new RegExp(`^${TUS_PATH}/([^/]+)/?$`);

function uploadIdOf(req: Request): string | undefined {
  const path = new URL(req.originalUrl, 'http://emulator').pathname;
  return UPLOAD_ID.exec(path)?.[1];
}

function carriesUploadData(req: IncomingMessage): boolean {
  return (
    (req.method === 'PATCH' || req.method === 'POST') &&
    (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ===
      'application/offset+octet-stream'
  );
}

function toWebRequest(
  req: Request,
  host: string,
  body: ReadableStream<Uint8Array> | null,
): globalThis.Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // @tus/server builds the Location from the Host header: the one the client used works for it.
  headers.set('host', host);
  return new globalThis.Request(`http://${host}${req.originalUrl}`, {
    method: req.method,
    headers,
    body,
    duplex: 'half',
  } as RequestInit);
}

async function send(res: Response, response: globalThis.Response): Promise<void> {
  const body = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  // A dropped or abandoned request has no one left to answer.
  if (res.destroyed || res.writableEnded) return;
  res.statusCode = response.status;
  response.headers.forEach((value, name) => {
    res.setHeader(name, value);
  });
  res.end(body);
}

/**
 * `/upload` and `/upload/`: Gcore's TUS server. PATCH faults are applied here, in front of
 * `@tus/server`, which receives the body through `shapeBody` at the emulator's pace.
 */
export function tusHandler(ctx: EmulatorContext): RequestHandler {
  const server = createTusServer(ctx);

  return async (req, res) => {
    ctx.stats.count('tusRequests');
    const uploadId = uploadIdOf(req);
    const video = uploadId === undefined ? undefined : ctx.videos.videoForUpload(uploadId);
    let cutAfter: number | undefined;

    if (req.method === 'POST') {
      const refusal = refuseCreation(req.headers);
      if (refusal) {
        res
          .status(refusal.status_code)
          .set({ 'Tus-Resumable': '1.0.0', 'Access-Control-Allow-Origin': '*' })
          .type('text/plain')
          .send(refusal.body);
        return;
      }
    }

    if (req.method === 'PATCH') {
      if (video) video.patches++;
      const take = applyPatchFaults(ctx, req, res);
      if (take === 'answered') return;
      cutAfter = take;
    }

    let body: ShapedBody | undefined;
    if (carriesUploadData(req)) {
      body = shapeBody(req, {
        bandwidth: ctx.bandwidth,
        onBytes: (bytes) => {
          if (video) video.bytesPatched += bytes;
        },
        ...(cutAfter === undefined ? {} : { cutAfter, onCut: () => req.socket.destroy() }),
      });
    }
    try {
      const request = toWebRequest(req, req.headers.host ?? ctx.selfHost(), body?.stream ?? null);
      await send(res, await server.handleWeb(request));
    } catch (error) {
      ctx.logger.error({ err: error }, 'TUS request failed');
      if (!res.headersSent && !res.destroyed) res.status(500).type('text/plain').end('Internal Server Error');
    } finally {
      body?.release();
    }
  };
}
