import net from 'node:net';

/**
 * What an IP address is, for deciding whether the relay may connect to it on a tool's behalf.
 * Everything but `public` is refused unless private fetching is allowed (`IMPORT_ALLOW_PRIVATE`).
 */
export type AddressCategory =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade NAT'
  | 'multicast'
  | 'reserved'
  | 'invalid';

type Range4 = readonly [base: string, bits: number, category: AddressCategory];

// Not only RFC 1918: anything that is not a unicast address on the public internet. The
// documentation and benchmarking ranges are not routable, so nothing legitimate lives there.
const V4_RANGES: readonly Range4[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

const V4_TABLE = V4_RANGES.map(([base, bits, category]) => {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { network: (v4ToInt(base) & mask) >>> 0, mask, category };
});

function classifyV4(value: number): AddressCategory {
  for (const range of V4_TABLE) {
    if ((value & range.mask) >>> 0 === range.network) return range.category;
  }
  return 'public';
}

/** An IPv6 address as a 128-bit number; accepts `::`, embedded dotted quads and zone ids. */
function v6ToBigInt(ip: string): bigint {
  let text = ip.split('%')[0]!;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = v4ToInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...restGroups];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  return value;
}

const V6_BITS = 128n;
const v6Prefix = (base: string, bits: number) => {
  const mask = ((1n << BigInt(bits)) - 1n) << (V6_BITS - BigInt(bits));
  return { network: v6ToBigInt(base) & mask, mask };
};
const inV6 = (value: bigint, range: { network: bigint; mask: bigint }) =>
  (value & range.mask) === range.network;

const V6_UNSPECIFIED = 0n;
const V6_LOOPBACK = 1n;
// Prefixes whose last bits (or, for 6to4, bits 16-48) carry an IPv4 address, judged as that address.
const V6_MAPPED = v6Prefix('::ffff:0:0', 96);
const V6_COMPATIBLE = v6Prefix('::', 96);
const V6_NAT64 = v6Prefix('64:ff9b::', 96);
const V6_6TO4 = v6Prefix('2002::', 16);
const V6_RANGES: readonly { range: { network: bigint; mask: bigint }; category: AddressCategory }[] = [
  { range: v6Prefix('64:ff9b:1::', 48), category: 'private' },
  { range: v6Prefix('100::', 64), category: 'reserved' },
  { range: v6Prefix('2001:db8::', 32), category: 'reserved' },
  { range: v6Prefix('fc00::', 7), category: 'private' },
  { range: v6Prefix('fe80::', 10), category: 'link-local' },
  { range: v6Prefix('fec0::', 10), category: 'private' },
  { range: v6Prefix('ff00::', 8), category: 'multicast' },
];

function classifyV6(value: bigint): AddressCategory {
  if (value === V6_UNSPECIFIED) return 'unspecified';
  if (value === V6_LOOPBACK) return 'loopback';
  if (inV6(value, V6_MAPPED) || inV6(value, V6_COMPATIBLE) || inV6(value, V6_NAT64)) {
    return classifyV4(Number(value & 0xffffffffn));
  }
  if (inV6(value, V6_6TO4)) return classifyV4(Number((value >> 80n) & 0xffffffffn));
  for (const { range, category } of V6_RANGES) if (inV6(value, range)) return category;
  return 'public';
}

/** Classifies an IPv4 or IPv6 address (brackets and zone ids allowed); `invalid` when it is neither. */
export function classifyAddress(address: string): AddressCategory {
  const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const bare = ip.split('%')[0]!;
  switch (net.isIP(bare)) {
    case 4:
      return classifyV4(v4ToInt(bare));
    case 6:
      return classifyV6(v6ToBigInt(bare));
    default:
      return 'invalid';
  }
}

/**
 * Whether the relay may connect to `address`: only public unicast addresses, unless
 * `allowPrivate` (then anything that is an IP address at all).
 */
export function isAddressAllowed(address: string, allowPrivate = false): boolean {
  const category = classifyAddress(address);
  if (category === 'invalid') return false;
  return allowPrivate || category === 'public';
}
