import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** A network: its address and prefix length, as ipaddr.js's `parseCIDR` gives it. */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * `a.b.c.d/n` or `v6::/n` (a bare address is a /32 or /128), or null when it is not one. Only the
 * plain spellings: a configured range reads as what it is (no `10.1/16`, no octal).
 */
export function parseCidr(text: string): Cidr | null {
  const [address = '', bits, extra] = text.trim().split('/');
  const version = isIP(address);
  if (extra !== undefined || version === 0) return null;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  try {
    return ipaddr.parseCIDR(`${address}/${bits ?? (version === 4 ? 32 : 128)}`);
  } catch {
    return null;
  }
}

/** A test for "is this client address in one of these CIDRs" (IPv4-mapped IPv6 counts as IPv4). */
export function cidrMatcher(cidrs: readonly string[]): (address: string | undefined) => boolean {
  const ranges = cidrs.map((cidr) => {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`not a CIDR: "${cidr}"`);
    return parsed;
  });
  return (address) => {
    // A socket's address, in its plain spelling; anything else is no match.
    if (!address || isIP(address) === 0) return false;
    const ip = ipaddr.process(address);
    return ranges.some((range) => ip.kind() === range[0].kind() && ip.match(range));
  };
}
