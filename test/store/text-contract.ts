/**
 * The text part of the Store contract, run by runStoreContract (contract.ts) inside each engine's
 * suite: a string holding U+0000 or an unpaired UTF-16 surrogate is refused with InvalidTextError
 * wherever the store would keep it, on both engines alike (PostgreSQL cannot keep either; SQLite
 * kept the NUL and swapped the surrogate for U+FFFD), and a look-up by one matches nothing. One
 * such input never costs the other deliveries or sender tallies of its batch.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Account, type Delivery, InvalidTextError, type Store } from '../../src/store/store.ts';
import { newKey } from './dkim-contract.ts';
import type { WithStore } from './policy-contract.ts';
import { quarantinedMessage, SAMPLE_VERDICT } from './quarantine-contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const T0 = new Date('2025-04-01T10:00:00.000Z');

/** NUL, a lone high surrogate, a lone low surrogate, a pair in the wrong order. */
const BAD = ['a\u0000b@example.com', 'a\uD800b@example.com', '\uDC00@example.com', 'x\uDE00\uD83D@example.com'];

function delivery(account: Account, subject: string, fields: Partial<Delivery> = {}): Delivery {
  return {
    mailFrom: 'sender@example.org',
    recipients: [{ address: account.address, accountId: account.id }],
    content: new TextEncoder().encode(`From: <sender@example.org>\r\nSubject: ${subject}\r\n\r\nHello.\r\n`),
    receivedAt: T0,
    ...fields,
  };
}

async function refused(what: string, call: () => Promise<unknown>): Promise<void> {
  await assert.rejects(call(), InvalidTextError, `${what}: InvalidTextError, not a transient failure`);
}

export function runTextStoreContract(withStore: WithStore): void {
  test(
    'refuses U+0000 and unpaired surrogates in every string it keeps, with InvalidTextError, storing nothing',
    withStore(async (store: Store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      const lf = { now: T0, windowMs: 60_000, threshold: 3, blockMs: 60_000 };
      const grey = {
        triplet: '192.0.2.1/a@example.org/bob@example.com',
        network: '192.0.2.1',
        now: T0,
        delayMs: 1000,
        retryWindowMs: 10_000,
        expireMs: 100_000,
        autoPassAfter: 0,
      };
      for (const bad of BAD) {
        await refused('createAccount address', () => store.createAccount(bad, PHC));
        await refused('createAccount hash', () => store.createAccount('carol@example.com', `${PHC}${bad}`));
        await refused('createAccount scram', () => store.createAccount('carol@example.com', PHC, bad));
        await refused('setPassword hash', () => store.setPassword('bob@example.com', bad, null));
        await refused('setPassword scram', () => store.setPassword('bob@example.com', PHC, bad));
        await refused('addAlias', () => store.addAlias(bad, 'bob@example.com'));
        await refused('recordLoginFailure', () => store.recordLoginFailure(`account:${bad}`, lf));
        await refused('greylist triplet', () => store.greylist({ ...grey, triplet: `192.0.2.1/${bad}/b@example.com` }));
        await refused('greylist network', () => store.greylist({ ...grey, network: bad }));
        await refused('addCounters', () => store.addCounters({ 'ok.counter': 1, [bad]: 1 }));
        await refused('enqueueJob kind', () => store.enqueueJob({ kind: bad, payload: '{}' }));
        await refused('enqueueJob payload', () => store.enqueueJob({ kind: 'outbound', payload: `{"to":"${bad}"}` }));
        await refused('claimJobs', () => store.claimJobs({ claimant: bad, limit: 1, leaseMs: 1000 }));
        await refused('addDkimKey', () => store.addDkimKey(newKey('example.com', bad)));
        await refused('addDkimKey domain', () => store.addDkimKey(newKey(bad, 's1')));
        await refused('secret', () => store.secret(bad));
        await refused('quarantine reverse-path', () => store.quarantine(quarantinedMessage('q', { mailFrom: bad })));
        await refused('quarantine recipient', () => store.quarantine(quarantinedMessage('q', { recipients: [bad] })));
        await refused('quarantine category', () =>
          store.quarantine(quarantinedMessage('q', { verdict: { ...SAMPLE_VERDICT, category: bad } })),
        );
        await refused('recordSenders', () => store.recordSenders(['alice@example.org', bad], T0));
        await refused('deliver reverse-path', () => store.deliver(delivery(bob, 'r', { mailFrom: bad })));
        await refused('deliver recipient', () =>
          store.deliver(delivery(bob, 'r', { recipients: [{ address: bad, accountId: bob.id }] })),
        );
      }
      const accounts = await store.listAccounts();
      assert.deepEqual(
        accounts.map((a) => [a.address, a.passwordHash, a.scram]),
        [['bob@example.com', PHC, null]],
      );
      assert.deepEqual(await store.listAliases(), []);
      assert.equal(await store.loginBlockedUntil('account:bob@example.com', T0), null);
      assert.deepEqual(await store.readCounters('ok.'), {}, 'nothing of a refused batch of counters is added');
      assert.deepEqual(await store.listJobs(), []);
      assert.deepEqual(await store.listDkimKeys(), []);
      assert.deepEqual(await store.listQuarantine(), []);
      assert.deepEqual(await store.senderHistory('alice@example.org'), { messages: 0, firstSeen: null });
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.equal(inbox?.messageCount, 0);
    }),
  );

  test(
    'a look-up by a string it cannot keep matches nothing, as an unknown key does',
    withStore(async (store: Store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      const job = await store.enqueueJob({ kind: 'outbound', payload: '{}', dueAt: T0 });
      await store.claimJobs({ claimant: 'node-1', limit: 1, leaseMs: 60_000, now: new Date() });
      for (const bad of BAD) {
        assert.equal(await store.findAccount(bad), undefined);
        assert.equal(await store.resolveAddress(bad), undefined);
        assert.equal(await store.getMailbox(bob.id, `INBOX${bad}`), undefined);
        assert.deepEqual(await store.listAliases(bad), []);
        assert.equal(await store.removeAccount(bad), false);
        assert.equal(await store.setPassword(bad, PHC, null), false);
        assert.equal(await store.setDisabled(bad, true), false);
        assert.equal(await store.removeAlias(bad), false);
        assert.equal(await store.loginBlockedUntil(`account:${bad}`, T0), null);
        await store.clearLoginFailures(`account:${bad}`);
        assert.deepEqual(await store.senderHistory(bad), { messages: 0, firstSeen: null });
        assert.deepEqual(await store.readCounters(bad), {});
        assert.deepEqual(await store.listJobs({ kind: bad }), []);
        assert.deepEqual(await store.listDkimKeys(bad), []);
        assert.equal(await store.completeJob(job.id, bad), false);
        assert.equal(await store.rescheduleJob(job.id, bad, T0), false);
        // The alias is checked first: a NUL in the account's address names no account.
        await assert.rejects(store.addAlias('bobby@example.com', bad), { code: 'NO_SUCH_ACCOUNT' });
      }
      assert.equal((await store.findAccount('bob@example.com'))?.disabled, false);
      assert.equal((await store.listJobs())[0]?.claimedBy, 'node-1');
    }),
  );

  test(
    'a delivery it cannot keep is refused alone: the others asked for in the same turn are stored',
    withStore(async (store: Store) => {
      const bob = await store.createAccount('bob@example.com', PHC);
      // All asked for in one turn: on PostgreSQL they would go as one batch, one transaction.
      const results = await Promise.allSettled([
        store.deliver(delivery(bob, 'first')),
        store.deliver(delivery(bob, 'nul', { mailFrom: 'x\u0000@example.org' })),
        store.deliver(delivery(bob, 'second')),
        store.deliver(delivery(bob, 'surrogate', { mailFrom: 'x\uD800@example.org' })),
        store.deliver(delivery(bob, 'third')),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? 'stored' : (r.reason as Error).constructor.name)),
        ['stored', 'InvalidTextError', 'stored', 'InvalidTextError', 'stored'],
      );
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.ok(inbox);
      const subjects = (await store.listMessages(inbox.id)).map((m) => m.summary.subject);
      assert.deepEqual(subjects.sort(), ['first', 'second', 'third']);
    }),
  );

  test(
    'a sender address it cannot keep is refused alone: the other tallies of the turn are counted',
    withStore(async (store: Store) => {
      const results = await Promise.allSettled([
        store.recordSenders(['alice@example.org'], T0),
        store.recordSenders(['carol@example.net', 'x\u0000@example.com'], T0),
        store.recordSenders(['dave@example.com', 'y\uDFFF@example.com'], T0),
        store.recordSenders(['erin@example.com'], T0),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(await store.senderHistory('alice@example.org'), { messages: 1, firstSeen: T0 });
      assert.deepEqual(await store.senderHistory('erin@example.com'), { messages: 1, firstSeen: T0 });
      // A refused call counts none of its addresses, not even the good ones.
      assert.deepEqual(await store.senderHistory('carol@example.net'), { messages: 0, firstSeen: null });
    }),
  );

  test(
    'keeps surrogate pairs as they are, and what the sender wrote in a verdict without refusing it',
    withStore(async (store: Store) => {
      const address = 'ünï😀@example.com';
      const account = await store.createAccount(address, PHC);
      assert.equal((await store.findAccount(address))?.id, account.id);
      await store.addAlias('😀@example.com', address);
      assert.equal((await store.resolveAddress('😀@example.com'))?.id, account.id);
      const receipt = await store.deliver(delivery(account, 'pair', { mailFrom: '😀@example.org' }));
      assert.equal(receipt.placements.length, 1);
      // The verdict is JSON text, which escapes what it holds: the sender's words are kept exactly;
      // the listed reason column has them cleaned (quarantine-rows.ts), on both engines alike.
      const verdict = {
        ...SAMPLE_VERDICT,
        reason: 'display name "Pay\uD800Pal\u0000"',
        signals: [{ name: 'lookalike', weight: 1, en: 'e', ru: 'р', evidence: 'Pay\uD800Pal\u0000' }],
      };
      const summary = await store.quarantine(quarantinedMessage('v', { verdict }));
      assert.equal(summary.reason, 'display name "Pay\uFFFDPal\uFFFD"');
      const kept = await store.readQuarantined(summary.id);
      assert.equal(kept?.verdict.signals[0]?.evidence, 'Pay\uD800Pal\u0000');
      assert.equal(kept?.verdict.reason, kept?.reason, 'the verdict and the listing tell one reason');
    }),
  );
}
