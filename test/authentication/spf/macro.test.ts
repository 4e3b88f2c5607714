/** SPF macros (RFC 7208 §7): the RFC's own examples (§7.4) first, then syntax errors (§7.1). */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { macroIp, parseClientAddress } from '../../../src/authentication/spf/address.ts';
import { expandMacro, type MacroValues, parseMacroString } from '../../../src/authentication/spf/macro.ts';

const v4 = parseClientAddress('192.0.2.3');
const v6 = parseClientAddress('2001:db8::cb01');
const ctx: MacroValues = {
  s: 'strong-bad@email.example.com',
  l: 'strong-bad',
  o: 'email.example.com',
  d: 'email.example.com',
  i: macroIp(v4 ?? assert.fail()),
  p: 'unknown',
  v: 'in-addr',
  h: 'mx.example.org',
  c: '192.0.2.3',
  r: 'mx.example.net',
  t: '1700000000',
};
const expand = (macro: string, values = ctx, exp = false) =>
  expandMacro(parseMacroString(macro, exp) ?? assert.fail(`no parse: ${macro}`), values);

const cases: [macro: string, want: string][] = [
  ['%{s}', 'strong-bad@email.example.com'],
  ['%{o}', 'email.example.com'],
  ['%{d}', 'email.example.com'], // §7.4
  ['%{d4}', 'email.example.com'],
  ['%{d3}', 'email.example.com'],
  ['%{d2}', 'example.com'],
  ['%{d1}', 'com'],
  ['%{dr}', 'com.example.email'],
  ['%{d2r}', 'example.email'],
  ['%{l}', 'strong-bad'],
  ['%{l-}', 'strong.bad'],
  ['%{lr}', 'strong-bad'],
  ['%{lr-}', 'bad.strong'],
  ['%{l1r-}', 'strong'],
  ['%{ir}.%{v}._spf.%{d2}', '3.2.0.192.in-addr._spf.example.com'],
  ['%{lr-}.lp._spf.%{d2}', 'bad.strong.lp._spf.example.com'],
  ['%{lr-}.lp.%{ir}.%{v}._spf.%{d2}', 'bad.strong.lp.3.2.0.192.in-addr._spf.example.com'],
  ['%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}', '3.2.0.192.in-addr.strong.lp._spf.example.com'],
  ['%{d2}.trusted-domains.example.net', 'example.com.trusted-domains.example.net'],
  ['%%%_%-', '% %20'],
  ['%{L}', 'strong-bad'],
  ['%{S}', 'strong-bad%40email.example.com'], // §7.1, §7.3
];
for (const [macro, want] of cases) test(macro, () => assert.equal(expand(macro), want));

test('%{ir} of an IPv6 address is lower-case nibbles (RFC 7208 §7.4)', () => {
  const values = { ...ctx, i: macroIp(v6 ?? assert.fail()), v: 'ip6' };
  assert.equal(
    expand('%{ir}.%{v}._spf.%{d2}', values),
    '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com',
  );
});

test('c, r and t only in explanation text (RFC 7208 §7.1)', () => {
  assert.equal(parseMacroString('%{c}'), undefined);
  assert.equal(expand('%{c} via %{r}', ctx, true), '192.0.2.3 via mx.example.net');
});

const invalid = ['%{x}', '%{d0}', '%{d', '%a', 'a b', '%{d2z}'];
for (const macro of invalid)
  test(`syntax error: ${macro} (RFC 7208 §7.1)`, () => assert.equal(parseMacroString(macro), undefined));
