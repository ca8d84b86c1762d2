import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { pipeline, type Readable, Transform } from 'node:stream';
import { describeAddress, isAddressAllowed, isLocalhostName, LOCALHOST_ADDRESSES } from './address-policy.js';
import { SafeFetchError } from './errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name resolution for the guard: every address a host name has. */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

/** `dns.promises.lookup(host, {all: true})`: what the operating system (and /etc/hosts) says. */
export const systemResolve: ResolveHost = async (hostname) => {
  const found = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export interface SafeFetchOptions {
  /** Default `GET`. */
  method?: string;
  /**
   * Sent on every hop, except that `Authorization`, `Cookie` and `Proxy-Authorization` are
   * dropped once a redirect leaves the origin (as browsers do).
   */
  headers?: Record<string, string>;
  /** Let the fetch reach loopback, private, link-local and other non-public addresses. Default false. */
  allowPrivate?: boolean;
  /**
   * Which resolved addresses may be connected to, replacing the default (public only, or any
   * with `allowPrivate`): for an allow-list of internal ranges.
   */
  isAllowed?: (address: string) => boolean;
  /** Deadline in ms for the whole exchange, reading the body included; 0 = none. Default 30 000. */
  timeoutMs?: number;
  /** Fail when no byte moves on the connection for this long (ms); 0 = never. Default 30 000. */
  idleTimeoutMs?: number;
  /** Redirects followed before giving up with TOO_MANY_REDIRECTS. Default 5. */
  maxRedirects?: number;
  /** `false`: a redirect is the answer (not followed, its body discarded). Default true. */
  followRedirects?: boolean;
  /** Request body, sent with its Content-Length; dropped when a redirect turns the method into GET. */
  body?: string | Buffer;
  /** Refuse a body over this many bytes: by Content-Length up front, and while reading. Default: no limit. */
  maxBytes?: number;
  /** Aborting rejects (or errors the body) with the signal's reason. */
  signal?: AbortSignal;
  /** Default `systemResolve`; tests map names to test servers. */
  resolve?: ResolveHost;
}

export interface SafeFetchResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered (after redirects, without fragment). */
  url: string;
  /** The URLs that redirected, in order. */
  redirects: string[];
  /** The IP address the answer came from. */
  address: string;
  /**
   * The response body. Errors with a SafeFetchError on a timeout or over `maxBytes`, and with
   * the signal's reason on abort. Consume it or call `discard()`.
   */
  body: Readable;
  /** Drops the body and closes the connection. */
  discard(): void;
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const USER_AGENT = 'gcore-tus-relay';

/**
 * An HTTP(S) request that cannot be pointed at the relay's own network: every hop's host is
 * resolved once, all its addresses must be public unicast (unless `allowPrivate`), and the connection
 * goes to the checked address (so DNS rebinding cannot swap it) while SNI and `Host` keep the
 * name. Redirects are followed by hand, each re-checked; no connection is reused.
 */
export async function safeFetch(
  input: string | URL,
  options: SafeFetchOptions = {},
): Promise<SafeFetchResponse> {
  options.signal?.throwIfAborted();
  const maxRedirects = options.maxRedirects ?? 5;
  const exchange = new Exchange(options);
  try {
    let url = parseHttpUrl(input);
    let method = (options.method ?? 'GET').toUpperCase();
    let headers = lowerCaseKeys(options.headers ?? {});
    let body = options.body;
    const redirects: string[] = [];
    for (;;) {
      const target = await exchange.race(resolveTarget(url, options));
      const res = await exchange.send(url, method, headers, target, body);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(status) || !location || options.followRedirects === false) {
        return exchange.respond(res, url, redirects, target.address);
      }
      res.destroy();
      if (redirects.length >= maxRedirects) {
        throw new SafeFetchError(
          'TOO_MANY_REDIRECTS',
          `more than ${maxRedirects} redirects (the last from ${url.href})`,
        );
      }
      const next = parseRedirect(location, url);
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      if (next.origin !== url.origin) {
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.includes(k)),
        );
      }
      redirects.push(url.href);
      url = next;
    }
  } catch (error) {
    exchange.finish();
    throw error;
  }
}

function parseHttpUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch (error) {
    throw new SafeFetchError('INVALID_URL', `"${String(input).slice(0, 200)}" is not a URL`, false, {
      cause: error,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SafeFetchError(
      'UNSUPPORTED_SCHEME',
      `only http and https URLs can be fetched, not ${url.protocol}`,
    );
  }
  url.hash = '';
  return url;
}

function parseRedirect(location: string, from: URL): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (error) {
    throw new SafeFetchError('INVALID_URL', `${from.href} redirects to an invalid URL`, false, {
      cause: error,
    });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new SafeFetchError(
      'UNSUPPORTED_SCHEME',
      `${from.href} redirects to a ${next.protocol} URL; only http and https are followed`,
    );
  }
  next.hash = '';
  return next;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

interface Target {
  /** What the request names (host name, or the bare IP). */
  host: string;
  /** Where it connects. */
  address: string;
  family: 4 | 6;
  /** Whether `host` is a name that must be pinned to `address`. */
  pinned: boolean;
}

/**
 * The one address a hop may connect to, or the refusal. `url.hostname` is what the WHATWG parser
 * made of the host: every IPv4 spelling (`0x7f.1`, `2130706433`, `127.0.0.1.`) is already the
 * dotted quad, IPv6 is in brackets (no zone id parses), and a name is lower case.
 */
async function resolveTarget(url: URL, options: SafeFetchOptions): Promise<Target> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const isAllowed = allowedBy(options);
  const literal = net.isIP(host);
  if (literal !== 0) {
    // Node connects to an IP literal as written, without a lookup: this is the address it uses.
    if (!isAllowed(host)) throw notAllowed(host, host);
    return { host, address: host, family: literal === 6 ? 6 : 4, pinned: false };
  }
  // localhost names are loopback whatever a resolver says (RFC 6761): refused before any lookup.
  const loopback = isLocalhostName(host) ? LOCALHOST_ADDRESSES.find((a) => !isAllowed(a)) : undefined;
  if (loopback) throw notAllowed(host, loopback);
  let found: ResolvedAddress[];
  try {
    found = await (options.resolve ?? systemResolve)(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SafeFetchError(
      'DNS_FAILED',
      `cannot resolve ${host} (${code ?? (error as Error).message})`,
      code === 'EAI_AGAIN' || code === 'ETIMEOUT',
      { cause: error },
    );
  }
  if (found.length === 0) throw new SafeFetchError('DNS_FAILED', `${host} has no address`);
  // One bad address is enough to refuse: a name that mixes public and private answers is the
  // usual shape of a rebinding attempt.
  const bad = found.find((a) => !isAllowed(a.address));
  if (bad) throw notAllowed(host, bad.address);
  const first = found[0]!;
  return { host, address: first.address, family: first.family, pinned: true };
}

/** The options' test for an address: `isAllowed`, or unicast only (anything with `allowPrivate`). */
function allowedBy(options: SafeFetchOptions): (address: string) => boolean {
  const allowPrivate = options.allowPrivate ?? false;
  return options.isAllowed ?? ((address: string) => isAddressAllowed(address, allowPrivate));
}

function notAllowed(host: string, address: string): SafeFetchError {
  const what = host === address ? '' : `${host} resolves to `;
  return new SafeFetchError(
    'ADDRESS_NOT_ALLOWED',
    `${what}${describeAddress(address)} the relay may not fetch from; it fetches from public unicast` +
      ' addresses only (IMPORT_ALLOW_PRIVATE=true lifts this for internal sources)',
  );
}

/**
 * The `lookup` Node calls when it connects to a name: it answers only the address already
 * checked, whatever Node asks for, and checks it again right there, so the address judged is the
 * address connected to.
 */
function pinnedLookup(target: Target, isAllowed: (address: string) => boolean): net.LookupFunction {
  const { address, family } = target;
  return (hostname, options, callback) => {
    if (!isAllowed(address)) {
      callback(notAllowed(hostname, address) as unknown as NodeJS.ErrnoException, '', 0);
      return;
    }
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

/** The state of one safeFetch across its hops: deadline, abort and the live request. */
class Exchange {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort = () => this.abort(this.options.signal?.reason);
  private req: http.ClientRequest | undefined;
  private res: http.IncomingMessage | undefined;
  private finished = false;

  constructor(private readonly options: SafeFetchOptions) {
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.abort(
          new SafeFetchError('FETCH_TIMEOUT', `no complete answer within ${seconds(timeoutMs)}`, true),
        );
      }, timeoutMs).unref();
    }
    options.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  private abort(reason: unknown): void {
    if (this.controller.signal.aborted || this.finished) return;
    this.controller.abort(reason);
    const error = reason instanceof Error ? reason : new Error(String(reason));
    this.res?.destroy(error);
    this.req?.destroy(error);
  }

  /** Stops the clock and forgets the caller's signal. */
  finish(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onCallerAbort);
  }

  /** `promise`, unless the exchange is aborted first (DNS lookups cannot be cancelled). */
  race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    target: Target,
    body?: string | Buffer,
  ): Promise<http.IncomingMessage> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const requestOptions: https.RequestOptions = {
        method,
        hostname: target.host,
        port: url.port ? Number(url.port) : secure ? 443 : 80,
        path: `${url.pathname}${url.search}`,
        headers: {
          'user-agent': USER_AGENT,
          accept: '*/*',
          ...headers,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        },
        // A pooled socket could have been opened to another address; every hop connects afresh.
        agent: false,
      };
      if (target.pinned) requestOptions.lookup = pinnedLookup(target, allowedBy(this.options));
      if (url.username || url.password) {
        requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      }
      let req: http.ClientRequest;
      try {
        req = (secure ? https : http).request(requestOptions);
      } catch (error) {
        // Node validates header names and values here.
        reject(new SafeFetchError('INVALID_URL', `cannot send the request: ${(error as Error).message}`));
        return;
      }
      this.req = req;
      this.res = undefined;
      req.once('response', (res) => {
        this.res = res;
        resolve(res);
      });
      req.on('error', (error) => reject(this.translate(error, url)));
      const idleMs = this.options.idleTimeoutMs ?? 30_000;
      if (idleMs > 0) {
        req.setTimeout(idleMs, () => {
          this.abort(
            new SafeFetchError('FETCH_TIMEOUT', `${url.host} sent nothing for ${seconds(idleMs)}`, true),
          );
        });
      }
      req.end(body);
    });
  }

  private translate(error: Error, url: URL): unknown {
    if (this.controller.signal.aborted) return this.controller.signal.reason;
    if (error instanceof SafeFetchError) return error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    // A certificate problem does not go away by trying again; a refused or reset connection may.
    const tls = /CERT|SSL|TLS|SELF_SIGNED/.test(code);
    return new SafeFetchError(
      'CONNECTION_FAILED',
      `cannot reach ${url.host}: ${code ? `${code} ` : ''}${error.message}`.trim(),
      !tls,
      { cause: error },
    );
  }

  respond(res: http.IncomingMessage, url: URL, redirects: string[], address: string): SafeFetchResponse {
    const { maxBytes } = this.options;
    const length = Number(res.headers['content-length'] ?? Number.NaN);
    if (maxBytes !== undefined && Number.isFinite(length) && length > maxBytes) {
      res.destroy();
      throw new SafeFetchError('TOO_LARGE', `${url.href} is ${length} bytes, over the limit of ${maxBytes}`);
    }
    let seen = 0;
    const body = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (maxBytes !== undefined && seen > maxBytes) {
          callback(new SafeFetchError('TOO_LARGE', `${url.href} sent more than ${maxBytes} bytes`));
          return;
        }
        callback(null, chunk);
      },
    });
    // Errors still reach whoever reads the body (pipeline, for await); this only keeps an
    // abandoned body from crashing the process when the deadline destroys it later.
    body.on('error', () => {});
    pipeline(res, body, () => this.finish());
    return {
      status: res.statusCode ?? 0,
      statusText: res.statusMessage ?? '',
      headers: res.headers,
      url: url.href,
      redirects,
      address,
      body,
      discard: () => {
        body.destroy();
        res.destroy();
      },
    };
  }
}

function seconds(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000} s` : `${ms} ms`;
}
