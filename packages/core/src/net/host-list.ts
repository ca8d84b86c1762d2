import net from 'node:net';

/**
 * One entry of a host allow-list (`CALLBACK_ALLOWED_HOSTS`): a host name or IP address, with a
 * port when the entry names one (then only that port matches).
 */
export interface HostEntry {
  /** As the WHATWG URL parser normalizes it: lower case, IPv4 in dotted form, IPv6 in brackets. */
  hostname: string;
  port: number | null;
}

/**
 * Reads `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare IPv6 address) into a HostEntry;
 * null when it is none of these (a path, a scheme, credentials, a bad port).
 */
export function parseHostEntry(text: string): HostEntry | null {
  const entry = text.trim();
  if (!entry || /[/?#@\\\s]/.test(entry)) return null;
  // A bare IPv6 address has colons but no brackets: it has no port.
  const bare = !entry.startsWith('[') && net.isIPv6(entry);
  const authority = bare ? `[${entry}]` : entry;
  const shape = authority.startsWith('[') ? /^\[[^\]]+\](?::(\d{1,5}))?$/ : /^[^:]+(?::(\d{1,5}))?$/;
  const match = shape.exec(authority);
  if (!match) return null;
  const port = match[1] ?? null;
  let url: URL;
  try {
    url = new URL(`http://${authority}`);
  } catch {
    return null;
  }
  if (!url.hostname || url.pathname !== '/') return null;
  const portNumber = port === null ? null : Number(port);
  if (portNumber !== null && (portNumber < 1 || portNumber > 65_535)) return null;
  return { hostname: url.hostname, port: portNumber };
}

/** Whether `url`'s host (and port, default 80/443) is one of `entries`. */
export function hostListed(url: URL, entries: readonly HostEntry[]): boolean {
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const hostname = url.hostname.replace(/\.$/, '');
  return entries.some(
    (e) => e.hostname.replace(/\.$/, '') === hostname && (e.port === null || e.port === port),
  );
}
