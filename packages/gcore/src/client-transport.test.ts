import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { inspect } from 'node:util';
import { GcoreClient } from './client.js';
import { GcoreAbortedError, GcoreError, GcoreNetworkError, GcoreTimeoutError } from './errors.js';

const apiKey = '4242$0d16599c-very-secret';

async function failure(promise: Promise<unknown>): Promise<GcoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GcoreError) return error;
    throw error;
  }
  throw new Error('expected a GcoreError, but the call succeeded');
}

/** Everything an error could leak through: message, stack, JSON and the whole cause chain. */
function everything(error: unknown): string {
  return `${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}\n${(error as Error).stack}`;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('GcoreClient transport failures', () => {
  let silent: Server;
  let silentUrl: string;
  const held: IncomingMessage[] = [];
  const authorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    // Takes every request and never answers: only the client's own timeout can end it.
    silent = createServer((req) => {
      authorizations.push(req.headers.authorization);
      held.push(req);
    });
    silentUrl = await listen(silent);
  });

  afterAll(async () => {
    silent.closeAllConnections();
    silent.close();
  });

  it('times out a request the server never answers, and says so', async () => {
    const client = new GcoreClient({ baseUrl: silentUrl, apiKey, timeoutMs: 200 });
    const heldBefore = held.length;
    const error = await failure(client.getVideo(7));
    expect(error).toBeInstanceOf(GcoreTimeoutError);
    // One request reached the server, which never answers: the client's timeout ended it and the
    // client hung up (a timeout that never fired would leave this waiting).
    expect(held.length).toBe(heldBefore + 1);
    const request = held.at(-1)!;
    if (!request.socket.destroyed) await once(request.socket, 'close');
    expect(error).toMatchObject({ code: 'GCORE_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/GET \/streaming\/videos\/7 got no answer within 200 ms/);
    expect(authorizations.at(-1)).toBe(`APIKey ${apiKey}`);
    expect(everything(error)).not.toContain(apiKey);
  });

  it("stops at once when the caller's signal aborts, as an abort rather than a timeout", async () => {
    const client = new GcoreClient({ baseUrl: silentUrl, apiKey, timeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(client.getVideo(7, { signal: controller.signal }));
    expect(error).toBeInstanceOf(GcoreAbortedError);
    expect(error.retryable).toBe(false);
  });

  it('classifies a refused connection as a retryable network error', async () => {
    const closed = createNetServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');

    const client = new GcoreClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey });
    const error = await failure(client.createVideo({ name: 'nowhere' }));
    expect(error).toBeInstanceOf(GcoreNetworkError);
    expect(error).toMatchObject({
      code: 'GCORE_NETWORK_ERROR',
      retryable: true,
      networkCode: 'ECONNREFUSED',
    });
    expect(error.message).toMatch(/connection refused/);
    expect(everything(error)).not.toContain(apiKey);
  });

  it('never puts the API key in an error, even when the server echoes it back', async () => {
    const echo = createServer((req, res) => {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `key ${req.headers.authorization} may not do this` }));
    });
    const url = await listen(echo);
    try {
      const error = await failure(new GcoreClient({ baseUrl: url, apiKey }).getVideo(1));
      expect(error).toMatchObject({ status: 403, code: 'GCORE_FORBIDDEN', retryable: false });
      expect(error.message).toContain('[redacted]');
      expect(everything(error)).not.toContain(apiKey);
    } finally {
      echo.close();
    }
  });

  it('reports a 2xx body that is not JSON as an invalid response', async () => {
    const proxy = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const url = await listen(proxy);
    try {
      const error = await failure(new GcoreClient({ baseUrl: url, apiKey }).getVideo(1));
      expect(error).toMatchObject({ code: 'GCORE_INVALID_RESPONSE', retryable: true, status: 200 });
    } finally {
      proxy.close();
    }
  });
});
