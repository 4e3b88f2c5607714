import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientKey,
  formatAddress,
  formatIpv6,
  ipVersion,
  parseAddress,
  parseNetwork,
  parseNetworks,
} from '../../src/policy/cidr.ts';

const list = parseNetworks([
  '192.0.2.0/24',
  '198.51.100.7', // one host
  '2001:db8::/32',
  '[2001:db8:ffff::]/48', // Postfix's bracketed IPv6 form (inside the /32, harmless)
  '[::1]/128',
  '::ffff:203.0.113.0/120', // IPv4-mapped: read as 203.0.113.0/24
]);

const membership: [address: string, want: boolean][] = [
  ['192.0.2.1', true],
  ['192.0.2.255', true],
  ['192.0.3.1', false],
  ['198.51.100.7', true],
  ['198.51.100.8', false],
  ['::ffff:192.0.2.1', true], // RFC 4291 §2.5.5.2: an IPv4 client on a dual-stack socket
  ['::FFFF:c000:201', true], // the same, in hex
  ['::192.0.2.1', false], // IPv4-compatible (deprecated) is IPv6, not mapped
  ['2001:db8:1::1', true],
  ['2001:DB8::1', true],
  ['2001:0db8:0000::0001', true],
  ['2001:db9::1', false],
  ['::1', true],
  ['::2', false],
  ['203.0.113.5', true],
  ['::ffff:203.0.113.5', true],
  ['203.0.114.5', false],
  ['not-an-ip', false],
  ['', false],
  ['fe80::1%eth0', false],
  ['192.0.2.1/32', false],
];
for (const [address, want] of membership) {
  test(`contains ${address || '(empty)'} → ${want}`, () => assert.equal(list.contains(address), want));
}

test('0.0.0.0/0 holds every IPv4 client, mapped ones too, and no IPv6 one; ::/0 the reverse', () => {
  const v4 = parseNetworks(['0.0.0.0/0']);
  const v6 = parseNetworks(['::/0']);
  assert.deepEqual(
    ['198.51.100.1', '::ffff:198.51.100.1', '2001:db8::1'].map((a) => [v4.contains(a), v6.contains(a)]),
    [
      [true, false],
      [true, false],
      [false, true],
    ],
  );
});

test('an empty list contains nothing', () => assert.equal(parseNetworks([]).contains('192.0.2.1'), false));

const bad: [entry: string, message: RegExp][] = [
  ['example.com', /"example\.com" is not an IP address/],
  ['192.0.2.0/33', /prefix length must be 0 to 32/],
  ['2001:db8::/129', /prefix length must be 0 to 128/],
  ['192.0.2.0/', /prefix length/],
  ['192.0.2.0/x', /prefix length/],
  ['192.0.2.0/-1', /prefix length/],
  ['192.0.2.0/24/8', /prefix length/],
  ['256.0.0.1', /not an IP address/],
  ['010.0.0.1', /not an IP address/], // leading zero: octal to some parsers
  ['192.0.2', /not an IP address/],
  ['fe80::1%eth0', /not an IP address/],
  ['', /not an IP address/],
  ['192.0.2.1/24', /host bits set below \/24; did you mean 192\.0\.2\.0\/24\?/], // Postfix cidr_match.c
  ['2001:db8::1/32', /did you mean \[2001:db8::\]\/32\?/],
];
for (const [entry, message] of bad) {
  test(`refuses "${entry}"`, () => assert.throws(() => parseNetwork(entry), message));
}

test('parseNetworks names the bad entry', () => {
  assert.throws(() => parseNetworks(['192.0.2.0/24', 'mail.example.com']), /"mail\.example\.com"/);
});

const written: [entry: string, want: string][] = [
  ['192.0.2.1', '192.0.2.1/32'],
  [' 192.0.2.0/24 ', '192.0.2.0/24'],
  ['[2001:db8::]/32', '[2001:db8::]/32'],
  ['2001:DB8:0:0::/64', '[2001:db8::]/64'],
  ['::ffff:203.0.113.0/120', '203.0.113.0/24'],
  ['::ffff:0:0/96', '0.0.0.0/0'],
  ['[192.0.2.0]/24', '192.0.2.0/24'],
];
for (const [entry, want] of written) {
  test(`parseNetwork("${entry}") is ${want}`, () => assert.equal(String(parseNetwork(entry)), want));
}

test('a single network tests membership itself', () => {
  const network = parseNetwork('192.0.2.128/25');
  assert.deepEqual([network.contains('192.0.2.200'), network.contains('192.0.2.1'), network.prefix], [true, false, 25]);
});

const versions: [address: string, want: 4 | 6 | undefined][] = [
  ['192.0.2.1', 4],
  ['::ffff:192.0.2.1', 4], // matched as IPv4, so reported as IPv4
  ['2001:db8::1', 6],
  ['mail.example.com', undefined],
];
for (const [address, want] of versions)
  test(`ipVersion(${address}) = ${want}`, () => assert.equal(ipVersion(address), want));

// RFC 6177 §2: a site (often one host) gets a /64, so IPv6 clients are counted per /64.
const keys: [address: string, want: string][] = [
  ['192.0.2.1', '192.0.2.1'],
  ['::ffff:192.0.2.1', '192.0.2.1'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
  ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
  ['2001:db8::1', '2001:db8::/64'],
  ['Unix-Socket', 'unix-socket'],
];
for (const [address, want] of keys)
  test(`clientKey(${address}) = ${want}`, () => assert.equal(clientKey(address), want));

test('clientKey with limits.ipv6Prefix: a /48 site as one client, or each address alone; IPv4 unchanged', () => {
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6', 48), '2001:db8:1::/48');
  assert.equal(clientKey('2001:db8:1:ffff::1', 48), '2001:db8:1::/48');
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6', 128), '2001:db8:1:2:3:4:5:6/128');
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6', 56), '2001:db8:1::/56');
  assert.equal(clientKey('2001:db8:1:2ff:3:4:5:6', 56), '2001:db8:1:200::/56');
  assert.equal(clientKey('192.0.2.1', 48), '192.0.2.1');
});

// RFC 5952 §4: lower case, no leading zeros, the longest (then first) run of zero groups as ::.
const texts: [input: string, want: string][] = [
  ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: the first of equal runs
  ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // §4.2.3: the longest run
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: not for one group
  ['0:0:0:0:0:0:0:0', '::'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['2001:db8::', '2001:db8::'],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'], // a dotted tail (RFC 6052 §2.4 prefix)
];
for (const [input, want] of texts) {
  test(`formats ${input} as ${want}`, () => {
    const ip = parseAddress(input);
    assert.equal(ip?.version, 6);
    assert.equal(formatAddress(ip!), want);
  });
}

test('formats IPv4 and the all-ones IPv6 address', () => {
  assert.equal(formatAddress(parseAddress('198.51.100.255')!), '198.51.100.255');
  assert.equal(formatIpv6((1n << 128n) - 1n), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
});
