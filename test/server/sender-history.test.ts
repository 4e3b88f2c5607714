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

/** The messages the history holds for `address` once the envelope sender's record is in (it is written off the reply's path). */
async function historyOnceRecorded(server: TestServer, envelope: string, address: string): Promise<number> {
  for (let i = 0; i < 200 && (await server.store.senderHistory(envelope)).messages === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await server.store.senderHistory(envelope)).messages, 1, 'the envelope sender is recorded as before');
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
  assert.equal(await historyOnceRecorded(junk, 'bounce+1@bounces.partner.example', 'news@partner.example'), 0);

  const warned = await serverWith(t, {
    filter: { phishing: { thresholds: { warn: 1, junk: 100, quarantine: 100, reject: 100 } } },
  });
  assert.equal((await sendToAlice(warned, 'bounce+2@bounces.partner.example', NEWSLETTER(2))).code, 250);
  assert.match((await aliceMailbox(warned, 'INBOX'))[0] ?? '', /action=warn/);
  assert.equal(await historyOnceRecorded(warned, 'bounce+2@bounces.partner.example', 'news@partner.example'), 0);
});

test('a From that DMARC does not prove teaches nothing: a forger earns its author no history', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  // forged.example publishes no DMARC: anyone may write its From, here through the ESP.
  const forged = NEWSLETTER(3).replace('news@partner.example', 'ceo@forged.example');
  assert.equal((await sendToAlice(server, 'bounce+5@esp.example', forged)).code, 250);
  assert.match(lastSignals(server), /action=none/);
  assert.equal(await historyOnceRecorded(server, 'bounce+5@esp.example', 'ceo@forged.example'), 0);
});
