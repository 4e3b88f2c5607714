import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { test } from 'node:test';
import { formatIpv6Groups, ipv4Octets, ipv6Groups, socketAddress } from '../../src/dns/ip.ts';
import { Random } from '../support/fuzz-input.ts';

test('IPv6 groups: ::, a dotted IPv4 tail and upper case (RFC 4291 §2.2)', () => {
  assert.deepEqual(ipv6Groups('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ipv6Groups('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('2001:DB8::'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ipv6Groups('2001:db8:0:0:1:0:0:1'), [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('::ffff:192.0.2.1'), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201]);
  assert.deepEqual(ipv6Groups('64:ff9b::198.51.100.7'), [0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407]);
  assert.deepEqual(ipv4Octets('192.0.2.255'), [192, 0, 2, 255]);
});

test('canonical IPv6 text per RFC 5952 §4', () => {
  assert.equal(formatIpv6Groups(ipv6Groups('2001:0db8:0000:0000:0001:0000:0000:0001')), '2001:db8::1:0:0:1'); // §4.2.3: first of equal runs
  assert.equal(formatIpv6Groups(ipv6Groups('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1'); // §4.2.2: one 0 stays
  assert.equal(formatIpv6Groups(ipv6Groups('2001:db8:0:0:1:0:0:0')), '2001:db8:0:0:1::'); // §4.2.3: the longest run
  assert.equal(formatIpv6Groups(ipv6Groups('2001:DB8::ABCD')), '2001:db8::abcd'); // §4.3: lower case
  assert.equal(formatIpv6Groups(ipv6Groups('0:0:0:0:0:0:0:0')), '::');
});

test('reading and writing agree with the WHATWG URL parser on random addresses', () => {
  const random = new Random(20261128);
  for (let round = 0; round < 2000; round++) {
    // Zero groups are likely, so that runs of every length and position come up.
    const groups = Array.from({ length: 8 }, () => (random.chance(0.4) ? 0 : random.int(0x10000)));
    const full = groups.map((g) => g.toString(16).toUpperCase()).join(':');
    const canonical = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    assert.ok(isIPv6(canonical));
    assert.deepEqual(ipv6Groups(full), groups, full);
    assert.deepEqual(ipv6Groups(canonical), groups, canonical);
    assert.equal(formatIpv6Groups(groups), canonical, full);
  }
});

test('socketAddress: IPv4-mapped as IPv4, and a link-local zone dropped (RFC 4007 §11)', () => {
  assert.equal(socketAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(socketAddress('fe80::1%eth0'), 'fe80::1');
  assert.equal(socketAddress('fe80::1%2'), 'fe80::1');
  assert.equal(socketAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(socketAddress('127.0.0.1'), '127.0.0.1');
});
