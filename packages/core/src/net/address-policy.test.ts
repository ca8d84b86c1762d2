import { classifyAddress, describeAddress, isAddressAllowed, isLocalhostName } from './address-policy.js';

// Every spelling the relay may be handed for an address: by a URL's host, by the resolver, or by
// a caller. The verdict is ipaddr.js's range, judged by the IPv4 address an IPv6 form carries;
// only `unicast` may be connected to.
const SPELLINGS: ReadonlyArray<readonly [input: string, category: string]> = [
  // Public IPv4, and the first addresses just outside the refused ranges.
  ['8.8.8.8', 'unicast'],
  ['1.1.1.1', 'unicast'],
  ['93.184.216.34', 'unicast'],
  ['172.32.0.1', 'unicast'],
  ['100.128.0.1', 'unicast'],
  ['169.255.0.1', 'unicast'],
  ['134744072', 'unicast'], // 8.8.8.8 as one decimal number
  ['1.2.3', 'unicast'], // inet_aton's 1.2.0.3
  // Loopback IPv4, as inet_aton and the WHATWG URL parser read it.
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['127.1', 'loopback'],
  ['127.0.1', 'loopback'],
  ['0177.0.0.1', 'loopback'],
  ['0x7f.1', 'loopback'],
  ['0x7f.0x0.0x0.0x1', 'loopback'],
  ['2130706433', 'loopback'],
  ['0x7f000001', 'loopback'],
  ['017700000001', 'loopback'],
  // Other non-public IPv4.
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['0xa.1', 'private'],
  ['169.254.169.254', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['100.127.255.255', 'carrierGradeNat'],
  ['0.0.0.0', 'unspecified'],
  ['0', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['192.88.99.1', 'reserved'],
  // Public IPv6, bare and in brackets, and IPv6 forms that carry a public IPv4.
  ['2001:4860:4860::8888', 'unicast'],
  ['2606:4700:4700::1111', 'unicast'],
  ['[2606:4700:4700::1111]', 'unicast'],
  ['::ffff:8.8.8.8', 'unicast'],
  ['::ffff:0:808:808', 'unicast'],
  ['64:ff9b::808:808', 'unicast'],
  ['2002:808:808::1', 'unicast'],
  ['::8.8.8.8', 'unicast'],
  ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'unicast'], // Teredo: server 65.54.227.120, client 8.8.8.8
  // IPv6 loopback and unspecified.
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
  ['::', 'unspecified'],
  ['[::]', 'unspecified'],
  // Other non-public IPv6.
  ['fc00::1', 'uniqueLocal'],
  ['fd12:3456:789a::1', 'uniqueLocal'],
  ['fe80::1', 'linkLocal'],
  ['FE80::1', 'linkLocal'],
  ['fe80::1%eth0', 'linkLocal'],
  ['[fe80::1%eth0]', 'linkLocal'],
  ['fec0::1', 'deprecatedSiteLocal'],
  ['ff02::1', 'multicast'],
  ['100::1', 'discard'],
  ['2001:db8::1', 'reserved'],
  ['3fff::1', 'reserved'],
  ['4000::1', 'reserved'], // outside 2000::/3, the only global unicast block
  ['1::', 'reserved'],
  // IPv4-mapped ::ffff:a.b.c.d: judged by the IPv4 address.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::FFFF:127.0.0.1', 'loopback'],
  ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
  ['[::ffff:127.0.0.1]', 'loopback'],
  ['::ffff:169.254.169.254', 'linkLocal'],
  ['::ffff:10.0.0.1', 'private'],
  // IPv4-translated ::ffff:0:a.b.c.d (the finding).
  ['::ffff:0:7f00:1', 'loopback'],
  ['[::ffff:0:7f00:1]', 'loopback'],
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['::ffff:0:a00:1', 'private'],
  // IPv4-compatible ::a.b.c.d.
  ['::127.0.0.1', 'loopback'],
  ['::7f00:1', 'loopback'],
  ['::a9fe:a9fe', 'linkLocal'],
  ['::0.0.0.2', 'unspecified'],
  // NAT64: the well-known 64:ff9b::/96 by its IPv4; the local-use 64:ff9b:1::/48 as a whole.
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::a00:1', 'private'],
  ['64:ff9b:1::808:808', 'rfc6052'],
  ['64:ff9b:1::7f00:1', 'rfc6052'],
  // 6to4 2002:AABB:CCDD::/48.
  ['2002:7f00:1::', 'loopback'],
  ['2002:7f00:0001:ffff::1', 'loopback'],
  ['2002:a00:1::1', 'private'],
  ['2002:a9fe:a9fe::', 'linkLocal'],
  // Teredo 2001:0:<server>:<flags>:<port>:<client xor ffff:ffff>: refused if either is not unicast.
  ['2001:0:7f00:1::f7f7:f7f7', 'loopback'], // server 127.0.0.1
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // client 127.0.0.1
  ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'private'], // client 10.0.0.1
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'], // client 192.0.2.45 (RFC 4380's example)
  // Not an address at all (names are resolved first; what they resolve to is judged).
  ['example.com', 'invalid'],
  ['localhost', 'invalid'],
  ['', 'invalid'],
  ['::g', 'invalid'],
  ['256.0.0.1', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['127.0.0.1.', 'invalid'],
  ['127.0.0.1%eth0', 'invalid'],
  ['08.0.0.1', 'invalid'],
  ['[127.0.0.1', 'invalid'],
];

describe('address policy', () => {
  it('has a table of at least 60 spellings, each once', () => {
    expect(SPELLINGS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(SPELLINGS.map(([input]) => input)).size).toBe(SPELLINGS.length);
  });

  it.each(SPELLINGS)(
    'classifies %j as %s; only unicast is allowed, and nothing invalid ever',
    (input, category) => {
      expect(classifyAddress(input)).toBe(category);
      expect(isAddressAllowed(input)).toBe(category === 'unicast');
      expect(isAddressAllowed(input, true)).toBe(category !== 'invalid');
    },
  );

  it('says which embedded IPv4 address decided', () => {
    expect(describeAddress('::ffff:0:7f00:1')).toBe(
      '::ffff:0:7f00:1 (the IPv4-translated form of 127.0.0.1) is a loopback address',
    );
    expect(describeAddress('2001:0:4136:e378:8000:63bf:80ff:fffe')).toBe(
      '2001:0:4136:e378:8000:63bf:80ff:fffe (the Teredo form of 127.0.0.1) is a loopback address',
    );
    expect(describeAddress('10.0.0.1')).toBe('10.0.0.1 is a private address');
    expect(describeAddress('nope')).toBe('nope is not an IP address');
  });

  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['localhost.', true],
    ['localhost..', true],
    ['api.localhost', true],
    ['a.b.LocalHost.', true],
    ['localhost.example.com', false],
    ['notlocalhost', false],
    ['example.com', false],
  ])('knows %j is a localhost name: %s', (name, expected) => {
    expect(isLocalhostName(name)).toBe(expected);
  });
});
