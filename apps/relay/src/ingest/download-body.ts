import type { ServerResponse } from 'node:http';
import type { Logger } from '@gtr/core';

/**
 * Sends @tus/server's answer to a GET (a complete upload's bytes) into `res`. Not through srvx's
 * `sendNodeResponse`, nor `Readable.fromWeb`: both cancel the body as soon as the client goes
 * away, and when that happens while a read of the file is pending, undici's wrapper of the file
 * stream later closes the canceled stream from a microtask and throws `Invalid state:
 * ReadableStream is already closed` — an uncaught exception that ends the process. Here the body
 * is canceled only between reads, so the file stream is just destroyed.
 */
export async function sendDownload(res: ServerResponse, response: Response, logger: Logger): Promise<void> {
  const rawHeaders: string[] = [];
  for (const [name, value] of response.headers) rawHeaders.push(name, value);
  res.writeHead(response.status, response.statusText, rawHeaders);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      if (res.destroyed) break;
      const { done, value } = await reader.read();
      if (done) {
        res.end();
        return;
      }
      if (res.destroyed) break;
      if (!res.write(value)) await drainedOrClosed(res);
    }
    // The client went away: no read is pending now.
    await reader.cancel();
  } catch (error) {
    // The file could not be read to its end: the answer stops short of its Content-Length.
    logger.warn({ err: error }, 'upload download failed');
    res.destroy();
    await reader.cancel().catch(() => {});
  }
}

const drainedOrClosed = (res: ServerResponse): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
