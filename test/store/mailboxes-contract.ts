/**
 * The part of the Store contract about where deliveries go: the Junk mailbox (RFC 6154 §2 `\Junk`)
 * created on first use, keywords (RFC 9051 §2.3.2), listMailboxes, and group commit over batches
 * that mix INBOX and Junk. Run by runStoreContract (contract.ts) inside each engine's suite.
 * `execute` writes rows as an IMAP client's CREATE will: the store has no call for it yet.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Account,
  type Delivery,
  type DeliveryMailbox,
  InvalidKeywordError,
  type MailboxChange,
  type Store,
} from '../../src/store/store.ts';
import { waitFor } from '../support/wait.ts';
import { sampleDelivery } from './contract.ts';
import type { Execute } from './migration-fixture.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

export type WithStoreAndSql = (fn: (store: Store, execute: Execute) => Promise<void>) => () => Promise<void>;

/** A delivery whose every recipient goes to `mailbox`. */
export function deliveryTo(mailbox: DeliveryMailbox, accounts: readonly Account[], subject: string): Delivery {
  const delivery = sampleDelivery(accounts, subject);
  for (const recipient of delivery.recipients) recipient.mailbox = mailbox;
  return delivery;
}

/** A mailbox the user made (IMAP CREATE): no special use. */
async function createUserMailbox(execute: Execute, accountId: number, name: string, uidNext = 1): Promise<void> {
  await execute(
    'INSERT INTO mailboxes (account_id, name, uid_validity, uid_next, highest_modseq) VALUES (?, ?, ?, ?, ?)',
    [accountId, name, 1_000_000 + name.length, uidNext, 5],
  );
}

// RFC 9051 §9: flag-keyword = atom; atom-specials = "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
const BAD_KEYWORDS = ['', 'two words', '\\Seen', 'a(b', 'a)b', '{5}', '50%', 'wild*', '"quoted"', 'x]', 'tab\t', 'ü'];

export function runMailboxesStoreContract(withStore: WithStoreAndSql): void {
  test(
    'delivers to Junk: created on first use with \\Junk and its own UIDVALIDITY, UIDs from 1, INBOX untouched',
    withStore(async (store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.deliver(sampleDelivery([bob], 'good'));
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.ok(inbox);
      assert.equal(inbox.specialUse, null);
      assert.equal(await store.getMailbox(bob.id, 'Junk'), undefined, 'no Junk before it is needed');
      const seen: MailboxChange[] = [];
      const unsubscribe = await store.watchChanges((change) => seen.push(change));
      const receipts = [];
      for (let i = 1; i <= 3; i++) receipts.push(await store.deliver(deliveryTo('Junk', [bob], `junk ${i}`)));
      const junk = await store.getMailbox(bob.id, 'Junk');
      assert.ok(junk);
      assert.deepEqual(
        receipts.map((receipt) => receipt.placements),
        [1, 2, 3].map((uid) => [{ accountId: bob.id, mailboxId: junk.id, mailbox: 'Junk', uid }]),
      );
      assert.equal(junk.specialUse, '\\Junk'); // RFC 6154 §2
      assert.equal(junk.accountId, bob.id);
      assert.ok(Number.isInteger(junk.uidValidity) && junk.uidValidity > 0 && junk.uidValidity < 2 ** 32);
      assert.notEqual(junk.uidValidity, inbox.uidValidity);
      assert.equal(junk.uidNext, 4);
      assert.equal(junk.messageCount, 3);
      assert.deepEqual(
        (await store.listMessages(junk.id)).map((m) => [m.uid, m.summary.subject]),
        [1, 2, 3].map((uid) => [uid, `junk ${uid}`]),
      );
      assert.deepEqual(await store.readMessage(junk.id, 2), sampleDelivery([bob], 'junk 2').content);
      assert.deepEqual(await store.getMailbox(bob.id, 'INBOX'), inbox, 'INBOX untouched');
      await waitFor(() => seen.length >= 3);
      unsubscribe();
      assert.deepEqual(
        seen,
        [1, 2, 3].map((uid) => ({ kind: 'message-added', accountId: bob.id, mailboxId: junk.id, uid })),
        'changes name the Junk mailbox',
      );
    }),
  );

  test(
    'sets the delivery keywords on every copy, each once (RFC 9051 §2.3.2, $Junk from RFC 5788 registry)',
    withStore(async (store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      const carol = await store.createAccount('carol@example.com', PHC);
      const delivery = sampleDelivery([bob, carol], 'tagged');
      delivery.recipients[1]!.mailbox = 'Junk';
      const receipt = await store.deliver({ ...delivery, keywords: ['$Junk', 'Spam-Score_7.5', '$Junk'] });
      assert.deepEqual(
        receipt.placements.map((p) => [p.accountId, p.mailbox]),
        [
          [bob.id, 'INBOX'],
          [carol.id, 'Junk'],
        ],
      );
      for (const { mailboxId, uid } of receipt.placements) {
        const [message] = await store.listMessages(mailboxId);
        assert.equal(message?.uid, uid);
        assert.deepEqual(message?.flags, ['$Junk', 'Spam-Score_7.5']);
      }
      const plain = await store.deliver(sampleDelivery([bob], 'plain'));
      const listed = await store.listMessages(plain.placements[0]!.mailboxId);
      assert.deepEqual(listed.at(-1)?.flags, [], 'no keywords: no flags');
    }),
  );

  test(
    'rejects a keyword that is not an atom with InvalidKeywordError, storing nothing',
    withStore(async (store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      for (const keyword of BAD_KEYWORDS) {
        const delivery = { ...deliveryTo('Junk', [bob], 'bad'), keywords: ['$Junk', keyword] };
        await assert.rejects(store.deliver(delivery), InvalidKeywordError, JSON.stringify(keyword));
        await assert.rejects(store.deliver(delivery), { code: 'INVALID_KEYWORD', message: /not an IMAP keyword/ });
      }
      assert.equal(await store.getMailbox(bob.id, 'Junk'), undefined, 'no Junk created');
      assert.equal((await store.getMailbox(bob.id, 'INBOX'))?.messageCount, 0);
      assert.equal(store.stats().deliveries, 0);
      const after = await store.deliver({ ...sampleDelivery([bob]), keywords: ['$NotJunk'] });
      assert.equal(after.placements[0]?.uid, 1, 'the refused deliveries used no UID');
    }),
  );

  test(
    "uses the account's own mailbox named Junk as it is",
    withStore(async (store, execute) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      await createUserMailbox(execute, bob.id, 'Junk', 7);
      const before = await store.getMailbox(bob.id, 'Junk');
      assert.ok(before);
      const receipt = await store.deliver(deliveryTo('Junk', [bob], 'into the old Junk'));
      assert.deepEqual(receipt.placements, [{ accountId: bob.id, mailboxId: before.id, mailbox: 'Junk', uid: 7 }]);
      const after = await store.getMailbox(bob.id, 'Junk');
      assert.equal(after?.uidValidity, before.uidValidity, 'same mailbox, same UIDVALIDITY');
      assert.equal(after?.specialUse, null, 'its attributes stay the user’s');
      assert.equal(after?.uidNext, 8);
      assert.deepEqual(
        (await store.listMailboxes(bob.id)).map((m) => m.name),
        ['INBOX', 'Junk'],
      );
    }),
  );

  test(
    'lists mailboxes: INBOX first, then by name bytewise; only the account’s own',
    withStore(async (store, execute) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      const carol = await store.createAccount('carol@example.com', PHC);
      for (const name of ['Sent', 'archive', 'Archive', 'Ärchiv']) await createUserMailbox(execute, bob.id, name);
      await store.deliver(deliveryTo('Junk', [bob, carol], 'listed'));
      const listed = await store.listMailboxes(bob.id);
      assert.deepEqual(
        listed.map((m) => [m.name, m.specialUse, m.messageCount]),
        [
          ['INBOX', null, 0],
          ['Archive', null, 0],
          ['Junk', '\\Junk', 1],
          ['Sent', null, 0],
          ['archive', null, 0],
          ['Ärchiv', null, 0],
        ],
      );
      for (const mailbox of listed) assert.deepEqual(await store.getMailbox(bob.id, mailbox.name), mailbox);
      assert.deepEqual(
        (await store.listMailboxes(carol.id)).map((m) => m.name),
        ['INBOX', 'Junk'],
      );
      assert.deepEqual(await store.listMailboxes(9999), []);
    }),
  );

  test(
    'group commit over a mixed batch: concurrent INBOX and Junk deliveries to several accounts',
    withStore(async (store) => {
      const accounts = await Promise.all(
        ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'].map((a) => store.createAccount(a, PHC)),
      );
      const [a, b, c, d] = accounts as [Account, Account, Account, Account];
      // a: INBOX only; b: Junk only; c: both; d: INBOX as one address and Junk as another (INBOX wins).
      const deliveries: Delivery[] = [];
      for (let i = 0; i < 30; i++) {
        const delivery = sampleDelivery([a, b, c], `mixed ${i}`);
        delivery.recipients[1]!.mailbox = 'Junk';
        if (i % 2 === 1) delivery.recipients[2]!.mailbox = 'Junk';
        delivery.recipients.push(
          { address: 'd@example.com', accountId: d.id, mailbox: 'Junk' },
          { address: 'dee@example.com', accountId: d.id },
        );
        deliveries.push(delivery);
      }
      const before = store.stats();
      const receipts = await Promise.all(deliveries.map((delivery) => store.deliver(delivery)));
      const after = store.stats();
      assert.equal(after.deliveries - before.deliveries, 30);
      assert.ok(after.commits - before.commits < 30, `30 deliveries took ${after.commits - before.commits} commits`);
      const expected: [Account, string, number][] = [
        [a, 'INBOX', 30],
        [b, 'INBOX', 0],
        [b, 'Junk', 30],
        [c, 'INBOX', 15],
        [c, 'Junk', 15],
        [d, 'INBOX', 30],
      ];
      for (const [account, name, count] of expected) {
        const mailbox = await store.getMailbox(account.id, name);
        assert.ok(mailbox, `${account.address} ${name}`);
        assert.equal(mailbox.messageCount, count, `${account.address} ${name}`);
        assert.equal(mailbox.uidNext, count + 1);
        const uids = (await store.listMessages(mailbox.id)).map((m) => m.uid);
        assert.deepEqual(
          uids,
          Array.from({ length: count }, (_, i) => i + 1),
          `${account.address} ${name}: UIDs 1..${count}`,
        );
      }
      for (const account of [a, d]) assert.equal(await store.getMailbox(account.id, 'Junk'), undefined);
      receipts.forEach((receipt, i) => {
        assert.deepEqual(
          receipt.placements.map((p) => [p.accountId, p.mailbox]),
          [
            [a.id, 'INBOX'],
            [b.id, 'Junk'],
            [c.id, i % 2 === 1 ? 'Junk' : 'INBOX'],
            [d.id, 'INBOX'],
          ],
        );
      });
      for (const receipt of receipts) {
        for (const { mailboxId, uid } of receipt.placements) {
          assert.ok(await store.readMessage(mailboxId, uid), `mailbox ${mailboxId} UID ${uid} is stored`);
        }
      }
    }),
  );
}
