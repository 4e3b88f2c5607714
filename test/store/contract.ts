/**
 * The Store contract suite: every engine (SQLite and PostgreSQL) runs these same tests; the
 * counters and greylisting part is in policy-contract.ts, DKIM keys in dkim-contract.ts, quarantine and
 * sender history in quarantine-contract.ts, the admin's queue operations in queue-admin-contract.ts.
 * `open` gives a fresh, empty store; `cleanup` closes it if still open and removes its data.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Account,
  AccountExistsError,
  type Delivery,
  type MailboxChange,
  RecipientsGoneError,
  type Store,
  StoreClosedError,
} from '../../src/store/store.ts';
import { waitFor } from '../support/wait.ts';
import { runAccountsStoreContract } from './accounts-contract.ts';
import { newKey, runDkimStoreContract } from './dkim-contract.ts';
import { runMailboxesStoreContract } from './mailboxes-contract.ts';
import type { Execute } from './migration-fixture.ts';
import { runPolicyStoreContract } from './policy-contract.ts';
import { quarantinedMessage, runQuarantineStoreContract } from './quarantine-contract.ts';
import { runQueueAdminStoreContract } from './queue-admin-contract.ts';
import { runTextStoreContract } from './text-contract.ts';

export interface OpenedStore {
  store: Store;
  /** Runs one SQL statement (`?` placeholders) on the store's database, for rows no Store call writes. */
  execute: Execute;
  cleanup(): Promise<void>;
}

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

export function sampleMessage(subject: string): Uint8Array {
  return new TextEncoder().encode(
    `From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n` +
      `Date: Fri, 21 Nov 1997 09:55:06 -0600\r\nMessage-ID: <${subject}@example.com>\r\n\r\nHello, ${subject}.\r\n`,
  );
}

export function sampleDelivery(accounts: readonly Account[], subject = 'greetings'): Delivery {
  return {
    mailFrom: 'alice@example.com',
    recipients: accounts.map((account) => ({ address: account.address, accountId: account.id })),
    content: sampleMessage(subject),
    receivedAt: new Date('2025-01-02T03:04:05.678Z'),
  };
}

async function inboxOf(store: Store, account: Account) {
  const inbox = await store.getMailbox(account.id, 'INBOX');
  assert.ok(inbox, `${account.address} has an INBOX`);
  return inbox;
}

export function runStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  /** Runs one test on a fresh store, and always cleans up. */
  const withStore = (fn: (store: Store, execute: Execute) => Promise<void>) => async () => {
    const { store, execute, cleanup } = await open();
    try {
      await fn(store, execute);
    } finally {
      await cleanup();
    }
  };

  describe(`Store contract: ${name}`, () => {
    test(
      'creates, finds and lists accounts',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const alice = await store.createAccount('alice@example.com', PHC);
        assert.equal(bob.address, 'bob@example.com');
        assert.equal(bob.passwordHash, PHC);
        assert.equal(bob.scram, null);
        assert.equal(bob.disabled, false);
        assert.ok(bob.createdAt instanceof Date && !Number.isNaN(bob.createdAt.getTime()));
        assert.notEqual(bob.id, alice.id);
        assert.deepEqual(await store.findAccount('bob@example.com'), bob);
        assert.equal(await store.findAccount('nobody@example.com'), undefined);
        const listed = await store.listAccounts();
        assert.deepEqual(listed.map((account) => account.address).sort(), ['alice@example.com', 'bob@example.com']);
      }),
    );

    test(
      'refuses a second account for the same address with AccountExistsError',
      withStore(async (store) => {
        await store.createAccount('bob@example.com', PHC);
        await assert.rejects(store.createAccount('bob@example.com', PHC), AccountExistsError);
        await assert.rejects(store.createAccount('bob@example.com', PHC), { code: 'ACCOUNT_EXISTS' });
        assert.equal((await store.listAccounts()).length, 1);
      }),
    );

    test(
      'gives a new account an empty INBOX (RFC 9051 §2.3.1.1, RFC 7162 §3.1.1)',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const inbox = await inboxOf(store, bob);
        assert.equal(inbox.name, 'INBOX');
        assert.equal(inbox.accountId, bob.id);
        assert.ok(Number.isInteger(inbox.uidValidity) && inbox.uidValidity > 0 && inbox.uidValidity < 2 ** 32);
        assert.equal(inbox.uidNext, 1);
        assert.equal(inbox.messageCount, 0);
        assert.equal(typeof inbox.highestModSeq, 'bigint');
        assert.ok(inbox.highestModSeq > 0n);
        assert.deepEqual(await store.listMessages(inbox.id), []);
        assert.equal(await store.getMailbox(bob.id, 'Archive'), undefined);
      }),
    );

    test(
      'delivers to one recipient: exact bytes, summary, UID 1, counters advance',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const before = await inboxOf(store, bob);
        const delivery = sampleDelivery([bob]);
        const receipt = await store.deliver(delivery);
        assert.deepEqual(receipt.placements, [{ accountId: bob.id, mailboxId: before.id, mailbox: 'INBOX', uid: 1 }]);
        const after = await inboxOf(store, bob);
        assert.equal(after.uidNext, 2);
        assert.equal(after.messageCount, 1);
        assert.equal(after.uidValidity, before.uidValidity);
        assert.ok(after.highestModSeq > before.highestModSeq);
        assert.deepEqual(await store.readMessage(before.id, 1), delivery.content);
        assert.equal(await store.readMessage(before.id, 2), undefined);
        const [message, ...rest] = await store.listMessages(before.id);
        assert.equal(rest.length, 0);
        assert.deepEqual(message, {
          uid: 1,
          modSeq: after.highestModSeq,
          flags: [],
          internalDate: delivery.receivedAt,
          size: delivery.content.byteLength,
          summary: {
            from: 'Alice <alice@example.com>',
            subject: 'greetings',
            date: new Date('1997-11-21T15:55:06Z'),
            messageId: '<greetings@example.com>',
          },
        });
      }),
    );

    test(
      'delivers to three recipients: content stored once, a UID in each INBOX',
      withStore(async (store) => {
        const accounts = await Promise.all(
          ['a@example.com', 'b@example.com', 'c@example.com'].map((address) => store.createAccount(address, PHC)),
        );
        await store.deliver(sampleDelivery([accounts[1]!], 'first for b'));
        const delivery = sampleDelivery(accounts);
        const receipt = await store.deliver(delivery);
        assert.equal(receipt.placements.length, 3);
        for (const account of accounts) {
          const inbox = await inboxOf(store, account);
          const placement = receipt.placements.find((p) => p.accountId === account.id);
          assert.deepEqual(placement, {
            accountId: account.id,
            mailboxId: inbox.id,
            mailbox: 'INBOX',
            uid: inbox.uidNext - 1,
          });
          assert.deepEqual(await store.readMessage(inbox.id, placement.uid), delivery.content);
        }
        assert.equal(receipt.placements.find((p) => p.accountId === accounts[1]!.id)?.uid, 2);
      }),
    );

    test(
      'stores exactly the bytes of a view into a larger buffer, leaving the caller its bytes',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const message = sampleMessage('a view');
        const larger = new Uint8Array(message.byteLength + 20).fill(0x58);
        larger.set(message, 10);
        const view = larger.subarray(10, 10 + message.byteLength);
        const receipt = await store.deliver({ ...sampleDelivery([bob]), content: view });
        assert.equal(view.byteLength, message.byteLength, 'the caller still has its bytes');
        assert.deepEqual(view, message);
        const placement = receipt.placements[0]!;
        assert.deepEqual(await store.readMessage(placement.mailboxId, placement.uid), message);
      }),
    );

    test(
      'secret(): 32 random bytes made on first use, then always the same; each name its own',
      withStore(async (store) => {
        const first = await store.secret('scram-fake-salt');
        assert.equal(first.length, 32);
        const [again, other] = await Promise.all([store.secret('scram-fake-salt'), store.secret('another')]);
        assert.deepEqual(again, first);
        assert.notDeepEqual(other, first);
      }),
    );

    test(
      'a delivery handed over (handOver) is stored byte for byte, large or small, with others in its batch',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const large = new Uint8Array(Buffer.concat([Buffer.from(sampleMessage('large')), Buffer.alloc(300_000, 0x61)]));
        const expected = new Uint8Array(large);
        const small = sampleMessage('small');
        // One event-loop turn: both in one batch, one moved and one copied.
        const [movedReceipt, copiedReceipt] = await Promise.all([
          store.deliver({ ...sampleDelivery([bob]), content: large, handOver: true }),
          store.deliver({ ...sampleDelivery([bob]), content: small, handOver: true }),
        ]);
        const moved = movedReceipt.placements[0]!;
        const copied = copiedReceipt.placements[0]!;
        assert.deepEqual(await store.readMessage(moved.mailboxId, moved.uid), expected);
        assert.deepEqual(await store.readMessage(copied.mailboxId, copied.uid), sampleMessage('small'));
      }),
    );

    test(
      'places one copy per account when two recipient addresses share an account',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const delivery = sampleDelivery([bob]);
        delivery.recipients.push({ address: 'robert@example.com', accountId: bob.id });
        const receipt = await store.deliver(delivery);
        assert.equal(receipt.placements.length, 1);
        assert.equal((await inboxOf(store, bob)).messageCount, 1);
      }),
    );

    test(
      'allocates strictly increasing UIDs and mod-sequences',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const uids: number[] = [];
        for (let i = 0; i < 5; i++) {
          const receipt = await store.deliver(sampleDelivery([bob], `message ${i}`));
          uids.push(receipt.placements[0]!.uid);
        }
        assert.deepEqual(uids, [1, 2, 3, 4, 5]);
        const messages = await store.listMessages((await inboxOf(store, bob)).id);
        assert.deepEqual(
          messages.map((m) => m.summary.subject),
          uids.map((_, i) => `message ${i}`),
        );
        for (let i = 1; i < messages.length; i++) assert.ok(messages[i]!.modSeq > messages[i - 1]!.modSeq);
      }),
    );

    test(
      'skips recipient accounts removed before delivery, and fails when none is left',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const carol = await store.createAccount('carol@example.com', PHC);
        await store.removeAccount('carol@example.com');
        const receipt = await store.deliver(sampleDelivery([bob, carol]));
        assert.deepEqual(
          receipt.placements.map((p) => p.accountId),
          [bob.id],
        );
        await assert.rejects(store.deliver(sampleDelivery([carol])), RecipientsGoneError);
      }),
    );

    test(
      'removes an account with its mailbox, keeping content other accounts hold',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const carol = await store.createAccount('carol@example.com', PHC);
        const bobInbox = await inboxOf(store, bob);
        const carolInbox = await inboxOf(store, carol);
        const shared = sampleDelivery([bob, carol]);
        await store.deliver(shared);
        await store.deliver(sampleDelivery([bob], 'only for bob'));
        assert.equal(await store.removeAccount('bob@example.com'), true);
        assert.equal(await store.findAccount('bob@example.com'), undefined);
        assert.equal(await store.getMailbox(bob.id, 'INBOX'), undefined);
        assert.equal(await store.readMessage(bobInbox.id, 2), undefined);
        assert.deepEqual(await store.readMessage(carolInbox.id, 1), shared.content);
        assert.equal(await store.removeAccount('bob@example.com'), false);
        const again = await store.createAccount('bob@example.com', PHC);
        const newInbox = await inboxOf(store, again);
        assert.notEqual(newInbox.uidValidity, bobInbox.uidValidity, 'a re-created INBOX needs a new UIDVALIDITY');
        assert.equal(newInbox.uidNext, 1);
      }),
    );

    test(
      'gives 200 concurrent deliveries distinct UIDs',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const receipts = await Promise.all(
          Array.from({ length: 200 }, (_, i) => store.deliver(sampleDelivery([bob], `concurrent ${i}`))),
        );
        const uids = receipts.map((receipt) => receipt.placements[0]!.uid);
        assert.equal(new Set(uids).size, 200);
        assert.deepEqual(
          [...uids].sort((a, b) => a - b),
          Array.from({ length: 200 }, (_, i) => i + 1),
        );
        const inbox = await inboxOf(store, bob);
        assert.equal(inbox.messageCount, 200);
        assert.equal(inbox.uidNext, 201);
      }),
    );

    test(
      'queue: claims due jobs in order, each by one claimant, and completes them',
      withStore(async (store) => {
        // A limit that is no positive integer is the caller's mistake, the same on every engine: on SQLite
        // a negative LIMIT had meant none, and claimed the whole queue.
        for (const limit of [-1, 0, 1.5]) {
          await assert.rejects(store.claimJobs({ claimant: 'x', limit, leaseMs: 1000 }), RangeError, `claim ${limit}`);
          await assert.rejects(store.listJobs({ limit }), RangeError, `list ${limit}`);
          await assert.rejects(store.listQuarantine({ limit }), RangeError, `quarantine ${limit}`);
        }
        const now = Date.now();
        const first = await store.enqueueJob({ kind: 'test', payload: '{"n":1}', dueAt: new Date(now - 2000) });
        assert.equal(first.attempts, 0);
        assert.equal(first.claimedBy, null);
        assert.equal(first.payload, '{"n":1}');
        const second = await store.enqueueJob({ kind: 'test', payload: '{"n":2}', dueAt: new Date(now - 1000) });
        const third = await store.enqueueJob({ kind: 'test', payload: '{"n":3}' });
        await store.enqueueJob({ kind: 'test', payload: '{"later":true}', dueAt: new Date(now + 3_600_000) });
        const a = await store.claimJobs({ claimant: 'node-a', limit: 2, leaseMs: 60_000 });
        assert.deepEqual(
          a.map((job) => job.id),
          [first.id, second.id],
        );
        assert.ok(a.every((job) => job.claimedBy === 'node-a' && job.attempts === 1));
        const b = await store.claimJobs({ claimant: 'node-b', limit: 10, leaseMs: 60_000 });
        assert.deepEqual(
          b.map((job) => job.id),
          [third.id],
          'a job due later is not claimed',
        );
        assert.deepEqual(await store.claimJobs({ claimant: 'node-c', limit: 10, leaseMs: 60_000 }), []);
        assert.equal(await store.completeJob(first.id, 'node-b'), false, 'only the holder completes a job');
        assert.equal(await store.completeJob(first.id, 'node-a'), true);
        assert.equal(await store.completeJob(first.id, 'node-a'), false, 'a completed job is gone');
      }),
    );

    test(
      'queue: an expired lease passes the job to another claimant, and the old holder can no longer finish it',
      withStore(async (store) => {
        const job = await store.enqueueJob({ kind: 'test', payload: '{}' });
        const [claimed] = await store.claimJobs({ claimant: 'node-a', limit: 1, leaseMs: 1000 });
        assert.equal(claimed?.id, job.id);
        const later = new Date(Date.now() + 5000);
        assert.deepEqual(await store.claimJobs({ claimant: 'node-b', limit: 1, leaseMs: 1000 }), []);
        const [taken] = await store.claimJobs({ claimant: 'node-b', limit: 1, leaseMs: 60_000, now: later });
        assert.equal(taken?.id, job.id);
        assert.equal(taken?.attempts, 2);
        assert.equal(await store.completeJob(job.id, 'node-a'), false);
        assert.equal(await store.completeJob(job.id, 'node-b'), true);
      }),
    );

    test(
      'queue: rescheduling releases the claim until the new due time',
      withStore(async (store) => {
        const job = await store.enqueueJob({ kind: 'test', payload: '{}' });
        await store.claimJobs({ claimant: 'node-a', limit: 1, leaseMs: 60_000 });
        const retryAt = new Date(Date.now() + 600_000);
        assert.equal(await store.rescheduleJob(job.id, 'node-b', retryAt), false, 'not the holder');
        assert.equal(await store.rescheduleJob(job.id, 'node-a', retryAt), true);
        assert.deepEqual(await store.claimJobs({ claimant: 'node-b', limit: 1, leaseMs: 60_000 }), []);
        const [again] = await store.claimJobs({ claimant: 'node-b', limit: 1, leaseMs: 60_000, now: retryAt });
        assert.equal(again?.id, job.id);
        assert.equal(again?.dueAt.getTime(), retryAt.getTime());
      }),
    );

    test(
      'queue: concurrent claims never hand one job to two claimants',
      withStore(async (store) => {
        const ids = new Set<number>();
        for (let i = 0; i < 30; i++) ids.add((await store.enqueueJob({ kind: 'test', payload: `${i}` })).id);
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.claimJobs({ claimant: `node-${i}`, limit: 5, leaseMs: 60_000 })),
        );
        const claimed = claims.flat().map((job) => job.id);
        assert.equal(claimed.length, 30);
        assert.deepEqual(new Set(claimed), ids);
      }),
    );

    test(
      'tells change listeners about each committed delivery, until they unsubscribe',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const inbox = await inboxOf(store, bob);
        const seen: MailboxChange[] = [];
        const unsubscribe = await store.watchChanges((change) => seen.push(change));
        await store.deliver(sampleDelivery([bob], 'watched'));
        await waitFor(() => seen.length >= 1);
        assert.deepEqual(seen, [{ kind: 'message-added', accountId: bob.id, mailboxId: inbox.id, uid: 1 }]);
        unsubscribe();
        await store.deliver(sampleDelivery([bob], 'unwatched'));
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(seen.length, 1);
        assert.ok(store.stats().deliveries >= 2);
      }),
    );

    // Counters and greylisting: policy-contract.ts.
    runPolicyStoreContract(withStore);
    // Credentials, disabled accounts, aliases, failed logins: accounts-contract.ts.
    runAccountsStoreContract(withStore);
    // Junk, keywords, listMailboxes, mixed batches: mailboxes-contract.ts.
    runMailboxesStoreContract(withStore);
    // Signing keys and their rotation states: dkim-contract.ts.
    runDkimStoreContract(withStore);
    // Quarantined messages and sender history: quarantine-contract.ts.
    runQuarantineStoreContract(withStore);
    // One job read, counted or removed by the admin (postern queue): queue-admin-contract.ts.
    runQueueAdminStoreContract(withStore);
    // U+0000 and unpaired surrogates, refused alike on both engines: text-contract.ts.
    runTextStoreContract(withStore);

    test(
      'rejects every call with StoreClosedError after close()',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        await store.close();
        const calls: [string, () => Promise<unknown>][] = [
          ['createAccount', () => store.createAccount('carol@example.com', PHC)],
          ['findAccount', () => store.findAccount('bob@example.com')],
          ['listAccounts', () => store.listAccounts()],
          ['removeAccount', () => store.removeAccount('bob@example.com')],
          ['deliver', () => store.deliver(sampleDelivery([bob]))],
          ['getMailbox', () => store.getMailbox(bob.id, 'INBOX')],
          ['listMailboxes', () => store.listMailboxes(bob.id)],
          ['listMessages', () => store.listMessages(1)],
          ['readMessage', () => store.readMessage(1, 1)],
          ['addDkimKey', () => store.addDkimKey(newKey('example.com', 'sel'))],
          ['listDkimKeys', () => store.listDkimKeys()],
          ['setDkimKeyState', () => store.setDkimKeyState(1, 'active')],
          ['enqueueJob', () => store.enqueueJob({ kind: 'test', payload: '{}' })],
          ['claimJobs', () => store.claimJobs({ claimant: 'a', limit: 1, leaseMs: 1000 })],
          ['completeJob', () => store.completeJob(1, 'a')],
          ['rescheduleJob', () => store.rescheduleJob(1, 'a', new Date())],
          ['getJob', () => store.getJob(1)],
          ['countJobs', () => store.countJobs()],
          ['deleteJob', () => store.deleteJob(1)],
          ['watchChanges', () => store.watchChanges(() => {})],
          ['addCounters', () => store.addCounters({ 'c:a': 1 })],
          ['addCounters with nothing to add', () => store.addCounters({})],
          ['readCounters', () => store.readCounters('c:')],
          [
            'greylist',
            () =>
              store.greylist({
                triplet: '192.0.2.0/24//bob@example.com',
                network: '192.0.2.0/24',
                now: new Date(),
                delayMs: 1000,
                retryWindowMs: 1000,
                expireMs: 1000,
                autoPassAfter: 5,
              }),
          ],
          ['quarantine', () => store.quarantine(quarantinedMessage('closed'))],
          ['listQuarantine', () => store.listQuarantine()],
          ['readQuarantined', () => store.readQuarantined(1)],
          ['removeQuarantined', () => store.removeQuarantined(1)],
          ['senderHistory', () => store.senderHistory('alice@example.net')],
          ['recordSenders', () => store.recordSenders(['alice@example.net'], new Date())],
          ['close', () => store.close()],
        ];
        for (const [method, call] of calls) await assert.rejects(call(), StoreClosedError, method);
      }),
    );

    test(
      'close() lets writes already asked for finish',
      withStore(async (store) => {
        const bob = await store.createAccount('bob@example.com', PHC);
        const deliveries = Array.from({ length: 20 }, (_, i) => store.deliver(sampleDelivery([bob], `late ${i}`)));
        await store.close();
        const receipts = await Promise.all(deliveries);
        assert.equal(receipts.length, 20);
      }),
    );
  });
}
