import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HostEntry, parseHostEntry, type ResolveHost } from '@gtr/core';
import { CALLBACK_REASONS, type CallbackPolicy, sendCallback } from './callback.js';

interface Hook {
  port: number;
  hits: Array<{ method: string; body: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** A tool's endpoint on every local address (IPv4 and IPv6 loopback): records what reaches it. */
async function startHook(handler: (res: http.ServerResponse) => void = (res) => res.end()): Promise<Hook> {
  const hits: Hook['hits'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      hits.push({ method: req.method ?? '', body, headers: req.headers });
      handler(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Names as a tool's DNS might answer them: some point at loopback, one mixes in a public address. */
const resolve: ResolveHost = async (name) => {
  const table: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
    'hooks.example': [{ address: '127.0.0.1', family: 4 }],
    'rebind.example': [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'metadata.example': [{ address: '169.254.169.254', family: 4 }],
  };
  const found = table[name];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return found;
};

const hosts = (...entries: string[]): HostEntry[] => entries.map((e) => parseHostEntry(e)!);
const policy = (over: Partial<CallbackPolicy> = {}): CallbackPolicy => ({
  allowPrivate: false,
  allowedHosts: [],
  resolve,
  timeoutMs: 2_000,
  ...over,
});
const post = (url: string, p: CallbackPolicy) =>
  sendCallback(url, '{"id":"j1"}', { 'Content-Type': 'application/json' }, p);

describe('sendCallback: the relay network is off limits by default', () => {
  let hook: Hook;
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(() => hook.close());
  beforeEach(() => {
    hook.hits.length = 0;
  });

  // Every way of writing "this machine" (and DNS names that mean it): refused, never connected.
  // `localhost` goes to the system resolver (/etc/hosts), as in production; the others to `resolve`.
  const LOOPBACK: ReadonlyArray<readonly [string, (port: number) => string]> = [
    ['127.0.0.1', (port) => `http://127.0.0.1:${port}/hook`],
    ['127.1', (port) => `http://127.1:${port}/hook`],
    ['0x7f000001', (port) => `http://0x7f000001:${port}/hook`],
    ['2130706433', (port) => `http://2130706433:${port}/hook`],
    ['0177.0.0.1 (octal)', (port) => `http://0177.0.0.1:${port}/hook`],
    ['[::ffff:127.0.0.1]', (port) => `http://[::ffff:127.0.0.1]:${port}/hook`],
    ['0.0.0.0', (port) => `http://0.0.0.0:${port}/hook`],
    ['localhost', (port) => `http://localhost:${port}/hook`],
    ['[::1]', (port) => `http://[::1]:${port}/hook`],
    ['a DNS name resolving to 127.0.0.1', (port) => `http://hooks.example:${port}/hook`],
  ];
  const policyFor = (url: string, over: Partial<CallbackPolicy> = {}) =>
    policy({ ...over, ...(new URL(url).hostname === 'localhost' ? { resolve: undefined } : {}) });

  it.each(LOOPBACK)('refuses %s without connecting', async (_what, url) => {
    const outcome = await post(url(hook.port), policyFor(url(hook.port)));
    expect(outcome).toMatchObject({ delivered: false, refused: true, reason: CALLBACK_REASONS.refused });
    expect(hook.hits).toHaveLength(0);
  });

  it.each(LOOPBACK)(
    'reaches %s with CALLBACK_ALLOW_PRIVATE (so the refusal above is real)',
    async (_what, url) => {
      const outcome = await post(url(hook.port), policyFor(url(hook.port), { allowPrivate: true }));
      expect(outcome).toEqual({ delivered: true, status: 200 });
      expect(hook.hits).toEqual([expect.objectContaining({ method: 'POST', body: '{"id":"j1"}' })]);
    },
  );

  it('refuses a DNS name with a public and a loopback address (rebinding)', async () => {
    const outcome = await post(`http://rebind.example:${hook.port}/`, policy());
    expect(outcome).toMatchObject({ delivered: false, refused: true, reason: CALLBACK_REASONS.refused });
    expect(hook.hits).toHaveLength(0);
  });

  it.each([
    ['a private address', 'http://10.0.0.7/hook'],
    ['a private 172.16/12 address', 'http://172.20.1.1/hook'],
    ['a private 192.168/16 address', 'http://192.168.1.1/hook'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['a name resolving to the metadata address', 'http://metadata.example/'],
    ['a CGNAT address', 'http://100.64.0.1/hook'],
    ['a NAT64 address of loopback', 'http://[64:ff9b::7f00:1]/hook'],
    ['an IPv6 unique-local address', 'http://[fd00::1]/hook'],
    ['an IPv6 link-local address', 'http://[fe80::1]/hook'],
    ['the IPv6 unspecified address', 'http://[::]/hook'],
    ['an IPv4-compatible IPv6 address', 'http://[::127.0.0.1]/hook'],
    ['a 6to4 address of a private one', 'http://[2002:a00:1::]/hook'],
  ])('refuses %s', async (_what, url) => {
    const outcome = await post(url, policy());
    expect(outcome).toMatchObject({ delivered: false, refused: true, reason: CALLBACK_REASONS.refused });
  });

  it('says nothing internal: no address, port or socket error in the reason', async () => {
    const outcome = await post(`http://hooks.example:${hook.port}/hook`, policy());
    if (outcome.delivered) throw new Error('delivered');
    expect(outcome.reason).toBe('the callback address is not allowed (private or loopback)');
    expect(outcome.reason).not.toMatch(/127|::1|\d{2,}/);
    // The operator's log detail may say what it resolved to.
    expect(outcome.detail).toContain('127.0.0.1');
  });

  it('does not follow a redirect, even to an allowed address', async () => {
    const redirecting = await startHook((res) =>
      res.writeHead(302, { Location: `http://127.0.0.1:${hook.port}/hook` }).end(),
    );
    try {
      const outcome = await post(
        `http://hooks.example:${redirecting.port}/`,
        policy({ allowedHosts: hosts(`hooks.example:${redirecting.port}`) }),
      );
      expect(outcome).toMatchObject({
        delivered: false,
        refused: false,
        reason: 'the callback endpoint answered 302 (a redirect; redirects are not followed)',
      });
      expect(redirecting.hits).toHaveLength(1);
      expect(hook.hits).toHaveLength(0);
    } finally {
      await redirecting.close();
    }
  });
});

describe('sendCallback: CALLBACK_ALLOWED_HOSTS', () => {
  let hook: Hook;
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(() => hook.close());
  beforeEach(() => {
    hook.hits.length = 0;
  });

  it('lets a listed host name reach its internal address, on any port', async () => {
    const outcome = await post(
      `http://hooks.example:${hook.port}/hook`,
      policy({ allowedHosts: hosts('HOOKS.example') }),
    );
    expect(outcome).toEqual({ delivered: true, status: 200 });
    expect(hook.hits).toHaveLength(1);
  });

  it('lets host:port reach only that port', async () => {
    const allowed = policy({ allowedHosts: hosts(`hooks.example:${hook.port}`) });
    expect(await post(`http://hooks.example:${hook.port}/hook`, allowed)).toMatchObject({ delivered: true });
    expect(await post(`http://hooks.example:${hook.port === 1 ? 2 : 1}/hook`, allowed)).toMatchObject({
      refused: true,
    });
    expect(await post('http://hooks.example/hook', allowed)).toMatchObject({ refused: true });
    expect(hook.hits).toHaveLength(1);
  });

  it('does not extend to other hosts that resolve to the same address', async () => {
    const outcome = await post(
      `http://127.0.0.1:${hook.port}/hook`,
      policy({ allowedHosts: hosts('hooks.example') }),
    );
    expect(outcome).toMatchObject({ refused: true });
    expect(hook.hits).toHaveLength(0);
  });

  it('matches an IP address however the URL writes it', async () => {
    const outcome = await post(
      `http://127.1:${hook.port}/hook`,
      policy({ allowedHosts: hosts('127.0.0.1') }),
    );
    expect(outcome).toEqual({ delivered: true, status: 200 });
  });
});

describe('sendCallback: failures in words', () => {
  it('names the status of an endpoint that answers an error, as retryable', async () => {
    const failing = await startHook((res) => res.writeHead(503).end('internal stack trace here'));
    try {
      const outcome = await post(`http://127.0.0.1:${failing.port}/`, policy({ allowPrivate: true }));
      expect(outcome).toMatchObject({
        delivered: false,
        refused: false,
        reason: 'the callback endpoint answered 503',
      });
    } finally {
      await failing.close();
    }
  });

  it('says "could not be reached" for a closed port, a DNS failure and a reset, without the socket error', async () => {
    const closed = await startHook();
    const port = closed.port;
    await closed.close();
    const resetting = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r));
    try {
      for (const url of [
        `http://127.0.0.1:${port}/`,
        'http://nowhere.example/',
        `http://127.0.0.1:${(resetting.address() as AddressInfo).port}/`,
      ]) {
        const outcome = await post(url, policy({ allowPrivate: true }));
        expect(outcome).toMatchObject({
          delivered: false,
          refused: false,
          reason: 'the callback endpoint could not be reached',
        });
        if (!outcome.delivered)
          expect(outcome.detail).toMatch(/ECONNREFUSED|ENOTFOUND|ECONNRESET|socket hang up/);
      }
    } finally {
      await new Promise((r) => resetting.close(r));
    }
  });

  it('says "did not answer in time" for an endpoint that hangs', async () => {
    const hanging = await startHook(() => {});
    try {
      const outcome = await post(
        `http://127.0.0.1:${hanging.port}/`,
        policy({ allowPrivate: true, timeoutMs: 300 }),
      );
      expect(outcome).toMatchObject({
        refused: false,
        reason: 'the callback endpoint did not answer in time',
      });
    } finally {
      await hanging.close();
    }
  });

  it('refuses a URL that is not http(s) for good', async () => {
    expect(await post('file:///etc/passwd', policy({ allowPrivate: true }))).toMatchObject({
      refused: true,
      reason: 'the callback URL is not a valid http(s) URL',
    });
  });
});
