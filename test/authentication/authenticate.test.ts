// SenderAuthentication (src/authentication/authenticate.ts) through the real server and a real DNS
// server on loopback: the SPF result cache and the Received-SPF field it has stored; DMARC on a malformed
// From; the Authentication-Results field it has stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { startTestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

/** A sending domain that exists (reject_unknown_sender_domain), with the given SPF record. */
function domain(name: string, spf: string): TestZone['records'] {
  return {
    [name]: { MX: [{ priority: 10, exchange: `mx.${name}` }], A: ['192.0.2.50'], TXT: [spf] },
    [`mx.${name}`]: { A: ['192.0.2.50'] },
  };
}

const includes = Array.from({ length: 11 }, (_, i) => `include:i${i}.many.example`).join(' ');
const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    ...domain('leak.example', 'v=spf1 -all exp=why.leak.example'),
    'why.leak.example': { TXT: ['%{s} may not send from %{i}'] },
    ...domain('many.example', `v=spf1 ${includes} -all`),
    ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`i${i}.many.example`, { TXT: ['v=spf1 ?all'] }])),
    ...domain('victim.example', 'v=spf1 -all'),
    '_dmarc.victim.example': { TXT: ['v=DMARC1; p=reject'] },
    ...domain('evil.example', 'v=spf1 ip4:127.0.0.0/8 -all'),
  },
};

/** Our Authentication-Results field of a stored message, folds kept. */
function resultsField(stored: string): string {
  const field = /^Authentication-Results: mx\.example\.com;.*(?:\r\n[\t ].*)*/m.exec(stored)?.[0];
  assert.ok(field, `an Authentication-Results field in:\n${stored.slice(0, 600)}`);
  return field;
}

const wire = (from: string, extra = '') =>
  `${extra}From: ${from}\r\nTo: <alice@example.com>\r\nSubject: Wire transfer\r\n` +
  `Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@evil.example>\r\n\r\nPay today.\r\n`;

test("a From with a stray character after the address gets its domain's p=reject; one with none readable goes to Junk", async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  // Mail programs show ceo@victim.example for each (before: dmarc=permerror or none, delivered to the INBOX).
  for (const from of ['ceo@victim.example>', 'ceo@victim.example)', 'ceo@victim.example]', 'ceo@victim.example\\']) {
    const answer = await sendToAlice(server, 'bounce@evil.example', wire(from));
    assert.equal(answer.code, 550, `${from}: ${answer.text}`);
    assert.match(answer.text, /DMARC policy of victim\.example says reject/);
  }
  for (const control of ['\u0000', '\u0001']) {
    const answer = await sendToAlice(server, 'bounce@evil.example', wire(`ceo@victim.example${control}`));
    assert.equal(answer.code, 550, `${JSON.stringify(control)}: ${answer.text}`);
  }
  // No domain can be read (nodemailer reads "…:" as an empty group): fail closed, to Junk.
  for (const from of ['ceo@victim.example:', 'ceo@victim..example', '=?utf-8?q?ceo=40victim=2Eexample?=']) {
    assert.equal((await sendToAlice(server, 'bounce@evil.example', wire(from))).code, 250, from);
  }
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), []);
  const junk = await aliceMailbox(server, 'Junk');
  assert.equal(junk.length, 3);
  for (const stored of junk) assert.match(resultsField(stored), /\tdmarc=permerror$/);
});

test('the stored Authentication-Results field: lines of at most 998 octets, 7-bit, arc= with smtp.remote-ip', async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  // An unverifiable signature with a 1,500-octet i= and an 8-bit selector (before: one line of 1,693 octets).
  const local = 'a'.repeat(1500);
  const signature =
    'DKIM-Signature: v=1; a=rsa-sha256; d=evil.example; s=s\u00e9l;\r\n' +
    ` i=${local.match(/.{1,70}/g)?.join('\r\n ')}@evil.example;\r\n h=from; bh=AAAA; b=AAAAAAAAAAAA\r\n`;
  assert.equal((await sendToAlice(server, 'a@evil.example', wire('<x@evil.example>', signature))).code, 250);
  const [stored] = await aliceMailbox(server, 'INBOX');
  assert.ok(stored);
  const field = resultsField(stored);
  for (const line of field.split('\r\n')) {
    assert.ok(line.length <= 998, `a line of ${line.length} octets`);
    assert.match(line, /^[\x20-\x7e\t]*$/, 'printable US-ASCII');
  }
  assert.match(field, / header\.i=a{307}@evil\.example /);
  assert.match(field, / header\.s=xn--sl-bja /);
  assert.match(field, /\tarc=none smtp\.remote-ip=127\.0\.0\.1;/);
});

test('the SPF cache never hands one sender the explanation expanded for another (RFC 7208 §6.2)', async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 300, tries: 1 },
    authentication: { spf: { onFail: 'reject' } },
  });
  t.after(() => server.stop());
  for (const from of ['ceo@leak.example', 'bob@leak.example', 'ceo@leak.example']) {
    const { client } = await SmtpClient.open(server.port);
    await client.command('EHLO client.example');
    const answer = await client.command(`MAIL FROM:<${from}>`);
    await client.close();
    assert.equal(answer.code, 550);
    assert.match(answer.text, new RegExp(`SPF fail: ${from} may not send from 127\\.0\\.0\\.1`));
  }
});

test('a permerror is stored in a Received-SPF field of printable US-ASCII (RFC 5322 §2.2)', async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 300, tries: 1 },
    authentication: { spf: { onFail: 'mark' } },
  });
  t.after(() => server.stop());
  const content = 'From: <x@many.example>\r\nTo: <alice@example.com>\r\nSubject: s\r\n\r\nhi\r\n';
  assert.equal((await sendToAlice(server, 'x@many.example', content)).code, 250);
  const [stored] = await aliceMailbox(server, 'INBOX');
  assert.ok(stored);
  const field = /^Received-SPF:.*(?:\r\n\t.*)*/m.exec(stored.slice(0, stored.indexOf('\r\n\r\n')))?.[0];
  assert.ok(field, 'a Received-SPF field');
  assert.match(field, /^Received-SPF: permerror /);
  assert.match(field, /problem="[^"]*more than 10 DNS lookups \(RFC 7208 section 4\.6\.4\)"/);
  for (const line of field.split('\r\n')) assert.match(line, /^\t?[\x20-\x7e]+$/, 'printable US-ASCII');
});

test('a cached SPF result lives no longer than the shortest TTL of the answers that decided it (RFC 2181 §8)', async (t) => {
  // Each domain fails from 127.0.0.1 until one record changes; the changed record has TTL 1 s (a negative
  // answer: its SOA's MINIMUM, RFC 2308 §5), except long.example's, which keeps the default 60 s.
  const before: TestZone = {
    records: {
      ...DEFAULT_TEST_ZONE.records,
      ...domain('own.ttl.example', 'v=spf1 -all'),
      ...domain('include.ttl.example', 'v=spf1 include:inner.include.ttl.example -all'),
      'inner.include.ttl.example': { TXT: ['v=spf1 -all'] },
      ...domain('redirect.ttl.example', 'v=spf1 redirect=target.redirect.ttl.example'),
      'target.redirect.ttl.example': { TXT: ['v=spf1 -all'] },
      ...domain('negative.ttl.example', 'v=spf1 a:host.negative.ttl.example -all'),
      ...domain('long.ttl.example', 'v=spf1 -all'),
    },
    ttl: { 'own.ttl.example/TXT': 1, 'inner.include.ttl.example/TXT': 1, 'target.redirect.ttl.example/TXT': 1 },
    soa: { 'host.negative.ttl.example': { ttl: 60, minimum: 1 } },
  };
  const allowed = 'v=spf1 ip4:127.0.0.1 -all';
  const after: TestZone = {
    ...before,
    records: {
      ...before.records,
      'own.ttl.example': { ...before.records['own.ttl.example'], TXT: [allowed] },
      'inner.include.ttl.example': { TXT: [allowed] },
      'target.redirect.ttl.example': { TXT: [allowed] },
      'host.negative.ttl.example': { A: ['127.0.0.1'] },
      'long.ttl.example': { ...before.records['long.ttl.example'], TXT: [allowed] },
    },
  };
  const dns = await startTestDnsServer(before);
  t.after(() => dns.close());
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 300, tries: 1 },
    authentication: { spf: { onFail: 'reject' }, cacheSeconds: 300 },
  });
  t.after(() => server.stop());
  const senders = ['own', 'include', 'redirect', 'negative', 'long'].map((name) => `a@${name}.ttl.example`);
  const mailFrom = async (from: string): Promise<number> => {
    const { client } = await SmtpClient.open(server.port);
    await client.command('EHLO client.example');
    const answer = await client.command(`MAIL FROM:<${from}>`);
    await client.close();
    return answer.code;
  };
  for (const from of senders) assert.equal(await mailFrom(from), 550, from);
  dns.setZone(after);
  // Past the 1 s TTLs (before: each fail was reused for cacheSeconds, 300 s).
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  for (const from of senders.slice(0, 4)) assert.equal(await mailFrom(from), 250, from);
  // A 60 s TTL: the fail is still the cached one.
  assert.equal(await mailFrom('a@long.ttl.example'), 550);
});
