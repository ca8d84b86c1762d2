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
  const headers: Record<string, string> = {
    Host: `${hostname}:${port}`,
    ...request.headers,
    ...(request.body ? { 'Content-Length': String(request.body.length) } : {}),
    Connection: 'close',
  };
  const head =
    `${request.method} ${request.target} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname);
    socket.setTimeout(20_000, () =>
      socket.destroy(new Error(`no answer to ${request.method} ${request.target}`)),
    );
    socket.on('connect', () => {
      socket.write(Buffer.from(head, 'utf8'));
      if (request.body) socket.write(request.body);
    });
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
