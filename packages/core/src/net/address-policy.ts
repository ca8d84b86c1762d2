import ipaddr from 'ipaddr.js';

/**
 * What an IP address is, for deciding whether the relay may connect to it on a tool's behalf:
 * ipaddr.js's name for its range (`unicast`, `loopback`, `private`, `linkLocal`, `uniqueLocal`,
 * `carrierGradeNat`, `multicast`, `reserved`, `rfc6052`, …), or `invalid` when it is no address.
 * Only `unicast` may be connected to, unless private fetching is allowed (`IMPORT_ALLOW_PRIVATE`,
 * `CALLBACK_ALLOW_PRIVATE`).
 */
export type AddressCategory =
  | ReturnType<ipaddr.IPv4['range']>
  | ReturnType<ipaddr.IPv6['range']>
  // Ranges ipaddr.js 2.5 returns that its typings do not list yet.
  | 'deprecatedSiteLocal'
  | 'discard'
  | 'deprecatedOrchid'
  | 'segmentRouting'
  | 'invalid';

interface Judgement {
  category: AddressCategory;
  /** The IPv4 address that decided, for an IPv6 form that carries one (mapped, 6to4, Teredo…). */
  embedded?: { form: string; address: string };
}

const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

/**
 * The IPv4 addresses an IPv6 address carries and that a translator, tunnel or the kernel would
 * really connect to; null when it carries none.
 */
function embeddedV4(ip: ipaddr.IPv6, range: string): { form: string; addresses: ipaddr.IPv4[] } | null {
  const p = ip.parts as [number, number, number, number, number, number, number, number];
  switch (range) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
      return { form: 'IPv4-mapped', addresses: [v4(p[6], p[7])] };
    case 'rfc6145': // ::ffff:0:a.b.c.d
      return { form: 'IPv4-translated', addresses: [v4(p[6], p[7])] };
    case 'rfc6052':
      // 64:ff9b::/96 carries the address in its last 32 bits. The local-use 64:ff9b:1::/48
      // (RFC 8215) is not globally reachable, and where its address sits depends on the prefix
      // length the operator chose: it is judged as a whole (refused), never by a guessed address.
      return p[2] === 0 ? { form: 'NAT64', addresses: [v4(p[6], p[7])] } : null;
    case '6to4': // 2002:AABB:CCDD::/48
      return { form: '6to4', addresses: [v4(p[1], p[2])] };
    case 'teredo':
      // 2001:0:<server v4>:<flags>:<port>:<client v4, inverted>: refused if either is not unicast.
      return { form: 'Teredo', addresses: [v4(p[2], p[3]), v4(p[6] ^ 0xffff, p[7] ^ 0xffff)] };
    case 'unicast':
      // The deprecated IPv4-compatible ::a.b.c.d (:: and ::1 have ranges of their own).
      return p.slice(0, 6).every((part) => part === 0)
        ? { form: 'IPv4-compatible', addresses: [v4(p[6], p[7])] }
        : null;
    default:
      return null;
  }
}

function judge(address: string): Judgement {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // ipaddr.js reads every IPv4 spelling inet_aton does (127.1, 0x7f.1, 0177.0.0.1, 2130706433):
    // the address it names is the one the system would connect to. Zone ids (fe80::1%eth0) too.
    ip = ipaddr.parse(bare);
  } catch {
    return { category: 'invalid' };
  }
  const range = ip.range() as AddressCategory;
  if (ip.kind() === 'ipv4') return { category: range };
  const v6 = ip as ipaddr.IPv6;
  const carried = embeddedV4(v6, range);
  if (carried) {
    const bad = carried.addresses.find((a) => a.range() !== 'unicast');
    const decisive = bad ?? carried.addresses[0]!;
    return {
      category: bad ? bad.range() : 'unicast',
      embedded: { form: carried.form, address: decisive.toString() },
    };
  }
  // Only 2000::/3 is allocated for global unicast; the rest of what ipaddr.js calls unicast is
  // reserved by the IETF, and nothing public answers there.
  if (range === 'unicast' && (v6.parts[0]! & 0xe000) !== 0x2000) return { category: 'reserved' };
  return { category: range };
}

/** Classifies an IPv4 or IPv6 address (brackets and zone ids allowed); `invalid` when it is neither. */
export function classifyAddress(address: string): AddressCategory {
  return judge(address).category;
}

/** `address` in words for a log line or an error: its category, and the IPv4 that decided it. */
export function describeAddress(address: string): string {
  const { category, embedded } = judge(address);
  if (category === 'invalid') return `${address} is not an IP address`;
  const via = embedded ? ` (the ${embedded.form} form of ${embedded.address})` : '';
  return `${address}${via} is a ${category} address`;
}

/**
 * Whether the relay may connect to `address`: only unicast addresses (judged by the IPv4 address
 * an IPv6 form carries), unless `allowPrivate` (then anything that is an IP address at all).
 */
export function isAddressAllowed(address: string, allowPrivate = false): boolean {
  const category = classifyAddress(address);
  if (category === 'invalid') return false;
  return allowPrivate || category === 'unicast';
}

/** The addresses every `localhost` and `*.localhost` name means (RFC 6761 §6.3), whatever DNS says. */
export const LOCALHOST_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];

/** `localhost`, `*.localhost`, in any case and with any trailing dots. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}
