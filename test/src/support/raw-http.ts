import net from 'node:net';

export interface RawAnswer {
  /** 0 when the server closed the connection without an answer. */
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  /** The request target exactly as it goes on the request line (origin form, absolute form, anything). */
  target: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

/**
 * One request on a connection of its own, written byte for byte (UTF-8): fetch, supertest and
 * `http.request` would normalise or refuse the spellings an attacker sends (`/./`, `..`, `\`,
 * absolute form, raw non-ASCII). `Connection: close`, so the answer ends with the connection.
 */
export function rawRequest(origin: string, request: RawRequest): Promise<RawAnswer> {
  const { hostname, port } = new URL(origin);
  const bytes = formatRequest(origin, request);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname);
    socket.setTimeout(20_000, () =>
      socket.destroy(new Error(`no answer to ${request.method} ${request.target}`)),
    );
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    // A refusal that does not read the body may reset the connection under our write: the answer,
    // if one came, is what counts.
    socket.on('error', (error) => {
      if (!(error as NodeJS.ErrnoException).code?.startsWith('E')) reject(error);
    });
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks))));
  });
}

function parseAnswer(raw: Buffer): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0) };
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: raw.subarray(end + 4) };
}

export interface AbortPlan {
  /**
   * Bytes of the request (head and body together) written before the connection goes; at or past
   * the request's length, all of it is written and the answer is read from.
   */
  sendBytes: number;
  /** Bytes of the answer read before the connection goes (once the whole request is written). */
  readBytes: number;
  /** After `readBytes`, stop reading for this long first, so that the server's writes back up. */
  pauseMs: number;
  /** A TCP reset (RST) instead of an orderly close (FIN). */
  reset: boolean;
}

/** A request's bytes as `abortedRequest` writes them (UTF-8 head, then the body), `Connection: close`. */
export function formatRequest(origin: string, request: RawRequest): Buffer {
  const { hostname, port } = new URL(origin);
  const headers: Record<string, string> = {
    Host: `${hostname}:${port}`,
    ...request.headers,
    ...(request.body ? { 'Content-Length': String(request.body.length) } : {}),
    // The server closes once it answered: a plan that reads past a short answer ends with it.
    Connection: 'close',
  };
  const head =
    `${request.method} ${request.target} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'utf8'), request.body ?? Buffer.alloc(0)]);
}

/** What came back before an `abortedRequest` went. */
export interface AbortedAnswer {
  /** Bytes of the answer, head included. */
  received: number;
  /** Its status, if its status line arrived (else 0). */
  status: number;
}

/**
 * A request (`formatRequest`'s bytes) whose client gives up at a chosen byte: after `sendBytes`
 * of the request, or `readBytes` of the answer. Resolves with what of the answer had arrived;
 * never rejects on the connection's errors (they are the point).
 */
export function abortedRequest(origin: string, bytes: Buffer, plan: AbortPlan): Promise<AbortedAnswer> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    let received = 0;
    let start = Buffer.alloc(0);
    // Enough of the answer was read (the cut may wait `pauseMs`): the connection is going.
    let stopped = false;
    let cut = false;
    const socket = net.connect(Number(port), hostname);
    const close = () => {
      if (cut) return;
      cut = true;
      if (plan.reset) socket.resetAndDestroy();
      else socket.destroy();
    };
    // A server that neither answers nor closes: the plan's byte never comes, the request goes anyway.
    socket.setTimeout(20_000, close);
    socket.on('error', () => {});
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(start.toString('latin1'))?.[1];
      resolve({ received, status: Number(status ?? 0) });
    });
    socket.on('connect', () => {
      if (plan.sendBytes <= 0) {
        close();
        return;
      }
      if (plan.sendBytes < bytes.length) {
        // Flushed to the kernel first: the server then gets exactly these bytes, then the close.
        socket.write(bytes.subarray(0, plan.sendBytes), () => setImmediate(close));
        return;
      }
      socket.write(bytes);
      if (plan.readBytes <= 0) close();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (start.length < 16) start = Buffer.concat([start, chunk]).subarray(0, 16);
      if (stopped || received < plan.readBytes) return;
      stopped = true;
      if (plan.pauseMs <= 0) {
        close();
        return;
      }
      socket.pause();
      setTimeout(close, plan.pauseMs);
    });
  });
}
