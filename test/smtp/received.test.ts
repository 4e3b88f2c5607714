// The Received field (RFC 5321 §4.4) with whatever the client sent as its HELO name: read back by
// mailauth's parse-received, which counts parentheses without reading quoted-pairs, and by the RFC 5322
// §3.2.2 comment grammar, which reads them. Either way by, with, id, for, the date and the client's
// address must come out as written.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { formatDate, receivedHeader } from '../../src/smtp/received.ts';
import { startTestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

type Parsed = Record<string, { value: string; comment?: string } | undefined> & { timestamp?: string };
const { parseReceived, getClientAddress } = createRequire(import.meta.url)('mailauth/lib/parse-received.js') as {
  parseReceived(field: Buffer): Parsed;
  getClientAddress(from: Parsed[string]): string | false;
};

const AT = new Date(Date.UTC(2026, 10, 28, 10, 0, 0));
const HOSTNAME = 'mx.example.com';

function envelope(helo: string, smtputf8 = false): Envelope {
  const path = { localPart: 'alice', domain: 'example.com', address: 'alice@example.com', utf8: false };
  return {
    id: 'ptabc00001-1',
    greeting: 'EHLO',
    helo,
    mailFrom: null,
    declaredSize: undefined,
    body: '7BIT',
    smtputf8,
    recipients: [{ path, route: { kind: 'local', accountId: 1 } }],
  };
}

function peer(remoteAddress: string): Peer {
  return { sessionId: 's', remoteAddress, remotePort: 40000, localAddress: '127.0.0.1', localPort: 25 };
}

/**
 * Where the comment opening at `start` ends, by RFC 5322 §3.2.2: nested comments count, a
 * quoted-pair's character does not. -1 when it never closes.
 */
function commentEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The field read both ways: every clause after the from clause's comment as we wrote it. */
function check(field: string, ip: string, label: string, protocol = 'ESMTP'): Parsed {
  for (const line of field.split('\r\n'))
    assert.ok(Buffer.byteLength(line) <= 998, `${label}: line of 998 octets at most`);
  assert.equal(field.split('\r\n').length, 5, `${label}: no line added or lost`);
  const open = field.indexOf('(');
  assert.ok(open > 0, label);
  const close = commentEnd(field, open);
  assert.equal(field.slice(close + 1, close + 7), '\r\n\tby ', `${label}: the comment closes before "by"`);
  assert.ok(!field.slice(0, open).includes(';'), `${label}: no ";" before the date's`);
  const parsed = parseReceived(Buffer.from(field.replace(/\r\n$/, ''), 'utf8'));
  assert.equal(parsed.by?.value, HOSTNAME, label);
  assert.equal(parsed.with?.value, protocol, label);
  assert.equal(parsed.id?.value, 'ptabc00001-1', label);
  assert.equal(parsed.for?.value, '<alice@example.com>', label);
  assert.equal(parsed.timestamp, formatDate(AT), label);
  assert.equal(getClientAddress(parsed.from), ip, label);
  return parsed;
}

test('every printable ASCII character in the HELO name leaves by, with, id, for, the date and the address readable', () => {
  let cases = 0;
  for (let code = 0x21; code <= 0x7e; code++) {
    const c = String.fromCharCode(code);
    for (const helo of [c, `a${c}b.example`, `${c}[203.0.113.5]${c}`, c.repeat(505), `x${c}`.repeat(252)]) {
      for (const [ip, clientName] of [
        ['127.0.0.1', undefined],
        ['::1', 'mx.client.example'],
      ] as const) {
        const field = receivedHeader(envelope(helo), peer(ip), HOSTNAME, AT, clientName);
        check(field, ip, JSON.stringify({ helo: helo.slice(0, 20), ip }));
        cases++;
      }
    }
  }
  assert.equal(cases, 94 * 5 * 2);
});

test('a name or an address literal is written as From-domain; anything else goes in the comment as helo=', () => {
  const bare = (helo: string, smtputf8 = false) =>
    check(
      receivedHeader(envelope(helo, smtputf8), peer('127.0.0.1'), HOSTNAME, AT),
      '127.0.0.1',
      helo,
      smtputf8 ? 'UTF8SMTP' : 'ESMTP',
    ).from;
  assert.deepEqual(bare('client.example'), { value: 'client.example', comment: '[127.0.0.1]' });
  // RFC 5321 §4.4: From-domain is a Domain (§4.1.2): the root's trailing dot is left off, and a Windows
  // host's "_", which the HELO rules let through, goes in the comment.
  assert.deepEqual(bare('client.example.'), { value: 'client.example', comment: '[127.0.0.1]' });
  assert.deepEqual(bare('my_host.example.'), { value: 'unknown', comment: 'helo=my_host.example.; [127.0.0.1]' });
  assert.deepEqual(bare('[192.0.2.1]'), { value: '[192.0.2.1]', comment: '[127.0.0.1]' });
  assert.deepEqual(bare('[IPv6:2001:db8::1]'), { value: '[IPv6:2001:db8::1]', comment: '[127.0.0.1]' });
  assert.deepEqual(bare('münchen.example'), { value: 'xn--mnchen-3ya.example', comment: '[127.0.0.1]' });
  assert.deepEqual(bare('münchen.example', true), { value: 'münchen.example', comment: '[127.0.0.1]' });

  const field = receivedHeader(envelope('a;b(c)\\'), peer('127.0.0.1'), HOSTNAME, AT, 'mx.client.example');
  assert.match(field, /^Received: from unknown \(helo=a;b\?c\?\\\\; mx\.client\.example \[127\.0\.0\.1\]\)\r\n/);
  // Not a name, so not bare: a literal without its bracket, an empty label, a parenthesis.
  assert.equal(bare('[192.0.2.1')?.value, 'unknown');
  assert.equal(bare('x..example')?.value, 'unknown');
  const utf8 = receivedHeader(envelope('bü(cher'), peer('127.0.0.1'), HOSTNAME, AT);
  assert.match(utf8, /^Received: from unknown \(helo=b\?\?cher; \[127\.0\.0\.1\]\)\r\n/);
  const kept = receivedHeader(envelope('bü(cher\u0085', true), peer('127.0.0.1'), HOSTNAME, AT);
  assert.match(kept, /^Received: from unknown \(helo=bü\?cher\?; \[127\.0\.0\.1\]\)\r\n/);
});

test('a HELO name of up to 505 octets of four-octet characters keeps the line within 998 octets', () => {
  // Four U-labels of 31 characters of four octets each: 499 octets in UTF-8, its A-label 127.
  const long = Array.from({ length: 4 }, () => '𝒶'.repeat(31)).join('.');
  assert.equal(
    check(receivedHeader(envelope(long, true), peer('::1'), HOSTNAME, AT), '::1', 'long', 'UTF8SMTP').from?.value,
    Array.from({ length: 4 }, () => 'a'.repeat(31)).join('.'),
    'a name too long in UTF-8 is written as its A-label',
  );
  const name = `${'😀'.repeat(30)}.example`; // 128 octets: written as sent
  assert.equal(
    check(receivedHeader(envelope(name, true), peer('::1'), HOSTNAME, AT), '::1', name, 'UTF8SMTP').from?.value,
    name,
  );
  for (const helo of ['😀'.repeat(126), `${'😀'.repeat(60)}.example`, `${`${'a'.repeat(63)}.`.repeat(3)}example`]) {
    for (const smtputf8 of [false, true]) {
      const field = receivedHeader(envelope(helo, smtputf8), peer('::1'), HOSTNAME, AT, 'mx.client.example');
      check(field, '::1', helo, smtputf8 ? 'UTF8SMTP' : 'ESMTP');
    }
  }
});

test('through the server: HELO names a client may send when HELO checks are off are written so the field parses', async (t) => {
  const s = await startTestServer({ restrictions: { helo: [] } });
  t.after(() => s.stop());
  const body = 'From: a@example.net\r\nTo: alice@example.com\r\nSubject: t\r\n\r\nhello\r\n.\r\n';
  for (const helo of ['(', 'x)', 'a\\', 'a;b', 'evil;Thu,01Jan1970', '"', 'x([203.0.113.5])', '('.repeat(500)]) {
    const c = await SmtpClient.connect(s.port, '127.0.0.1');
    try {
      assert.equal((await c.read()).code, 220);
      for (const line of [`EHLO ${helo}`, 'MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>', 'DATA'])
        assert.match(codeOf(await c.command(line)), /^(250|354)/, `${helo}: ${line}`);
      c.send(body);
      assert.equal(codeOf(await c.read()), '250 2.0.0', helo);
    } finally {
      await c.close();
    }
    const stored = (await s.inbox('alice@example.com')).at(-1)!.toString('latin1');
    const field = /^Received:[\s\S]*?\r\n(?=\S)/m.exec(stored)![0];
    const parsed = parseReceived(Buffer.from(field.replace(/\r\n$/, ''), 'latin1'));
    assert.equal(parsed.from?.value, 'unknown', helo);
    assert.equal(parsed.by?.value, HOSTNAME, helo);
    assert.equal(parsed.with?.value, 'ESMTP', helo);
    assert.match(parsed.id?.value ?? '', /^\w+-\d+$/, helo);
    assert.equal(parsed.for?.value, '<alice@example.com>', helo);
    assert.match(parsed.timestamp ?? '', /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/, helo);
    assert.equal(getClientAddress(parsed.from), '127.0.0.1', helo);
  }
});
