// The sender history behind the first-contact signal, end to end: the real server and store, a DNS
// server on loopback. Mail services, lists and VERP send with an envelope of their own (RFC 5321 §4.4),
// while the signal reads the From field: that address must be learnt too, but only from mail that
// reached the inbox unmarked and whose From DMARC proved, so a phisher earns no history with a message
// left in Junk, nor with a From it forged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestZone } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { filteringServer, sendingDomain } from '../support/filtering-server.ts';
import type { TestOverrides, TestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

type Context = { after(fn: () => unknown): void };

const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    ...sendingDomain('esp.example'),
    // The ESP's bounce domain is the partner's own subdomain, so SPF aligns (RFC 7489 §3.1.2) and DMARC
    // passes although the partner only monitors (p=none).
    ...sendingDomain('bounces.partner.example'),
    ...sendingDomain('partner.example'),
    '_dmarc.partner.example': { TXT: ['v=DMARC1; p=none'] },
    ...sendingDomain('forged.example'),
    // SPF says no other host sends for it: a client here that uses it forged the envelope.
    'spf-fail.example': { MX: [{ priority: 10, exchange: 'mx.spf-fail.example' }], TXT: ['v=spf1 -all'] },
    ...sendingDomain('examp1e.com'),
  },
};

function serverWith(t: Context, overrides: TestOverrides = {}): Promise<TestServer> {
  return filteringServer(t, ZONE, overrides);
}

/** A newsletter From partner.example sent through an ESP whose bounce address is per message (VERP). */
const NEWSLETTER = (n: number) =>
  'From: Partner News <news@partner.example>\r\nTo: <alice@example.com>\r\nSubject: Our November news\r\n' +
  `Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <n${n}@partner.example>\r\n\r\n` +
  'Hello Alice,\r\nthe warehouse opens on Monday. Talk soon.\r\n';

/**
 * The messages the history holds for `address` once what the last message taught is in: it is
 * written off the reply's path, but before the reply, into tallies committed in order, so a tally
 * recorded now commits after it.
 */
async function history(server: TestServer, address: string): Promise<number> {
  await server.store.recordSenders(['barrier@example.net'], new Date());
  return (await server.store.senderHistory(address)).messages;
}

/** As history(), and the envelope sender (SPF passed for it, the message unmarked) is recorded as before. */
async function historyOnceRecorded(server: TestServer, envelope: string, address: string): Promise<number> {
  assert.equal(await history(server, envelope), 1, 'the envelope sender is recorded as before');
  return (await server.store.senderHistory(address)).messages;
}

/** The signals of the last message the server stored, from its log line. */
function lastSignals(server: TestServer): string {
  const stored = server.logs().filter((l) => l.msg === 'message stored');
  return String(stored.at(-1)?.verdict ?? '');
}

test('mail from an ESP teaches the From address: the next message from it is no first contact', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  assert.equal((await sendToAlice(server, 'bounce+1a2b@bounces.partner.example', NEWSLETTER(1))).code, 250);
  assert.match(lastSignals(server), /signals=first-contact/);
  assert.equal(await historyOnceRecorded(server, 'bounce+1a2b@bounces.partner.example', 'news@partner.example'), 1);
  // Another VERP address, the same author: the phishing stage reads the From field.
  assert.equal((await sendToAlice(server, 'bounce+3c4d@bounces.partner.example', NEWSLETTER(2))).code, 250);
  assert.match(lastSignals(server), /action=none/);
  assert.doesNotMatch(lastSignals(server), /first-contact/);
});

test('a message left in Junk, or marked in the inbox, teaches nothing of its From', async (t) => {
  // first-contact alone (1) reaches these thresholds.
  const junk = await serverWith(t, {
    filter: { phishing: { thresholds: { warn: 1, junk: 1, quarantine: 100, reject: 100 } } },
  });
  assert.equal((await sendToAlice(junk, 'bounce+1@bounces.partner.example', NEWSLETTER(1))).code, 250);
  assert.equal((await aliceMailbox(junk, 'Junk')).length, 1);
  assert.equal(await history(junk, 'news@partner.example'), 0);
  assert.equal(await history(junk, 'bounce+1@bounces.partner.example'), 0, 'nor its envelope sender');

  const warned = await serverWith(t, {
    filter: { phishing: { thresholds: { warn: 1, junk: 100, quarantine: 100, reject: 100 } } },
  });
  assert.equal((await sendToAlice(warned, 'bounce+2@bounces.partner.example', NEWSLETTER(2))).code, 250);
  assert.match((await aliceMailbox(warned, 'INBOX'))[0] ?? '', /action=warn/);
  assert.equal(await history(warned, 'news@partner.example'), 0);
  assert.equal(await history(warned, 'bounce+2@bounces.partner.example'), 0, 'nor its envelope sender');
});

test('a From that DMARC does not prove teaches nothing: a forger earns its author no history', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  // forged.example publishes no DMARC: anyone may write its From, here through the ESP.
  const forged = NEWSLETTER(3).replace('news@partner.example', 'ceo@forged.example');
  assert.equal((await sendToAlice(server, 'bounce+5@esp.example', forged)).code, 250);
  assert.match(lastSignals(server), /action=none/);
  assert.equal(await historyOnceRecorded(server, 'bounce+5@esp.example', 'ceo@forged.example'), 0);
});

test('an envelope sender SPF did not pass for earns no history: the next forged message is still a first contact', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  const message = NEWSLETTER(4).replace('news@partner.example', 'ceo@spf-fail.example');
  assert.equal((await sendToAlice(server, 'ceo@spf-fail.example', message)).code, 250);
  assert.match(lastSignals(server), /first-contact/);
  assert.equal(await history(server, 'ceo@spf-fail.example'), 0);
});

test("mail from outside, however much, teaches no partner domain; only our users' mail does", async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  const since = new Date(Date.now() - 86_400_000);
  const lure = (n: number) => NEWSLETTER(10 + n).replace('news@partner.example', `x${n}@examp1e.com`);
  for (let n = 0; n < 6; n++) assert.equal((await sendToAlice(server, `x${n}@examp1e.com`, lure(n))).code, 250);
  await history(server, 'x5@examp1e.com');
  assert.deepEqual(await server.store.frequentCorrespondents({ minMessages: 1, limit: 300, seenSince: since }), []);
});

test("our users' mail counts once per message and registrable domain, whatever the recipients and host names", async (t) => {
  const server = await serverWith(t, { mynetworks: ['127.0.0.1/32'] });
  const recipients = ['ann', 'bob', 'carl', 'dan', 'eve'].map((u) => `${u}@partnr.example`);
  // Host names under one domain (a wildcard's) are that one domain, not one partner each.
  recipients.push(...Array.from({ length: 20 }, (_, i) => `x@h${i}.wild.example`));
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  await client.command('EHLO client.example');
  await client.command('MAIL FROM:<alice@example.com>');
  for (const r of recipients) assert.equal((await client.command(`RCPT TO:<${r}>`)).code, 250, r);
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal((await client.command('From: alice@example.com\r\nSubject: meeting\r\n\r\nsee you\r\n.')).code, 250);
  assert.equal(await history(server, 'eve@partnr.example'), 1, 'each recipient address has history');
  assert.deepEqual(await server.store.frequentCorrespondents({ minMessages: 1, limit: 300, seenSince: new Date(0) }), [
    { domain: 'partnr.example', messages: 1 },
    { domain: 'wild.example', messages: 1 },
  ]);
});
