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
  /** The `If-Range` header, or null. */
  ifRange: string | null;
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
    requests.push({
      method: req.method ?? '',
      path,
      range: req.headers.range ?? null,
      ifRange: (req.headers['if-range'] as string | undefined) ?? null,
    });
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

/** A file's size and validators, as `sendFile` sends them. */
export async function fileVersion(
  file: string,
): Promise<{ size: number; etag: string; lastModified: string }> {
  const stat = await fs.stat(file);
  const seconds = Math.floor(stat.mtimeMs / 1000);
  return {
    size: stat.size,
    // As nginx makes them (plus the inode: a ChangingFile's versions may share size and mtime).
    etag: `"${stat.ino.toString(16)}-${seconds.toString(16)}-${stat.size.toString(16)}"`,
    lastModified: new Date(seconds * 1000).toUTCString(),
  };
}

/**
 * Answers HEAD and GET for `file` the way a static file server does: 200 with Content-Length, a
 * strong ETag and Last-Modified, or 206 with Content-Range for `Range: bytes=N-` — unless an
 * `If-Range` names another version (an ETag or date this file does not have): then 200 with the
 * whole file, as RFC 9110 says. Resolves with the bytes sent.
 */
export async function sendFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
  type = 'video/mp4',
): Promise<number> {
  const { size, etag, lastModified } = await fileVersion(file);
  const ifRange = req.headers['if-range'] as string | undefined;
  const rangeHolds = ifRange === undefined || ifRange === etag || ifRange === lastModified;
  const start = rangeHolds ? Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0) : 0;
  if (start >= size && size > 0) {
    res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    return 0;
  }
  const headers = {
    'Content-Type': type,
    'Content-Length': size - start,
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': lastModified,
  };
  if (start > 0) res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${size - 1}/${size}` });
  else res.writeHead(200, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return 0;
  }
  createReadStream(file, { start }).pipe(res);
  return size - start;
}

/**
 * A file whose content an origin can change between two requests (e.g. between the ranges of one
 * download): it serves `versions[0]` until `change()`, then the next one. Each version is its own
 * file, so its ETag differs.
 */
export class ChangingFile {
  #at = 0;

  constructor(private readonly versions: readonly string[]) {
    if (versions.length === 0) throw new Error('a ChangingFile needs at least one version');
  }

  /** The version served now. */
  get path(): string {
    return this.versions[this.#at]!;
  }

  /** Serves the next version from now on. */
  change(): void {
    this.#at = Math.min(this.#at + 1, this.versions.length - 1);
  }
}
