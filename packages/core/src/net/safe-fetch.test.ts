import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { SafeFetchError } from './errors.js';
import { type ResolveHost, safeFetch } from './safe-fetch.js';

interface Origin {
  port: number;
  url: string;
  hits: http.IncomingMessage[];
  close(): Promise<void>;
}

/** A plain HTTP server on 127.0.0.1 port 0 that records every request it gets. */
async function startOrigin(handler: http.RequestListener): Promise<Origin> {
  const hits: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// A throw-away self-signed certificate for "media.test" (test only; nothing trusts it).
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgra+9x7Vw7P4vtt3a
c2OEd/Pq4dhFan6GlNaqfmxKS8GhRANCAAQ1IvtbBAkA5CKGwTPZU0hraIdmEVQJ
TATbPxJay7Lu1oirgNXWH3yKnU08xHyA2mnEL6+FztMN0kwrM/5mpmHJ
-----END PRIVATE KEY-----`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUSUN0gJCPFJxMNatH5/LMuv+SI+IwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKbWVkaWEudGVzdDAgFw0yNjExMjIxMjQ2MDhaGA8yMTI2MTAy
OTEyNDYwOFowFTETMBEGA1UEAwwKbWVkaWEudGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABDUi+1sECQDkIobBM9lTSGtoh2YRVAlMBNs/ElrLsu7WiKuA1dYf
fIqdTTzEfIDaacQvr4XO0w3STCsz/mamYcmjajBoMB0GA1UdDgQWBBSskqDs5lZe
h680RgyTmjtW8apPVzAfBgNVHSMEGDAWgBSskqDs5lZeh680RgyTmjtW8apPVzAP
BgNVHRMBAf8EBTADAQH/MBUGA1UdEQQOMAyCCm1lZGlhLnRlc3QwCgYIKoZIzj0E
AwIDSAAwRQIhAKV1s+BbkHWOp4x344pVB9iiYt+A63L89vlXbJdCvZznAiBDTbSZ
qXCi55EjyA3Hjwbr72+k9+q71TTXZ62Ji6iNLg==
-----END CERTIFICATE-----`;

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error instanceof SafeFetchError ? error.code : `not a SafeFetchError: ${String(error)}`;
  }
  return 'resolved';
};

describe('safeFetch', () => {
  let origin: Origin;
  beforeEach(async () => {
    origin = await startOrigin((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const hops = /^\/hops\/(\d+)$/.exec(url.pathname);
      if (hops) {
        const n = Number(hops[1]);
        if (n === 0) res.end('arrived');
        // Relative Location: resolved against the current URL.
        else res.writeHead(302, { Location: `${n - 1}` }).end();
        return;
      }
      if (url.pathname === '/redirect') {
        res.writeHead(302, { Location: url.searchParams.get('to')! }).end();
        return;
      }
      if (url.pathname === '/echo') {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(req.headers));
        return;
      }
      if (url.pathname === '/body') {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          const { method } = req;
          const length = req.headers['content-length'] ?? null;
          res.end(JSON.stringify({ method, body, length, type: req.headers['content-type'] ?? null }));
        });
        return;
      }
      if (url.pathname === '/hang') return;
      if (url.pathname === '/stream') {
        res.write('x'.repeat(1_000));
        res.end('x'.repeat(1_000));
        return;
      }
      res.setHeader('Content-Type', 'video/mp4');
      res.end('hello');
    });
  });
  afterEach(() => origin.close());

  it('fetches from a private address only when allowed, and reports status, headers and address', async () => {
    const res = await safeFetch(`${origin.url}/a.mp4`, { allowPrivate: true });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.address).toBe('127.0.0.1');
    expect(res.url).toBe(`${origin.url}/a.mp4`);
    expect(await text(res.body)).toBe('hello');
  });

  // Every way a URL can name the test origin on loopback: each is refused before any connection.
  it.each([
    '127.0.0.1',
    '127.1',
    '127.0.1',
    '0177.0.0.1',
    '0x7f.1',
    '0x7f.0x0.0x0.0x1',
    '2130706433',
    '0x7f000001',
    '017700000001',
    '127.000.000.001',
    '127.0.0.1.',
    '%31%32%37.0.0.1',
    '\uff11\uff12\uff17.\uff10.\uff10.\uff11', // full-width digits, mapped by IDNA
    '[::1]',
    '[0:0:0:0:0:0:0:1]',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::ffff:0:7f00:1]',
    '[::ffff:0:127.0.0.1]',
    '[::127.0.0.1]',
    '[64:ff9b::7f00:1]',
    '[2002:7f00:1::]',
    '[2001:0:4136:e378:8000:63bf:80ff:fffe]',
    'localhost',
    'LOCALHOST.',
    'api.localhost',
    'a.b.localhost..',
  ])('refuses http://%s:<port>/ before connecting when private addresses are not allowed', async (host) => {
    const url = `http://${host}:${origin.port}/a.mp4`;
    // Refused up front: not a connect attempt that timed out (that would be FETCH_TIMEOUT).
    await expect(codeOf(safeFetch(url, { timeoutMs: 2_000 }))).resolves.toBe('ADDRESS_NOT_ALLOWED');
    expect(origin.hits).toHaveLength(0);
  });

  it.each([
    ['10.0.0.1', 'http://10.0.0.1/a.mp4'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['the metadata address in hex', 'http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/'],
  ])('refuses %s before connecting', async (_what, url) => {
    await expect(codeOf(safeFetch(url, { timeoutMs: 2_000 }))).resolves.toBe('ADDRESS_NOT_ALLOWED');
  });

  it.each(['::ffff:0:7f00:1', '::ffff:127.0.0.1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::'])(
    'refuses a name the resolver answers with %s (loopback in an IPv6 form)',
    async (address) => {
      const resolve: ResolveHost = async () => [{ address, family: 6 }];
      const url = `http://media.test:${origin.port}/a.mp4`;
      await expect(codeOf(safeFetch(url, { resolve, timeoutMs: 2_000 }))).resolves.toBe(
        'ADDRESS_NOT_ALLOWED',
      );
      expect(origin.hits).toHaveLength(0);
    },
  );

  it('refuses localhost names without asking the resolver, whatever it would answer', async () => {
    const asked: string[] = [];
    const resolve: ResolveHost = async (host) => {
      asked.push(host);
      return [{ address: '93.184.216.34', family: 4 }];
    };
    for (const host of ['localhost', 'tool.localhost', 'Tool.LocalHost.']) {
      const error = await safeFetch(`http://${host}:${origin.port}/`, { resolve }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ADDRESS_NOT_ALLOWED' });
      expect((error as Error).message).toContain('127.0.0.1 is a loopback address');
    }
    expect(asked).toEqual([]);
    // Allowed: resolved like any other name.
    const allowed = async () => [{ address: '127.0.0.1', family: 4 as const }];
    const res = await safeFetch(`http://tool.localhost:${origin.port}/a.mp4`, {
      allowPrivate: true,
      resolve: allowed,
    });
    expect([res.status, res.address]).toEqual([200, '127.0.0.1']);
    res.discard();
  });

  it('checks the pinned address again in the lookup Node calls when it connects', async () => {
    const judged: string[] = [];
    // Allows the address when the name is resolved, refuses it at connect time.
    const isAllowed = (address: string) => judged.push(address) === 1;
    const resolve: ResolveHost = async () => [{ address: '127.0.0.1', family: 4 }];
    const url = `http://media.test:${origin.port}/a.mp4`;
    await expect(codeOf(safeFetch(url, { isAllowed, resolve }))).resolves.toBe('ADDRESS_NOT_ALLOWED');
    expect(judged).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(origin.hits).toHaveLength(0);
  });

  it('names the embedded IPv4 address that decided, for the operator', async () => {
    const error = await safeFetch(`http://[::ffff:0:7f00:1]:${origin.port}/`).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^::ffff:0:7f00:1 \(the IPv4-translated form of 127\.0\.0\.1\) is a loopback address the relay may not fetch from/,
    );
  });

  it('connects to the address it checked, keeping the host name for Host (no second DNS lookup)', async () => {
    const asked: string[] = [];
    // A name only this resolver knows: the connection can only have used the pinned address.
    const resolve: ResolveHost = async (host) => {
      asked.push(host);
      return asked.length === 1
        ? [{ address: '127.0.0.1', family: 4 }]
        : [{ address: '10.9.9.9', family: 4 }];
    };
    const res = await safeFetch(`http://media.test:${origin.port}/echo`, { allowPrivate: true, resolve });
    const seen = JSON.parse(await text(res.body)) as Record<string, string>;
    expect(seen.host).toBe(`media.test:${origin.port}`);
    expect(res.address).toBe('127.0.0.1');
    expect(asked).toEqual(['media.test']);
  });

  it('over https, sends the host name as SNI to the pinned address and still verifies the certificate', async () => {
    const names: string[] = [];
    const server = https.createServer(
      {
        key: TEST_KEY,
        cert: TEST_CERT,
        SNICallback: (name, done) => {
          names.push(name);
          done(null);
        },
      },
      (_req, res) => res.end('secret'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const resolve: ResolveHost = async () => [{ address: '127.0.0.1', family: 4 }];
      const error = await safeFetch(`https://media.test:${port}/a.mp4`, {
        allowPrivate: true,
        resolve,
      }).catch((e) => e);
      // Self-signed: refused, and not worth retrying.
      expect([error.code, error.retryable]).toEqual(['CONNECTION_FAILED', false]);
      expect(names).toEqual(['media.test']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses a name when any of its addresses is private (rebinding shape)', async () => {
    const resolve: ResolveHost = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    await expect(codeOf(safeFetch(`http://mixed.test:${origin.port}/a.mp4`, { resolve }))).resolves.toBe(
      'ADDRESS_NOT_ALLOWED',
    );
    expect(origin.hits).toHaveLength(0);
  });

  it('follows up to 5 redirects (relative ones too) and refuses a 6th', async () => {
    const res = await safeFetch(`${origin.url}/hops/5`, { allowPrivate: true });
    expect(res.status).toBe(200);
    expect(await text(res.body)).toBe('arrived');
    expect(res.url).toBe(`${origin.url}/hops/0`);
    expect(res.redirects).toHaveLength(5);
    origin.hits.length = 0;
    await expect(codeOf(safeFetch(`${origin.url}/hops/6`, { allowPrivate: true }))).resolves.toBe(
      'TOO_MANY_REDIRECTS',
    );
    expect(origin.hits).toHaveLength(6);
  });

  it('re-checks every redirect hop: an allowed host redirecting to a private one is refused', async () => {
    // Only the test origin's address passes this policy, standing in for a public host.
    const isAllowed = (address: string) => address === '127.0.0.1';
    const resolve: ResolveHost = async (host) =>
      host === 'internal.test' ? [{ address: '192.168.1.10', family: 4 }] : [];
    for (const to of [
      'http://10.0.0.1/a.mp4',
      'http://169.254.169.254/latest/',
      'http://internal.test/a.mp4',
    ]) {
      const hit = origin.hits.length;
      const code = await codeOf(
        safeFetch(`${origin.url}/redirect?to=${encodeURIComponent(to)}`, {
          isAllowed,
          resolve,
          timeoutMs: 5_000,
        }),
      );
      expect([to, code]).toEqual([to, 'ADDRESS_NOT_ALLOWED']);
      expect(origin.hits.length).toBe(hit + 1);
    }
    // The same policy lets an allowed redirect through.
    const ok = await safeFetch(`${origin.url}/redirect?to=${encodeURIComponent('/a.mp4')}`, { isAllowed });
    expect(ok.status).toBe(200);
    ok.discard();
  });

  it('sends a request body with its length, and drops it when a redirect turns the POST into a GET', async () => {
    const options = {
      allowPrivate: true,
      method: 'POST',
      body: '{"é":1}',
      headers: { 'Content-Type': 'application/json' },
    };
    const direct = await safeFetch(`${origin.url}/body`, options);
    expect(JSON.parse(await text(direct.body))).toEqual({
      method: 'POST',
      body: '{"é":1}',
      length: '8',
      type: 'application/json',
    });
    const seeOther = encodeURIComponent('/body');
    origin.hits.length = 0;
    const redirected = await safeFetch(`${origin.url}/redirect?to=${seeOther}`, options);
    expect(JSON.parse(await text(redirected.body))).toMatchObject({ method: 'GET', body: '', type: null });
  });

  it('with followRedirects: false, answers the redirect itself and never asks its Location', async () => {
    const to = encodeURIComponent('/a.mp4');
    origin.hits.length = 0;
    const res = await safeFetch(`${origin.url}/redirect?to=${to}`, {
      allowPrivate: true,
      followRedirects: false,
    });
    expect([res.status, res.headers.location, res.redirects]).toEqual([302, '/a.mp4', []]);
    res.discard();
    expect(origin.hits.map((req) => req.url)).toEqual([`/redirect?to=${to}`]);
  });

  it('refuses a redirect to a scheme other than http(s), and a start URL that is not http(s)', async () => {
    const to = encodeURIComponent('ftp://files.example/a.mp4');
    await expect(codeOf(safeFetch(`${origin.url}/redirect?to=${to}`, { allowPrivate: true }))).resolves.toBe(
      'UNSUPPORTED_SCHEME',
    );
    await expect(codeOf(safeFetch('file:///etc/passwd', { allowPrivate: true }))).resolves.toBe(
      'UNSUPPORTED_SCHEME',
    );
  });

  it('drops credentials when a redirect leaves the origin, and keeps them on the same origin', async () => {
    const headers = { Authorization: 'Bearer secret', 'X-Custom': 'kept' };
    const same = await safeFetch(`${origin.url}/redirect?to=/echo`, { allowPrivate: true, headers });
    expect(JSON.parse(await text(same.body))).toMatchObject({
      authorization: 'Bearer secret',
      'x-custom': 'kept',
    });
    const other = `http://localhost:${origin.port}/echo`;
    const resolve: ResolveHost = async () => [{ address: '127.0.0.1', family: 4 }];
    const cross = await safeFetch(`${origin.url}/redirect?to=${encodeURIComponent(other)}`, {
      allowPrivate: true,
      headers,
      resolve,
    });
    const seen = JSON.parse(await text(cross.body)) as Record<string, string>;
    expect(seen.authorization).toBeUndefined();
    expect(seen['x-custom']).toBe('kept');
  });

  it('gives up after the total timeout with a retryable error', async () => {
    origin.hits.length = 0;
    const error = await safeFetch(`${origin.url}/hang`, { allowPrivate: true, timeoutMs: 300 }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(SafeFetchError);
    expect(error.code).toBe('FETCH_TIMEOUT');
    expect(error.retryable).toBe(true);
    // The request reached the origin once, which never answers: only the timeout can have ended
    // it, and the client hangs up (a timeout that never fired would leave this waiting).
    expect(origin.hits.map((req) => req.url)).toEqual(['/hang']);
    const hung = origin.hits[0]!;
    if (!hung.socket.destroyed) await once(hung.socket, 'close');
  });

  it('stops on the caller’s signal with its reason', async () => {
    const controller = new AbortController();
    const pending = safeFetch(`${origin.url}/hang`, { allowPrivate: true, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('job canceled')), 50);
    await expect(pending).rejects.toThrow('job canceled');
  });

  it('refuses a body over maxBytes: by Content-Length up front, or while streaming', async () => {
    await expect(codeOf(safeFetch(`${origin.url}/a.mp4`, { allowPrivate: true, maxBytes: 3 }))).resolves.toBe(
      'TOO_LARGE',
    );
    const res = await safeFetch(`${origin.url}/stream`, { allowPrivate: true, maxBytes: 1_500 });
    await expect(codeOf(text(res.body))).resolves.toBe('TOO_LARGE');
    const fits = await safeFetch(`${origin.url}/stream`, { allowPrivate: true, maxBytes: 2_000 });
    expect((await text(fits.body)).length).toBe(2_000);
  });

  it('reports a refused connection as retryable CONNECTION_FAILED', async () => {
    const port = origin.port;
    await origin.close();
    const error = await safeFetch(`http://127.0.0.1:${port}/a.mp4`, { allowPrivate: true }).catch((e) => e);
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.retryable).toBe(true);
    origin = await startOrigin(() => {});
  });
});
