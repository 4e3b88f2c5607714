/**
 * The quarantine and sender-history part of the Store contract, run by runStoreContract
 * (contract.ts) inside each engine's suite: messages kept with their verdict and exact bytes, listed
 * newest first in pages, removed; senders counted per message with the time first seen.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SENDER_HISTORY_RETENTION_MS, SENDER_SWEEP_BATCH } from '../../src/store/sender-tally.ts';
import {
  type Account,
  type Delivery,
  type NewQuarantined,
  type QuarantineVerdict,
  RecipientsGoneError,
  type Store,
} from '../../src/store/store.ts';
import type { WithStore } from './policy-contract.ts';

const T0 = new Date('2025-03-01T12:00:00.123Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

export const SAMPLE_VERDICT: QuarantineVerdict = {
  score: 12.5,
  category: 'bank',
  action: 'quarantine',
  reason: 'score 12.5 ≥ 10 (quarantine): lookalike sender domain, credential request',
  signals: [
    {
      name: 'lookalike-domain',
      weight: 8,
      en: 'The sender domain paypa1.com imitates paypal.com',
      ru: 'Домен отправителя paypa1.com подделывается под paypal.com',
      evidence: 'paypa1.com',
    },
    { name: 'credential-request', weight: 4.5, en: 'The message asks for a password', ru: 'Письмо просит пароль' },
  ],
};

/** A message with 8-bit bytes, a NUL and a bare CR in the body: the store keeps bytes, not text. */
export function quarantinedMessage(subject: string, fields: Partial<NewQuarantined> = {}): NewQuarantined {
  const header = new TextEncoder().encode(
    `From: =?UTF-8?B?0JHQsNC90Lo=?= <service@paypa1.com>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n\r\n`,
  );
  const body = Uint8Array.from([0x00, 0xff, 0xfe, 0x0d, 0x41, 0x80, 0x0d, 0x0a]);
  const content = new Uint8Array(header.byteLength + body.byteLength);
  content.set(header);
  content.set(body, header.byteLength);
  return {
    mailFrom: 'bounce@paypa1.com',
    recipients: ['bob@example.com', 'carol@example.org'],
    content,
    receivedAt: T0,
    verdict: SAMPLE_VERDICT,
    ...fields,
  };
}

export function runQuarantineStoreContract(withStore: WithStore): void {
  test(
    'quarantine: a message is kept with its verdict, envelope, header summary and exact bytes',
    withStore(async (store) => {
      assert.deepEqual(await store.listQuarantine(), []);
      const message = quarantinedMessage('Verify your account');
      // A view into a larger buffer, as a pooled Buffer is: only the view's bytes are stored.
      const pool = new Uint8Array(message.content.byteLength + 64).fill(0x58);
      pool.set(message.content, 16);
      const summary = await store.quarantine({
        ...message,
        content: pool.subarray(16, 16 + message.content.byteLength),
      });
      const expected = {
        id: summary.id,
        receivedAt: T0,
        mailFrom: 'bounce@paypa1.com',
        recipients: ['bob@example.com', 'carol@example.org'],
        from: 'Банк <service@paypa1.com>',
        subject: 'Verify your account',
        size: message.content.byteLength,
        score: 12.5,
        category: 'bank',
        reason: SAMPLE_VERDICT.reason,
      };
      assert.deepEqual(summary, expected);
      assert.ok(Number.isInteger(summary.id) && summary.id > 0);
      assert.deepEqual(await store.listQuarantine(), [expected]);
      const read = await store.readQuarantined(summary.id);
      assert.deepEqual(read, { ...expected, verdict: SAMPLE_VERDICT, content: message.content });
      assert.ok(read?.content instanceof Uint8Array && !Buffer.isBuffer(read.content), 'a plain Uint8Array');
      assert.equal(await store.readQuarantined(summary.id + 1000), undefined);
    }),
  );

  test(
    'quarantine: a reason quoting control characters (a decoded NUL in a display name) is kept, each shown as U+FFFD',
    withStore(async (store) => {
      // "=?utf-8?q?PayPal=00Support?=" decodes to a NUL, which PostgreSQL's text refuses.
      const verdict = {
        ...SAMPLE_VERDICT,
        reason: 'display name "PayPal\u0000Support\u001b]52;c;eA==\u0007\u009b" (brand)',
      };
      const summary = await store.quarantine(quarantinedMessage('nul', { verdict }));
      const reason = 'display name "PayPal\uFFFDSupport\uFFFD]52;c;eA==\uFFFD\uFFFD" (brand)';
      assert.equal(summary.reason, reason);
      const read = await store.readQuarantined(summary.id);
      assert.equal(read?.reason, reason);
      assert.deepEqual(read?.verdict, { ...verdict, reason }, 'the verdict says the same');
    }),
  );

  test(
    'quarantine: listed newest first, at most `limit`, and the page before an id',
    withStore(async (store) => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await store.quarantine(quarantinedMessage(`m${i}`, { receivedAt: at(i) }))).id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        'ids grow',
      );
      const subjects = async (options?: { limit?: number; before?: number }) =>
        (await store.listQuarantine(options)).map((q) => q.subject);
      assert.deepEqual(await subjects(), ['m4', 'm3', 'm2', 'm1', 'm0']);
      assert.deepEqual(await subjects({ limit: 2 }), ['m4', 'm3']);
      assert.deepEqual(await subjects({ limit: 2, before: ids[3] }), ['m2', 'm1']);
      assert.deepEqual(await subjects({ before: ids[1] }), ['m0']);
      assert.deepEqual(await subjects({ before: ids[0] }), []);
    }),
  );

  test(
    'quarantine: removing an entry; a removed id is never given again',
    withStore(async (store) => {
      const first = await store.quarantine(quarantinedMessage('first'));
      const second = await store.quarantine(quarantinedMessage('second'));
      assert.equal(await store.removeQuarantined(second.id), true);
      assert.equal(await store.removeQuarantined(second.id), false, 'already gone');
      assert.equal(await store.removeQuarantined(second.id + 1000), false);
      assert.equal(await store.readQuarantined(second.id), undefined);
      assert.deepEqual(
        (await store.listQuarantine()).map((q) => q.id),
        [first.id],
      );
      const third = await store.quarantine(quarantinedMessage('third'));
      assert.ok(third.id > second.id, `the newest id (${second.id}) removed, the next is still above it (${third.id})`);
    }),
  );

  test(
    'quarantine: concurrent writes each get their own id, an empty sender and header are kept as such',
    withStore(async (store) => {
      const bare = new TextEncoder().encode('no header at all');
      const written = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.quarantine(quarantinedMessage(`c${i}`, i === 0 ? { mailFrom: '', content: bare } : {})),
        ),
      );
      assert.equal(new Set(written.map((q) => q.id)).size, 20);
      const bareEntry = await store.readQuarantined(written[0]!.id);
      assert.equal(bareEntry?.mailFrom, '');
      assert.equal(bareEntry?.from, '');
      assert.equal(bareEntry?.subject, '');
      assert.deepEqual(bareEntry?.content, bare);
    }),
  );

  test(
    'sender history: unknown until recorded, then counted per message with the first time seen',
    withStore(async (store) => {
      assert.deepEqual(await store.senderHistory('alice@example.net'), { messages: 0, firstSeen: null });
      await store.recordSenders(['Alice@Example.NET'], at(10));
      assert.deepEqual(await store.senderHistory('alice@example.net'), { messages: 1, firstSeen: at(10) });
      assert.deepEqual(await store.senderHistory('ALICE@example.net'), { messages: 1, firstSeen: at(10) });
      // Mail the organisation wrote to an address counts too: the caller passes the recipients.
      await store.recordSenders(['alice@example.net', 'dave@example.org', 'DAVE@example.org', ''], at(20));
      assert.deepEqual(await store.senderHistory('alice@example.net'), { messages: 2, firstSeen: at(10) });
      assert.deepEqual(
        await store.senderHistory('dave@example.org'),
        { messages: 1, firstSeen: at(20) },
        'one message names an address once, whatever its case',
      );
      assert.deepEqual(await store.senderHistory(''), { messages: 0, firstSeen: null }, 'the null sender is no one');
      // A node whose clock lags records an earlier time: first seen is the earliest.
      await store.recordSenders(['alice@example.net'], at(5));
      assert.deepEqual(await store.senderHistory('alice@example.net'), { messages: 3, firstSeen: at(5) });
      await store.recordSenders([], at(30));
    }),
  );

  test(
    'frequent correspondents: domains our users write to, one count per message, most first, above a floor',
    withStore(async (store) => {
      const since = at(-1);
      const frequent = (minMessages: number, limit: number, seenSince = since) =>
        store.frequentCorrespondents({ minMessages, limit, seenSince });
      assert.deepEqual(await frequent(1, 10), []);
      for (let i = 0; i < 3; i++) await store.recordCorrespondentDomains(['partner.example', 'Partner.EXAMPLE'], at(i));
      await store.recordCorrespondentDomains(['supplier.example', 'zulu.example'], at(5));
      await store.recordCorrespondentDomains(['supplier.example', 'alpha.example'], at(6));
      assert.deepEqual(await frequent(2, 10), [
        { domain: 'partner.example', messages: 3 },
        { domain: 'supplier.example', messages: 2 },
      ]);
      assert.deepEqual(await frequent(1, 1), [{ domain: 'partner.example', messages: 3 }]);
      assert.deepEqual(
        (await frequent(1, 10)).map((d) => d.domain),
        ['partner.example', 'supplier.example', 'alpha.example', 'zulu.example'],
        'ties bytewise',
      );
      assert.deepEqual(await frequent(4, 10), []);
      // Written to before `seenSince` and not since: forgotten by the relearn.
      assert.deepEqual(await frequent(1, 10, at(5.5)), [
        { domain: 'supplier.example', messages: 2 },
        { domain: 'alpha.example', messages: 1 },
      ]);
    }),
  );

  test(
    'frequent correspondents: the per-address history teaches none (mail from outside made partners)',
    withStore(async (store) => {
      for (let i = 0; i < 50; i++) await store.recordSenders([`x${i}@examp1e.example`, 'a@partner.example'], at(i));
      assert.deepEqual(await store.frequentCorrespondents({ minMessages: 1, limit: 10, seenSince: at(-1) }), []);
      assert.equal((await store.senderHistory('a@partner.example')).messages, 50);
    }),
  );

  test(
    'sender history: rows unseen for 400 days are swept beside later tallies, a bounded batch at a time',
    withStore(async (store) => {
      const old = new Date(T0.getTime() - SENDER_HISTORY_RETENTION_MS - 86_400_000);
      const backlog = Array.from({ length: SENDER_SWEEP_BATCH + 10 }, (_, i) => `v${i}@bounces.example`);
      // The first tally of a store sweeps (nothing older than `old` here); the next sweeps an hour on.
      await Promise.all([
        store.recordSenders([...backlog, 'kept@example.net'], old),
        store.recordCorrespondentDomains(['gone.example', 'kept.example'], old),
      ]);
      // Seen again since: kept. This write sweeps what is older than 400 days before it.
      await Promise.all([
        store.recordSenders(['kept@example.net'], at(-2)),
        store.recordCorrespondentDomains(['kept.example'], at(-2)),
      ]);
      const left = async () => {
        let n = 0;
        for (const address of backlog) if ((await store.senderHistory(address)).messages > 0) n++;
        return n;
      };
      assert.equal(await left(), 10, 'one batch went, not the whole backlog in one write');
      assert.deepEqual(await store.senderHistory('kept@example.net'), { messages: 2, firstSeen: old });
      assert.deepEqual(await store.frequentCorrespondents({ minMessages: 1, limit: 10, seenSince: old }), [
        { domain: 'kept.example', messages: 2 },
      ]);
      await store.recordSenders(['new@example.net'], at(-1)); // a backlog was left: this write sweeps again
      assert.equal(await left(), 0);
      await store.recordSenders(['new@example.net'], at(0));
      assert.equal((await store.senderHistory('new@example.net')).messages, 2);
    }),
  );

  test(
    'sender history: many calls at once all count (they share statements)',
    withStore(async (store) => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.recordSenders(['x@example.net', `s${i % 5}@example.net`], at(i))),
      );
      assert.deepEqual(await store.senderHistory('x@example.net'), { messages: 50, firstSeen: at(0) });
      assert.deepEqual(await store.senderHistory('s3@example.net'), { messages: 10, firstSeen: at(3) });
      // Recorded right before close: close waits for it, and it settles as written, not as failed.
      const last = store.recordSenders(['late@example.net'], at(99));
      await store.close();
      await last;
    }),
  );

  const PASSWORD_HASH =
    '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
  const releaseOf = (message: NewQuarantined, accounts: Account[]): Delivery => ({
    mailFrom: message.mailFrom,
    recipients: accounts.map((a) => ({ address: a.address, accountId: a.id })),
    content: message.content,
    receivedAt: message.receivedAt,
  });
  const job = { kind: 'outbound', payload: '{"to":["carol@example.org"]}' };
  const inboxCount = async (store: Store, account: Account) =>
    (await store.getMailbox(account.id, 'INBOX'))?.messageCount ?? 0;
  /** Bob's account, and a message to him in quarantine with its delivery for a release. */
  const quarantinedForBob = async (store: Store, subject: string) => {
    const bob = await store.createAccount('bob@example.com', PASSWORD_HASH);
    const message = quarantinedMessage(subject);
    const { id } = await store.quarantine(message);
    return { bob, message, id, delivery: releaseOf(message, [bob]) };
  };

  test(
    'quarantine expiry: at most `limit` entries received before the date go, the oldest first, and nothing else',
    withStore(async (store) => {
      // Written out of date order (the nodes of a cluster write with their own clocks): the oldest
      // must be found by date, not by id.
      const ages = [-30, -90, -10, -60, 0, -120, 5];
      const ids = new Map<number, number>();
      for (const minutes of ages) {
        ids.set(minutes, (await store.quarantine(quarantinedMessage(`m${minutes}`, { receivedAt: at(minutes) }))).id);
      }
      // What else the store holds, which a sweep must leave alone: mail, accounts, sender history.
      const bob = await store.createAccount('bob@example.com', PASSWORD_HASH);
      const old = quarantinedMessage('delivered long ago', { receivedAt: at(-1000) });
      await store.deliver({ ...releaseOf(old, [bob]), receivedAt: at(-1000) });
      await store.recordSenders(['old@example.net'], at(-1000));
      const listed = async () => (await store.listQuarantine()).map((q) => q.subject).sort();

      // Received before T0 (strictly): -120, -90, -60, -30, -10. The entry at T0 itself is not older.
      assert.equal(await store.expireQuarantine(T0, 2), 2);
      assert.equal(await store.readQuarantined(ids.get(-120)!), undefined, 'the oldest went first');
      assert.equal(await store.readQuarantined(ids.get(-90)!), undefined);
      assert.ok(await store.readQuarantined(ids.get(-60)!), 'a younger expired entry waits for the next batch');
      assert.equal(await store.expireQuarantine(T0, 2), 2);
      assert.deepEqual(await listed(), ['m-10', 'm0', 'm5']);
      assert.equal(await store.expireQuarantine(T0, 2), 1, 'a batch short of full: the backlog is gone');
      assert.equal(await store.expireQuarantine(T0, 100), 0);
      assert.deepEqual(await listed(), ['m0', 'm5'], 'the entry received at the cutoff and a newer one stay');
      assert.equal(await store.expireQuarantine(at(6), 100), 2);
      assert.deepEqual(await store.listQuarantine(), []);

      assert.equal(await inboxCount(store, bob), 1, 'delivered mail is not quarantine');
      assert.deepEqual(await store.senderHistory('old@example.net'), { messages: 1, firstSeen: at(-1000) });
      assert.deepEqual(
        (await store.listAccounts()).map((a) => a.address),
        ['bob@example.com'],
      );
      const next = await store.quarantine(quarantinedMessage('after the sweep'));
      assert.ok(next.id > Math.max(...ids.values()), 'an expired id is never given again');
    }),
  );

  test(
    'quarantine expiry: the limit must be a positive integer, as every engine reads it alike',
    withStore(async (store) => {
      await store.quarantine(quarantinedMessage('old', { receivedAt: at(-10) }));
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(store.expireQuarantine(T0, limit), RangeError, String(limit));
      }
      assert.equal((await store.listQuarantine()).length, 1, 'a refused call removes nothing');
    }),
  );

  test(
    'quarantine release: the job, the delivery and the removal in one transaction; a second release does nothing',
    withStore(async (store) => {
      const { bob, message, id, delivery } = await quarantinedForBob(store, 'release me');
      const released = await store.releaseQuarantined(id, { delivery, job });
      assert.ok(released?.receipt && released.job);
      assert.deepEqual(
        released.receipt.placements.map((p) => [p.accountId, p.mailbox, p.uid]),
        [[bob.id, 'INBOX', 1]],
      );
      assert.equal(released.job.kind, 'outbound');
      assert.equal(await store.readQuarantined(id), undefined);
      assert.equal(await inboxCount(store, bob), 1);
      const bytes = await store.readMessage(released.receipt.placements[0]!.mailboxId, 1);
      assert.deepEqual(bytes && Buffer.from(bytes), Buffer.from(message.content));
      assert.equal(await store.releaseQuarantined(id, { delivery, job }), undefined);
      assert.equal(await inboxCount(store, bob), 1, 'not delivered twice');
      assert.equal((await store.listJobs({ kind: 'outbound' })).length, 1, 'not queued twice');
    }),
  );

  test(
    'quarantine release: two at once deliver one copy',
    withStore(async (store) => {
      const { bob, id, delivery } = await quarantinedForBob(store, 'twice');
      const results = await Promise.all([
        store.releaseQuarantined(id, { delivery }),
        store.releaseQuarantined(id, { delivery }),
      ]);
      assert.equal(results.filter((r) => r !== undefined).length, 1);
      assert.equal(await inboxCount(store, bob), 1);
    }),
  );

  test(
    'quarantine release: with every account gone the entry stays; with a job too, the job and the removal commit',
    withStore(async (store) => {
      const { id, delivery } = await quarantinedForBob(store, 'nobody home');
      await store.removeAccount('bob@example.com');
      await assert.rejects(store.releaseQuarantined(id, { delivery }), RecipientsGoneError);
      assert.ok(await store.readQuarantined(id), 'still quarantined');
      const released = await store.releaseQuarantined(id, { delivery, job });
      assert.ok(released?.job);
      assert.equal(released.receipt, undefined);
      assert.equal(await store.readQuarantined(id), undefined);
    }),
  );
}
