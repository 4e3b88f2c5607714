import assert from 'node:assert/strict';
import test from 'node:test';
import { parseMailbox, parsePath } from '../../src/smtp/path.ts';

// RFC 5321 §4.1.2 Mailbox, and the §4.5.3.1 limits in octets.
const MAILBOXES: [mailbox: string, valid: boolean, utf8?: boolean][] = [
  ['user@example.com', true],
  ['first.last@example.com', true],
  ["o'brien+tag=x/y?z^_`{|}~#$%&*@example.com", true],
  ['.lead@example.com', false],
  ['trail.@example.com', false],
  ['two..dots@example.com', false],
  ['spa ce@example.com', false],
  ['comma,@example.com', false],
  ['"quoted string"@example.com', true],
  ['"bad"quote"@example.com', false],
  [`${'a'.repeat(64)}@example.com`, true],
  [`${'a'.repeat(65)}@example.com`, false],
  [`${'ö'.repeat(32)}@example.com`, true, true], // 64 octets
  [`${'ö'.repeat(33)}@example.com`, false], // 66 octets
  ['jörg@example.com', true, true],
  ['user@bücher.example', true, true],
  ['user@\u212a.example', true, false], // the Kelvin sign lower-cases to an ASCII k
  [`user@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`, true], // 255 octets
  [`user@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}.e`, false], // 256
  [`user@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'ü'.repeat(32)}`, false], // 256 octets
  ['user@[192.0.2.1]', true],
  // RFC 5321 §4.1.3: "::" stands for at least two groups; at most six beside it (an IPv4 tail is two).
  ['user@[IPv6:2001:db8::1]', true],
  ['user@[IPv6:2001:db8:1:2:3:4::]', true],
  ['user@[IPv6:2001:db8:1:2:3:4:5::]', false],
  ['user@[IPv6:::1:2:3:4:5:6:7]', false],
  ['user@[IPv6:2001:db8:1:2:3:4:5:6]', true],
  ['user@[IPv6:::ffff:192.0.2.1]', true],
  ['user@[IPv6:1:2:3:4::192.0.2.1]', true],
  ['user@[IPv6:1:2:3:4:5::192.0.2.1]', false],
  ['user@[IPv6:1:2:3:4:5:6:192.0.2.1]', true],
  ['@example.com', false],
  // RFC 6531 §3.3: non-ASCII sub-domains are U-labels, checked by their A-labels (RFC 5891 §4.4).
  ['user@ex\u0085ample.net', false], // a C1 control
  [`user@${'é'.repeat(63)}.example`, false], // 126 octets; its A-label far over 63
  ['user@\u202eexample.net', false], // a bidi override
  ['user@a\u3002example', false], // an ideographic full stop is no label separator in SMTP
  ['user@xn--bcher-kva.example', true],
  // RFC 5890 §2.3.2.1: an "xn--" label, in any case, must be an A-label: its Punycode decoding to a
  // U-label that encodes back to it. "xn--zz" decodes to nothing.
  ['user@mail.XN--BCHER-KVA.example', true],
  ['user@xn--zz.example', false],
  ['user@mail.XN--ZZ.example', false],
  ['user@xn--.example', false],
  ['user@bücher.xn--zz.example', false],
  ['user@xn-zz.example', true], // one hyphen: an ordinary LDH label
  [`user@${'ü'.repeat(20)}.example`, true, true],
  // C1 and bidi controls in no local part, plain or quoted.
  ['us\u0085er@example.com', false],
  ['"us\u0085er"@example.com', false],
  ['\u202eresu@example.com', false],
  ['"us\u2066er"@example.com', false],
  ['josé.garcía@example.com', true, true], // other non-ASCII characters are atext (RFC 6531 §3.3)
];
for (const [mailbox, valid, utf8 = false] of MAILBOXES) {
  test(`mailbox ${JSON.stringify(mailbox)} is ${valid ? 'valid' : 'refused'}`, () => {
    const parsed = parseMailbox(mailbox);
    assert.equal(typeof parsed !== 'string', valid, typeof parsed === 'string' ? parsed : parsed.address);
    if (typeof parsed !== 'string') assert.equal(parsed.utf8, utf8);
  });
}

test('an ASCII local part is read as RFC 5321 §4.1.2 says: dot-separated atoms of atext', () => {
  // The plain reading, atom by atom, next to the one-pattern reading parseMailbox uses for ASCII.
  const atext = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
  const alphabet = 'a.Z9!-_.~"(), @\\';
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    let local = '';
    for (let n = 1 + random(8); n > 0; n--) local += alphabet[random(alphabet.length)];
    if (local.startsWith('"') || local.includes('@')) continue; // quoted strings and the separator: other paths
    const expected = local.split('.').every((atom) => atext.test(atom));
    assert.equal(typeof parseMailbox(`${local}@example.com`) !== 'string', expected, JSON.stringify(local));
  }
});

test('a path counts its octets, not its characters (RFC 5321 §4.5.3.1.3: 256 with the brackets)', () => {
  const local = 'a'.repeat(60);
  const domainOf = (octets: number, char: string) => {
    const labels: string[] = [];
    let left = octets;
    while (left > 0) {
      const size = Math.min(60, left - (labels.length > 0 ? 1 : 0));
      labels.push(char.repeat(Math.ceil(size / Buffer.byteLength(char))));
      left -= Buffer.byteLength(labels.at(-1) as string) + (labels.length > 1 ? 1 : 0);
    }
    return labels.join('.');
  };
  for (const char of ['b', 'ü']) {
    const domain = domainOf(256 - 2 - local.length - 1, char);
    const octets = Buffer.byteLength(`<${local}@${domain}>`);
    const parsed = parsePath(`<${local}@${domain}>`, false);
    assert.equal(parsed.ok, octets <= 256, `${octets} octets`);
    const longer = parsePath(`<${local}a@${domain}>`, false);
    assert.equal(longer.ok, octets + 1 <= 256, `${octets + 1} octets`);
  }
});

test('a reverse-path local part is bounded by the path only (RFC 5321 §4.5.3.1): SRS and VERP senders exceed 64', () => {
  const srs = `SRS0=abcd=XY=mailchimp.example=bounce-mc.us5_12345678.901234-${'a'.repeat(16)}`;
  assert.ok(srs.length > 64);
  assert.equal(typeof parseMailbox(`${srs}@example.net`), 'string', 'a recipient keeps the 64');
  assert.notEqual(typeof parseMailbox(`${srs}@example.net`, true), 'string');
  const mail = parsePath(`<${srs}@example.net> SIZE=10`, true);
  assert.ok(mail.ok && mail.path?.localPart === srs && mail.rest === 'SIZE=10');
  assert.equal(parsePath(`<${srs}@example.net>`, false).ok, false);
  assert.equal(parsePath(`<${'a'.repeat(243)}@example.net>`, true).ok, false, 'over the 256-octet path');
  assert.equal(parsePath(`<${'a'.repeat(242)}@example.net>`, true).ok, true, 'at 256 octets');
});

test('an IPv6 address literal keeps the tag as RFC 5321 §4.1.3 writes it, the address in lower case', () => {
  // Before: "[ipv6:::1]" in Return-Path and in replies.
  for (const literal of ['[IPv6:2001:DB8::1]', '[ipv6:2001:db8::1]', '[IPV6:2001:Db8::1]']) {
    const parsed = parseMailbox(`user@${literal}`);
    assert.ok(typeof parsed !== 'string', String(parsed));
    assert.equal(parsed.domain, '[IPv6:2001:db8::1]');
    assert.equal(parsed.address, 'user@[IPv6:2001:db8::1]');
  }
});
