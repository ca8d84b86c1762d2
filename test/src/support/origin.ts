import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request an origin server saw. */
export interface OriginRequest {
  method: string;
  path: string;
  /** The `Range` header, or null. */
  range: string | null;
}

export interface Origin {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  requests: OriginRequest[];
  close(): Promise<void>;
}

/** A file server on loopback for import origins: what each request gets is up to `handler`. */
export async function startOrigin(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => void | Promise<void>,
): Promise<Origin> {
  const requests: OriginRequest[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://origin').pathname);
    requests.push({ method: req.method ?? '', path, range: req.headers.range ?? null });
    Promise.resolve(handler(req, res, path)).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers HEAD and GET for `file` the way a static file server does: 200 with Content-Length, or
 * 206 with Content-Range for `Range: bytes=N-`. Resolves with the bytes sent.
 */
export async function sendFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
  type = 'video/mp4',
): Promise<number> {
  const { size } = await fs.stat(file);
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (start >= size && size > 0) {
    res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    return 0;
  }
  const headers = { 'Content-Type': type, 'Content-Length': size - start, 'Accept-Ranges': 'bytes' };
  if (start > 0) res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${size - 1}/${size}` });
  else res.writeHead(200, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return 0;
  }
  createReadStream(file, { start }).pipe(res);
  return size - start;
}
