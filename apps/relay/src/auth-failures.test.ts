import net from 'node:net';
import request from 'supertest';
import { LINGER_MS } from './auth-failures.js';
import { type Listening, listen } from './server.js';
import { startTestRelay, type TestRelay } from './testing.js';

const MiB = 1024 * 1024;

interface RawExchange {
  /** What the client received, as text. */
  answer: string;
  /** Bytes the relay's socket read from the wire before it closed. */
  serverBytesRead: number;
  /** Body bytes the client managed to hand to its socket. */
  clientBodyBytesWritten: number;
}

/**
 * Sends `head` and then a body of `bodyLength` bytes (in `chunk`-byte writes, `gapMs` apart) on a
 * raw socket, until the relay closes the connection; measures what the relay's socket read.
 */
function rawExchange(
  http: Listening,
  head: string,
  bodyLength: number,
  { chunk = 64 * 1024, gapMs = 0 } = {},
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    let serverSocket: net.Socket | undefined;
    const onConnection = (socket: net.Socket) => {
      serverSocket = socket;
      http.server.off('connection', onConnection);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve({ answer, serverBytesRead: socket.bytesRead, clientBodyBytesWritten: written });
        client.destroy();
      });
    };
    http.server.on('connection', onConnection);
    const { port } = new URL(http.url);
    const client = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    let written = 0;
    let done = false;
    client.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    client.on('error', () => {
      done = true; // the relay reset the connection: expected once it gave up on the body
    });
    client.on('close', () => {
      done = true;
    });
    const block = Buffer.alloc(chunk, 0x61);
    const pump = () => {
      while (!done && written < bodyLength) {
        const n = Math.min(chunk, bodyLength - written);
        written += n;
        const more = client.write(n === chunk ? block : block.subarray(0, n));
        if (gapMs > 0) {
          setTimeout(pump, gapMs);
          return;
        }
        if (!more) {
          client.once('drain', pump);
          return;
        }
      }
    };
    client.once('connect', () => {
      client.write(head);
      pump();
    });
    const timer = setTimeout(
      () => reject(new Error(`the relay kept the connection; socket: ${String(serverSocket)}`)),
      20_000,
    );
  });
}

describe('refused authentication', () => {
  let t: TestRelay;
  let http: Listening;
  beforeAll(async () => {
    t = await startTestRelay();
    // The relay's app behind the production listener, to watch its sockets.
    http = await listen(t.relay.app, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await http.close(0);
    await t.close();
  });

  it('answers 401 to a 100 MB PATCH without a token and closes before reading 1 MiB of it', async () => {
    const length = 100 * 1024 * 1024;
    const head =
      'PATCH /files/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: relay\r\nTus-Resumable: 1.0.0\r\n' +
      'Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n' +
      `Content-Length: ${length}\r\n\r\n`;
    const exchange = await rawExchange(http, head, length);
    expect(exchange.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(exchange.answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(exchange.answer).toContain('"UNAUTHORIZED"');
    expect(exchange.serverBytesRead).toBeLessThan(MiB);
    expect(exchange.clientBodyBytesWritten).toBeLessThan(length);
  }, 30_000);

  it('does not let a body sent a byte at a time hold the connection', async () => {
    const head =
      'POST /api/imports HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer wrong\r\n' +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const started = Date.now();
    // One byte every 50 ms would take 50 s; the relay closes after answering and lingering.
    const exchange = await rawExchange(http, head, 1_000, { chunk: 1, gapMs: 50 });
    expect(exchange.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(exchange.clientBodyBytesWritten).toBeLessThan(1_000);
    expect(Date.now() - started).toBeLessThan(LINGER_MS + 5_000);
  }, 30_000);

  it('closes the connection of a 403 too', async () => {
    const res = await request(t.relay.app)
      .post('/api/jobs/some-job/retry')
      .set('Authorization', `Basic ${Buffer.from(`ops:${t.token}`).toString('base64')}`)
      .set('Sec-Fetch-Site', 'cross-site');
    expect(res.status).toBe(403);
    expect(res.headers.connection).toBe('close');
  });

  it('keeps the connection of accepted requests', async () => {
    const res = await fetch(`${http.url}/api/jobs`, { headers: { Authorization: `Bearer ${t.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).not.toBe('close');
  });
});

describe('throttling failed authentication per address', () => {
  let t: TestRelay;
  beforeAll(async () => {
    // Behind a proxy, so that X-Forwarded-For plays several client addresses.
    t = await startTestRelay({ authFailuresPerMinute: 20, trustProxy: true });
  });
  afterAll(() => t.close());

  const from = (address: string, authorization?: string) => {
    const req = request(t.relay.app).get('/api/jobs').set('X-Forwarded-For', address);
    return authorization ? req.set('Authorization', authorization) : req;
  };

  it('answers 429 with Retry-After after 20 failures a minute, and lets valid tokens in', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await from('203.0.113.7', i % 2 ? 'Bearer wrong' : undefined);
      expect([i, res.status]).toEqual([i, 401]);
    }
    const throttled = await from('203.0.113.7', 'Bearer wrong');
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('TOO_MANY_AUTH_FAILURES');
    expect(throttled.headers.connection).toBe('close');
    const wait = Number(throttled.headers['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // The same address with a valid token: not counted, not refused.
    expect((await from('203.0.113.7', `Bearer ${t.token}`)).status).toBe(200);
    // Another address: its own count.
    expect((await from('198.51.100.2', 'Bearer wrong')).status).toBe(401);
    // The counters live under the relay's REDIS_PREFIX.
    const keys = await t.redis.keys(`${t.prefix}:auth-failures:*`);
    expect(keys.sort()).toEqual([
      `${t.prefix}:auth-failures:198.51.100.2`,
      `${t.prefix}:auth-failures:203.0.113.7`,
    ]);
  });
});
