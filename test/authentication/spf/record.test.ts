/** SPF record syntax (RFC 7208 §4.6, §5, §6, §12): what parses, and what is a permerror. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSpfRecord, parseRecord } from '../../../src/authentication/spf/record.ts';

const valid = [
  'v=spf1',
  'v=spf1 -all',
  'V=SPF1 +a mx/24//64 ~ptr ?exists:%{i}.example.com -all', // §4.6.2, §5
  'v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.com -all', // §5.2, §5.6
  'v=spf1 redirect=_spf.example.com',
  'v=spf1 -all exp=explain.%{d}',
  'v=spf1 moo.cow-far_out=man:dog/cat -all', // §6
  'v=spf1 a:example.com. -all',
  'v=spf1 a:foo-bar.example.com/0 -all',
];
for (const txt of valid) test(`parses: ${txt}`, () => assert.ok(parseRecord(txt).ok));

const invalid = [
  'v=spf1 moo',
  'v=spf1 -all:foo',
  'v=spf1 all/24',
  'v=spf1 include',
  'v=spf1 include:',
  'v=spf1 exists', // §4.6, §5
  'v=spf1 ip4:192.0.2.0/33',
  'v=spf1 ip4:192.0.2.01',
  'v=spf1 ip4',
  'v=spf1 ip6',
  'v=spf1 ip6:2001:db8::/129', // §5.6
  'v=spf1 a/33',
  'v=spf1 a//129',
  'v=spf1 a/024',
  'v=spf1 a:foo-bar',
  'v=spf1 a:111.222.33.44',
  'v=spf1 a:example.-com', // §7.1
  'v=spf1 redirect=a.example.com redirect=b.example.com',
  'v=spf1 exp=a.example.com exp=b.example.com', // §6
  'v=spf1 a:%{c}.example.com',
  'v=spf1 a:%{x}.example.com',
  'v=spf1 foo=%z', // §7.1
];
for (const txt of invalid) test(`permerror: ${txt}`, () => assert.equal(parseRecord(txt).ok, false));

test('record selection: "v=spf1" then a space or the end (RFC 7208 §4.5)', () => {
  assert.deepEqual(['v=spf1', 'v=spf1 -all', 'v=spf10 -all', 'v=spf1-all', 'spf1'].map(isSpfRecord), [
    true,
    true,
    false,
    false,
    false,
  ]);
});

test('domain-end: a macro-expand is read left to right, so "%%{d}" is text, not a macro (RFC 7208 §7.1)', () => {
  const ends = (spec: string) => parseRecord(`v=spf1 a:${spec} -all`).ok;
  assert.deepEqual(
    ['foo.%{d}', 'foo%%', 'foo.%%%_', 'foo%-', 'x.%%{d}', 'foo%%_', 'x.%{d}x', 'x.1-2', 'x.1-', 'x.-a', 'x.123'].map(
      ends,
    ),
    [true, true, true, true, false, false, false, true, false, false, false],
  );
});

// A TXT record is parsed before any processing limit applies, and can be 64 KB of the sender's text:
// the domain-spec checks are single passes (no backtracking regex), so these parse in linear time. The
// results are asserted, not timings; a quadratic check took seconds on the 64 KB one and four times that
// on the 128 KB one.
for (const size of [64, 128]) {
  const n = size * 1000;
  test(`a crafted ${size} KB record is read in one pass, with the right result (RFC 7208 §4.6)`, () => {
    // a toplabel that looks valid up to its last character
    for (const label of ['a'.repeat(n), 'a1'.repeat(n / 2), '1a'.repeat(n / 2), `a-${'1'.repeat(n)}`]) {
      const parsed = parseRecord(`v=spf1 a:x.${label}! -all`);
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok && parsed.error.length < 200, 'the reason does not quote the whole term');
      assert.equal(parseRecord(`v=spf1 a:x.${label} -all`).ok, true);
    }
    // escaped "%%{" pieces: none of them opens a macro, and the spec ends in a plain toplabel
    assert.equal(parseRecord(`v=spf1 a:x.${'%%{'.repeat(n / 3)}.com -all`).ok, true);
    assert.equal(parseRecord(`v=spf1 a:x.${'%%{'.repeat(n / 3)} -all`).ok, false);
    assert.equal(parseRecord(`v=spf1 a:x.${'%%{%{d}'.repeat(n / 7)}}.com -all`).ok, true);
    assert.equal(parseRecord(`v=spf1 a:x.${'%%{%{d}'.repeat(n / 7)} -all`).ok, true, 'ends in %{d}');
  });
}
