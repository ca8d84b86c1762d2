import net from 'node:net';
import tls from 'node:tls';
import { message } from './report.js';

export const NETWORK_TIMEOUT_MS = 10_000;

/** Rejects after `ms` (the operation itself keeps running; callers clean up). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Connects (TLS or plain TCP) and reports what the server showed. */
export function probe(
  host: string,
  port: number,
  useTls: boolean,
): Promise<{ protocol?: string; validTo?: string; authorized: boolean; error?: string }> {
  return new Promise((resolve) => {
    const done = (result: { protocol?: string; validTo?: string; authorized: boolean; error?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = useTls
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host, port });
    const timer = setTimeout(
      () => done({ authorized: false, error: `no connection within ${NETWORK_TIMEOUT_MS / 1000} s` }),
      NETWORK_TIMEOUT_MS,
    );
    socket.once('error', (error) => done({ authorized: false, error: message(error) }));
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      if (!useTls) return done({ authorized: true });
      const secure = socket as tls.TLSSocket;
      const cert = secure.getPeerCertificate();
      done({
        authorized: secure.authorized,
        protocol: secure.getProtocol() ?? 'TLS',
        ...(cert?.valid_to ? { validTo: cert.valid_to } : {}),
        ...(secure.authorized ? {} : { error: String(secure.authorizationError) }),
      });
    });
  });
}

/** `host`, `host:port` or `[v6]:port` with a default port. */
export function hostPort(hostname: string, defaultPort: number): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(hostname);
  if (!match) return { host: hostname, port: defaultPort };
  return { host: (match[1] ?? match[2])!, port: match[3] ? Number(match[3]) : defaultPort };
}
