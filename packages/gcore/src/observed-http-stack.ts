import { Readable } from 'node:stream';
import { DefaultHttpStack, type HttpRequest, type HttpResponse, type HttpStack } from 'tus-js-client';

export interface HttpObserver {
  /** Request body bytes handed to the socket. */
  onBodyBytes(bytes: number): void;
}

/**
 * tus-js-client's Node stack with two additions: it counts body bytes as they leave (its own
 * progress events are throttled to one per 100 ms, too coarse to tell a stall or count re-sends),
 * and an aborted request also closes the file slice it was piping, which the stock stack leaves open.
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
    this.#inner.setHeader(header, value);
  }

  getHeader(header: string): string | undefined {
    return this.#inner.getHeader(header);
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.#inner.setProgressHandler(handler);
  }

  send(body: unknown): Promise<HttpResponse> {
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
    return this.#inner.abort();
  }

  getUnderlyingObject(): unknown {
    return this.#inner.getUnderlyingObject();
  }
}
