// Through the real server and a real DNS server on loopback: a message without a From field is handled as a
// quarantine, as docs/authentication.md says (RFC 7489 §6.6.1 leaves it to the receiver); a DKIM signature
// whose t=, x= or l= breaks RFC 6376 §3.5's grammar is permerror (§6.1.1), with the reason in our
// Authentication-Results field, and so no DMARC pass.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { startTestServer } from '../support/server.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const P = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

function sender(name: string, dmarc: string): TestZone['records'] {
  return {
    [name]: { MX: [{ priority: 10, exchange: `mx.${name}` }], A: ['192.0.2.50'] },
    [`mx.${name}`]: { A: ['192.0.2.50'] },
    [`_dmarc.${name}`]: { TXT: [dmarc] },
    [`s._domainkey.${name}`]: { TXT: [`v=DKIM1; k=rsa; p=${P}`] },
  };
}

const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    ...sender('strict.example', 'v=DMARC1; p=reject'),
    ...sender('lax.example', 'v=DMARC1; p=none'),
  },
};

/** Our Authentication-Results field of a stored message, unfolded. */
function results(stored: string): string {
  const field = /^Authentication-Results: mx\.example\.com;.*(?:\r\n[\t ].*)*/m.exec(stored)?.[0];
  assert.ok(field, `an Authentication-Results field in:\n${stored.slice(0, 600)}`);
  return field.replace(/\r\n[\t ]/g, ' ');
}

/** A message from `domain` signed by it with c=simple/simple over From, To, Subject, plus `extra` tags. */
function signed(domain: string, extra: string): string {
  const header = [`From: <ceo@${domain}>`, 'To: <alice@example.com>', 'Subject: pay today'];
  const body = 'Wire the money.\r\n';
  const bh = createHash('sha256').update(body).digest('base64');
  const field = `DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=${domain}; s=s; h=from:to:subject; bh=${bh};${extra} b=`;
  // RFC 6376 §3.7: the signed fields, then the signature field with an empty b= and no CRLF
  const input = `${header.map((f) => `${f}\r\n`).join('')}${field}`;
  const b = sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64');
  return `${field}${b}\r\n${header.join('\r\n')}\r\n\r\n${body}`;
}

test('a message without a From field goes to Junk, as one whose From names no readable domain', async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  const rest =
    'To: <alice@example.com>\r\nSubject: wire\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nPay today.\r\n';
  // before: dmarc=permerror, delivered to the INBOX (while undisclosed-recipients:; went to Junk)
  assert.equal((await sendToAlice(server, 'bounce@example.net', rest)).code, 250);
  assert.equal(
    (await sendToAlice(server, 'bounce@example.net', `From: undisclosed-recipients:;\r\n${rest}`)).code,
    250,
  );
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), []);
  const junk = await aliceMailbox(server, 'Junk');
  assert.equal(junk.length, 2);
  for (const stored of junk) assert.match(results(stored), / dmarc=permerror\b/);
});

test('t=, x= or l= not as RFC 6376 §3.5 writes them: dkim=permerror with the reason, and no DMARC pass', async (t) => {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  // the control: the same signature with a good t= passes and aligns
  assert.equal((await sendToAlice(server, 'bounce@example.net', signed('strict.example', ' t=1700000000;'))).code, 250);
  const [good] = await aliceMailbox(server, 'INBOX');
  assert.match(results(good ?? ''), /dkim=pass .*dmarc=pass/);
  // before: each passed, and its pass satisfied the p=reject
  for (const tag of [' t=abc;', ' t=1700000000; x=12a;', ' l=1x;']) {
    const answer = await sendToAlice(server, 'bounce@example.net', signed('strict.example', tag));
    assert.equal(answer.code, 550, `${tag}: ${answer.text}`);
  }
  assert.equal((await sendToAlice(server, 'bounce@example.net', signed('lax.example', ' t=abc;'))).code, 250);
  const stored = (await aliceMailbox(server, 'INBOX')).find((m) => m.includes('d=lax.example'));
  const field = results(stored ?? '');
  assert.match(
    field,
    /dkim=permerror \(t=abc is not 1\*12DIGIT: signature syntax error \\\(RFC 6376 section 3\.5, section 6\.1\.1\\\)\) header\.d=lax\.example/,
  );
  assert.match(field, /dmarc=fail/);
});
