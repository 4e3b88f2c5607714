import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AddressProblem, InvalidAddressError, normalizeAddress } from '../../src/accounts/address.ts';

const VALID: [input: string, normal: string][] = [
  ['bob@example.com', 'bob@example.com'],
  ['Bob.Smith@Example.COM', 'bob.smith@example.com'], // lower-cased (RFC 5321 §2.4 leaves case to us)
  ["o'reilly+tag@mail.example.org", "o'reilly+tag@mail.example.org"], // atext, RFC 5322 §3.2.3
  ["!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"],
  ['"john"@example.com', 'john@example.com'], // quoting a dot-string adds nothing, RFC 5321 §4.1.2
  ['"John\\.Doe"@example.com', 'john.doe@example.com'],
  ['"john doe"@example.com', '"john doe"@example.com'],
  ['"a@b"@example.com', '"a@b"@example.com'],
  ['"a\\"b"@example.com', '"a\\"b"@example.com'],
  ['x@a-b.example', 'x@a-b.example'],
  ['x@123.example', 'x@123.example'],
  ['x@b\u00fccher.example', 'x@xn--bcher-kva.example'], // IDNA A-label
  ['x@XN--BCHER-KVA.example', 'x@xn--bcher-kva.example'], // an A-label that decodes, RFC 5890 §2.3.2.1
  ['x@xn--fa-hia.de', 'x@xn--fa-hia.de'], // faß.de
  ['x@B\u00dcCHER.Example', 'x@xn--bcher-kva.example'], // upper case, the ASCII label too
  ['x@bu\u0308cher.example', 'x@xn--bcher-kva.example'], // NFD: one name with NFC (RFC 5891 §5.2)
  ['x@b\u00fccher\u3002example', 'x@xn--bcher-kva.example'], // UTS #46 §2.3: an ideographic full stop
  [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`], // RFC 5321 §4.5.3.1.1
];
for (const [input, normal] of VALID) {
  test(`normalizes ${input}`, () => assert.equal(normalizeAddress(input), normal));
}

const label63 = 'a'.repeat(63);
const INVALID: [input: string, problem: AddressProblem][] = [
  ['', 'empty'],
  ['bob', 'no-at-sign'],
  ['@example.com', 'empty-local-part'],
  ['""@example.com', 'empty-local-part'], // an empty Quoted-string names no mailbox either
  ['bob@', 'empty-domain'],
  ['a..b@example.com', 'invalid-local-part'], // Dot-string: no empty atoms, RFC 5321 §4.1.2
  ['.bob@example.com', 'invalid-local-part'],
  ['bob.@example.com', 'invalid-local-part'],
  ['bo b@example.com', 'invalid-local-part'],
  ['bo(b)@example.com', 'invalid-local-part'],
  ['"unterminated@example.com', 'invalid-local-part'],
  ['"bad\tquote"@example.com', 'invalid-local-part'], // qtextSMTP excludes control characters
  ['bob\r\n@example.com', 'invalid-local-part'],
  ['j\u00f6rg@example.com', 'non-ascii-local-part'], // SMTPUTF8, RFC 6531
  [`${'a'.repeat(65)}@example.com`, 'local-part-too-long'], // RFC 5321 §4.5.3.1.1
  ['bob@localhost', 'domain-not-fqdn'], // RFC 5321 §2.3.5
  ['bob@192.0.2.1', 'domain-not-fqdn'], // RFC 3696 §2: numeric TLD
  ['bob@[192.0.2.1]', 'address-literal'],
  ['bob@-example.com', 'invalid-domain'],
  ['bob@example-.com', 'invalid-domain'],
  ['bob@exa_mple.com', 'invalid-domain'],
  ['bob@example..com', 'invalid-domain'],
  ['bob@example.com.', 'invalid-domain'],
  ['bob@xn--zz.example', 'invalid-domain'], // "xn--" whose Punycode decodes to nothing, RFC 5890 §2.3.2.1
  // A U-label domain converts label by label (RFC 5891 §4.2), not as a URL host that stops at "/", "?",
  // "#" or "\" and decodes "%61": each of these stored x@xn--bcher-kva.example.
  ['x@b\u00fccher.example/y', 'invalid-domain'],
  ['x@b\u00fccher.example?y', 'invalid-domain'],
  ['x@b\u00fccher.example#y', 'invalid-domain'],
  ['x@b\u00fccher.example\\y', 'invalid-domain'],
  ['x@b\u00fccher.ex%61mple', 'invalid-domain'],
  [`bob@${'a'.repeat(64)}.com`, 'invalid-domain'], // labels ≤ 63, RFC 1035 §2.3.4
  [`bob@${[label63, label63, label63, label63, 'a'].join('.')}`, 'domain-too-long'], // RFC 5321 §4.5.3.1.2
  [`${'a'.repeat(64)}@${[label63, label63, label63, 'a'.repeat(58)].join('.')}`, 'path-too-long'], // §4.5.3.1.3
];
for (const [input, problem] of INVALID) {
  test(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}: ${problem}`, () => {
    assert.throws(
      () => normalizeAddress(input),
      (error: unknown) =>
        error instanceof InvalidAddressError && error.problem === problem && error.code === 'INVALID_ADDRESS',
    );
  });
}

test('an error message escapes control characters from the input', () => {
  assert.throws(
    () => normalizeAddress('bob\r\nX-Injected: 1@example.com'),
    (error: Error) => !/[\r\n]/.test(error.message),
  );
});

test('an "xn--" label that is no A-label is named in the error', () => {
  assert.throws(() => normalizeAddress('bob@mail.xn--zz.example'), /"xn--zz" is not an IDNA A-label/);
});
