// SenderAuthentication's SPF step (src/authentication/authenticate.ts) through the real server and a
// real DNS server on loopback: its result cache, and the Received-SPF field it has stored.
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
  },
};

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
