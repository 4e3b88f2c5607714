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
