import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reverseName } from '../../src/dns/reverse-name.ts';

const nibbles = (hex: string): string => hex.split('').reverse().join('.') + '.ip6.arpa';
const cases: [address: string, want: string][] = [
  ['192.0.2.7', '7.2.0.192.in-addr.arpa'], // RFC 1035 §3.5
  ['10.2.0.52', '52.0.2.10.in-addr.arpa'], // RFC 1035 §3.5 example
  // RFC 3596 §2.5 example: 4321:0:1:2:3:4:567:89ab
  ['4321:0:1:2:3:4:567:89ab', 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa'],
  ['2001:db8::1', nibbles('20010db8000000000000000000000001')],
  ['2001:DB8::25', nibbles('20010db8000000000000000000000025')],
  ['::1', nibbles('00000000000000000000000000000001')],
  ['::', nibbles('00000000000000000000000000000000')],
  ['2001:db8:1::', nibbles('20010db8000100000000000000000000')],
  ['::ffff:192.0.2.1', nibbles('00000000000000000000ffffc0000201')], // RFC 4291 §2.2 form 3
  ['fe80::1%eth0', nibbles('fe800000000000000000000000000001')], // the scope id is not part of the name
];
for (const [address, want] of cases) test(address, () => assert.equal(reverseName(address), want));

for (const bad of ['mail.example.com', '192.0.2', '', '2001:db8::1::2']) {
  test(`not an address: ${JSON.stringify(bad)}`, () => assert.throws(() => reverseName(bad), TypeError));
}
