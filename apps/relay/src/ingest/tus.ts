import path from 'node:path';
import { AppError, type Logger } from '@gtr/core';
import { Server } from '@tus/server';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { RelayMetrics } from '../metrics.js';
import { RelayFileStore } from './store.js';
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
}

export interface TusIngest {
  server: Server;
  store: RelayFileStore;
  handle(req: ExpressRequest, res: ExpressResponse): Promise<void>;
}

// tus-node-server answers errors in plain text; the contract promises JSON everywhere.
const CODE_BY_STATUS: Record<number, string> = {
  400: 'INVALID_REQUEST',
  403: 'INVALID_REQUEST',
  404: 'UPLOAD_NOT_FOUND',
  409: 'OFFSET_CONFLICT',
  410: 'UPLOAD_EXPIRED',
  412: 'TUS_VERSION_MISMATCH',
  413: 'UPLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_FORMAT',
  423: 'UPLOAD_LOCKED',
  500: 'INTERNAL_ERROR',
  501: 'NOT_SUPPORTED',
  503: 'SERVICE_UNAVAILABLE',
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

  const server = new Server({
    path: TUS_PATH,
    datastore: store,
    ...(options.maxUploadSize > 0 ? { maxSize: options.maxUploadSize } : {}),
    respectForwardedHeaders: options.trustProxy,
    // A finished upload belongs to its job now; cancel it through the jobs API instead.
    disableTerminationForFinishedUploads: true,
    onUploadCreate: async (_req, upload) => {
      uploads.validate(upload);
      return {};
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
      if (error instanceof AppError) {
        return { status_code: error.httpStatus, body: JSON.stringify({ error: error.toJSON() }) };
      }
      if (!('status_code' in error)) {
        logger.error({ err: error }, 'TUS request failed');
        return {
          status_code: 500,
          body: JSON.stringify({
            error: { code: 'INTERNAL_ERROR', message: 'the relay could not handle this request' },
          }),
        };
      }
      return undefined;
    },
  });

  async function handle(req: ExpressRequest, res: ExpressResponse): Promise<void> {
    const response = await server.handleWeb(new NodeRequest({ req, res }));
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

  return { server, store, handle };
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
  return JSON.stringify({ error: { code, message } });
}
