// The Received-SPF field (RFC 7208 §9.1) as spf.onFail: mark writes it: its grammar, read back with
// the RFC's ABNF, and the cases where a value must be quoted or a comment escaped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpfResult } from '../../../src/authentication/spf/check-spf.ts';
import { type ReceivedSpfInput, receivedSpfHeader } from '../../../src/authentication/spf/received-spf.ts';

const base: ReceivedSpfInput = {
  spf: { result: 'pass', domain: 'example.com', reason: 'matched ip4', mechanism: 'ip4:192.0.2.0/24' },
  identity: 'mailfrom',
  clientIp: '192.0.2.1',
  envelopeFrom: 'myname@example.com',
  helo: 'foo.example.com',
  receiver: 'mybox.example.org',
};

const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]";
const DOT_ATOM = `${ATEXT}+(?:\\.${ATEXT}+)*`;
const QUOTED = '"(?:[^"\\\\\\r\\n]|\\\\.)*"';
const PAIR = `[A-Za-z][A-Za-z0-9_.-]*=(?:${DOT_ATOM}|${QUOTED})`;
/** RFC 7208 §9.1: "Received-SPF:" [CFWS] result FWS [comment FWS] [ key-value-list ] CRLF, unfolded. */
const FIELD = new RegExp(
  `^Received-SPF: (pass|fail|softfail|neutral|none|temperror|permerror) \\((?:[^()\\\\]|\\\\.)*\\) ${PAIR}(?:; ?${PAIR})*;?$`,
);

/** The pairs of a field, unfolded, unquoted. */
function pairs(field: string): Record<string, string> {
  const unfolded = field.replace(/\r\n\t/g, ' ').replace(/\r\n$/, '');
  assert.match(unfolded, FIELD);
  const head = /^Received-SPF: \w+ \((?:[^()\\]|\\.)*\) /.exec(unfolded);
  assert.ok(head);
  const list = unfolded.slice(head[0].length);
  const out: Record<string, string> = {};
  for (const m of list.matchAll(new RegExp(`([A-Za-z][A-Za-z0-9_.-]*)=(${DOT_ATOM}|${QUOTED})`, 'g'))) {
    out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!;
  }
  return out;
}

test('the RFC 7208 §9.1 example, field for field', () => {
  const field = receivedSpfHeader(base);
  assert.equal(
    field,
    'Received-SPF: pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender)\r\n' +
      '\tclient-ip=192.0.2.1;\r\n\tenvelope-from="myname@example.com";\r\n\thelo=foo.example.com;\r\n' +
      '\treceiver=mybox.example.org;\r\n\tidentity=mailfrom;\r\n\tmechanism="ip4:192.0.2.0/24";\r\n',
  );
  assert.deepEqual(pairs(field), {
    'client-ip': '192.0.2.1',
    'envelope-from': 'myname@example.com',
    helo: 'foo.example.com',
    receiver: 'mybox.example.org',
    identity: 'mailfrom',
    mechanism: 'ip4:192.0.2.0/24',
  });
});

test('an IPv6 client and the null sender: quoted where a value is not a dot-atom; identity helo', () => {
  const spf: SpfResult = { result: 'fail', domain: 'foo.example.com', reason: 'matched -all', mechanism: '-all' };
  const field = receivedSpfHeader({ ...base, spf, identity: 'helo', clientIp: '2001:db8::1', envelopeFrom: '' });
  assert.match(field, /^Received-SPF: fail \(mybox\.example\.org: foo\.example\.com does not designate 2001:db8::1/);
  assert.deepEqual(pairs(field), {
    'client-ip': '2001:db8::1',
    'envelope-from': '<>',
    helo: 'foo.example.com',
    receiver: 'mybox.example.org',
    identity: 'helo',
    mechanism: '-all',
  });
});

test('errors carry problem=; DNS text with parentheses, quotes and line breaks cannot break the field', () => {
  const spf: SpfResult = { result: 'permerror', domain: 'example.com', reason: 'bad "term" (x)\r\nInjected: yes' };
  const field = receivedSpfHeader({ ...base, spf });
  assert.equal(field.split('\r\n').filter((line) => line !== '' && !line.startsWith('\t')).length, 1, 'one field');
  assert.equal(pairs(field).problem, 'bad "term" (x) Injected: yes');
  assert.match(field, /\(mybox\.example\.org: bad "term" \\\(x\\\) Injected: yes\)/);
  for (const result of ['softfail', 'neutral', 'none', 'temperror'] as const) {
    const field = receivedSpfHeader({ ...base, spf: { result, domain: 'example.com', reason: 'r' } });
    assert.match(field.replace(/\r\n\t/g, ' ').replace(/\r\n$/, ''), FIELD, result);
  }
});

test('the field is 7-bit: § is written "section", other non-ASCII and control characters "?"', () => {
  const spf: SpfResult = {
    result: 'permerror',
    domain: 'example.com',
    reason: 'bad term a:\uFEFFgarbage.example.net (RFC 7208 §4.6, §5)',
  };
  const field = receivedSpfHeader({ ...base, spf, helo: 'h\x01.example', envelopeFrom: 'jos\u00e9@example.com' });
  const lines = field.split('\r\n');
  assert.deepEqual(lines.pop(), '', 'ends in CRLF');
  for (const line of lines) assert.match(line, /^\t?[\x20-\x7e]+$/, 'printable US-ASCII, folded with a tab');
  assert.deepEqual(pairs(field), {
    'client-ip': '192.0.2.1',
    'envelope-from': 'jos?@example.com',
    helo: 'h?.example',
    receiver: 'mybox.example.org',
    identity: 'mailfrom',
    problem: 'bad term a:?garbage.example.net (RFC 7208 section 4.6, section 5)',
  });
  assert.match(
    field,
    /\(mybox\.example\.org: bad term a:\?garbage\.example\.net \\\(RFC 7208 section 4\.6, section 5\\\)\)/,
  );
});

test('a 505-octet HELO or MAIL FROM of quotes, parentheses or backslashes keeps every line within 998 octets', () => {
  // RFC 5322 §2.1.1. The HELO is also the checked domain for the null sender (RFC 7208 §2.3), so it
  // reaches the comment as well as helo=; quoting and escaping each double such characters.
  const cases: ReceivedSpfInput[] = [];
  for (const helo of ['('.repeat(490), '"'.repeat(505), '\\'.repeat(505), ')'.repeat(505)]) {
    for (const result of ['none', 'fail', 'softfail', 'neutral', 'permerror'] as const) {
      const reason = '(\\"'.repeat(300);
      cases.push({ ...base, helo, envelopeFrom: '', identity: 'helo', spf: { result, domain: helo, reason } });
      cases.push({ ...base, helo, spf: { result, domain: 'example.net', reason, mechanism: '"('.repeat(300) } });
    }
  }
  const from = `"${'\\"'.repeat(240)}"@example.net`; // a quoted local part as Path keeps it, escapes and all
  cases.push({ ...base, envelopeFrom: from, spf: { result: 'softfail', domain: 'example.net', reason: 'r' } });
  // The comment's own cap, which a long receiver name reaches: never cut inside a quoted-pair.
  for (let extra = 0; extra < 4; extra++) {
    const receiver = `${'r'.repeat(60)}.`.repeat(7) + 'x'.repeat(extra + 1);
    const spf = { result: 'softfail', domain: 'example.net', reason: 'r' } as const;
    cases.push({ ...base, receiver, envelopeFrom: `${'\\'.repeat(240)}@example.net`, spf });
  }
  for (const input of cases) {
    const field = receivedSpfHeader(input);
    const label = `${input.spf.result} ${input.identity} ${input.helo.slice(0, 3)}`;
    for (const line of field.split('\r\n')) assert.ok(line.length <= 998, `${label}: a line of ${line.length}`);
    const got = pairs(field); // and the field still reads by RFC 7208 §9.1's grammar
    assert.equal(got.helo, input.helo.slice(0, 255), `${label}: a Domain's 255 octets (RFC 5321 §4.5.3.1.2)`);
    assert.equal(got.identity, input.identity, label);
    assert.equal(got['envelope-from'], (input.envelopeFrom || '<>').slice(0, 256), `${label}: a path's 256`);
  }
});

test('a HELO that is an address literal: none, saying nothing was there to look up (RFC 7208 §4.3)', () => {
  const spf: SpfResult = { result: 'none', domain: '[ipv6:::1]', reason: 'not a domain' };
  const field = receivedSpfHeader({
    ...base,
    spf,
    identity: 'helo',
    clientIp: '::1',
    envelopeFrom: '',
    helo: '[IPv6:::1]',
  });
  // It said "[ipv6:::1] does not publish an SPF record", as if a lookup had been made.
  assert.match(
    field,
    /^Received-SPF: none \(mybox\.example\.org: \[ipv6:::1\] is an address literal, not a domain: no SPF record to check\)/,
  );
  assert.equal(pairs(field).helo, '[IPv6:::1]');
});
