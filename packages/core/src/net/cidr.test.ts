import { cidrMatcher, parseCidr } from './cidr.js';

describe('CIDRs (GCORE_WEBHOOK_SOURCES)', () => {
  it.each(['92.223.112.0/24', '10.0.0.1', '2a03:90c0::/32', '::1', ' 0.0.0.0/0 '])('reads %j', (text) => {
    expect(parseCidr(text)).not.toBeNull();
  });

  it.each(['92.223.112.0/33', '10.1/16', '0177.0.0.1/8', '::/129', '1.2.3.4/x', '1.2.3.4/8/8', 'gcore', ''])(
    'refuses %j',
    (text) => {
      expect(parseCidr(text)).toBeNull();
    },
  );

  it('matches addresses in the ranges, IPv4-mapped IPv6 as its IPv4, and nothing else', () => {
    const from = cidrMatcher(['92.223.112.0/24', '2a03:90c0::/32']);
    for (const yes of ['92.223.112.1', '92.223.112.255', '::ffff:92.223.112.7', '2a03:90c0::5']) {
      expect([yes, from(yes)]).toEqual([yes, true]);
    }
    for (const no of [
      '92.223.113.1',
      '::ffff:0:92.223.112.7',
      '2a03:90c1::5',
      '1558146817',
      'x',
      '',
      undefined,
    ]) {
      expect([no, from(no)]).toEqual([no, false]);
    }
  });

  it('throws on a range it cannot read', () => {
    expect(() => cidrMatcher(['92.223.112.0/24', 'nope'])).toThrow('not a CIDR: "nope"');
  });
});
