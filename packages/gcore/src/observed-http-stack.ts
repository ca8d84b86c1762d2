import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { DefaultHttpStack, type HttpRequest, type HttpResponse, type HttpStack } from 'tus-js-client';
import { ChunkBody } from './chunk-reader.js';

export interface HttpObserver {
  /** Request body bytes handed to the socket. */
  onBodyBytes(bytes: number): void;
}

/**
 * tus-js-client's Node stack with three additions: it counts body bytes as they leave (its own
 * progress events are throttled to one per 100 ms, too coarse to tell a stall or count re-sends),
 * an aborted request also closes the file slice it was piping, which the stock stack leaves open,
 * and a {@link ChunkBody} (from `ChunkReader`) is written through reused buffers.
 */
export class ObservedHttpStack implements HttpStack {
  readonly #inner = new DefaultHttpStack({});
  readonly #observer: HttpObserver;

  constructor(observer: HttpObserver) {
    this.#observer = observer;
  }

  createRequest(method: string, url: string): HttpRequest {
    return new ObservedRequest(this.#inner.createRequest(method, url), this.#observer);
  }

  getName(): string {
    return 'ObservedHttpStack';
  }
}

class ObservedRequest implements HttpRequest {
  readonly #inner: HttpRequest;
  readonly #observer: HttpObserver;
  #body: Readable | undefined;
  /** Set when this request was sent here rather than by the stock stack (a ChunkBody). */
  #own: ClientRequest | undefined;
  #progress: (bytesSent: number) => void = () => {};
  readonly #headersSet: Record<string, string> = {};

  constructor(inner: HttpRequest, observer: HttpObserver) {
    this.#inner = inner;
    this.#observer = observer;
  }

  getMethod(): string {
    return this.#inner.getMethod();
  }

  getURL(): string {
    return this.#inner.getURL();
  }

  setHeader(header: string, value: string): void {
    this.#headersSet[header] = value;
    this.#inner.setHeader(header, value);
  }

  getHeader(header: string): string | undefined {
    return this.#inner.getHeader(header);
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.#progress = handler;
    this.#inner.setProgressHandler(handler);
  }

  send(body: unknown): Promise<HttpResponse> {
    if (body instanceof ChunkBody) return this.#sendChunk(body);
    const sent = this.#inner.send(body);
    // After send(): it has already piped the body, so this listener cannot start the flow early.
    if (body instanceof Readable) {
      this.#body = body;
      body.on('data', (chunk: Buffer) => this.#observer.onBodyBytes(chunk.length));
    }
    return sent;
  }

  abort(): Promise<void> {
    this.#body?.destroy();
    this.#own?.destroy();
    return this.#inner.abort();
  }

  getUnderlyingObject(): unknown {
    return this.#own ?? this.#inner.getUnderlyingObject();
  }

  /** As the stock stack sends a body (same URL, headers, agent), but written by the ChunkBody. */
  #sendChunk(body: ChunkBody): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const url = new URL(this.getURL());
      const headers = { ...this.#headersSet, 'Content-Length': String(body.size) };
      const req = (url.protocol === 'https:' ? https : http).request(url, {
        method: this.getMethod(),
        headers,
      });
      this.#own = req;
      let sent = 0;
      let complete = false;
      req.on('response', (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          // Answered before the whole body went out (a 429 or 5xx that did not read it): the
          // connection is unusable for another request.
          if (!complete) req.destroy();
          resolve(new ChunkResponse(res, Buffer.concat(parts).toString('utf8')));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      body
        .writeTo(req, (bytes) => {
          sent += bytes;
          this.#observer.onBodyBytes(bytes);
          this.#progress(sent);
        })
        .then(
          () => {
            complete = sent === body.size;
          },
          (error: unknown) => req.destroy(error instanceof Error ? error : new Error(String(error))),
        );
    });
  }
}

class ChunkResponse implements HttpResponse {
  constructor(
    private readonly res: IncomingMessage,
    private readonly body: string,
  ) {}

  getStatus(): number {
    return this.res.statusCode ?? 0;
  }

  getHeader(header: string): string | undefined {
    const value = this.res.headers[header.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  getBody(): string {
    return this.body;
  }

  getUnderlyingObject(): unknown {
    return this.res;
  }
}
