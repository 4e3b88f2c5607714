/**
 * The part of the Store contract that submission (SMTP AUTH) needs: credentials, disabled
 * accounts, aliases and failed-login counting. Run by runStoreContract (contract.ts) inside each
 * engine's suite. Times are explicit `now` values.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountLoginKey } from '../../src/store/login-failures.ts';
import {
  AccountExistsError,
  AliasExistsError,
  type LoginFailureOptions,
  NoSuchAccountError,
  RecipientsGoneError,
  type Store,
  StoreClosedError,
  StoreError,
} from '../../src/store/store.ts';
import type { WithStore } from './policy-contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const PHC2 = '$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXJzYQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ld2g';
const SCRAM =
  'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$' +
  'c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmU=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmU=';
const SCRAM2 =
  'SCRAM-SHA-256$8192:b3RoZXJzYWx0b3RoZXJzYQ==$' +
  'bmV3c3RvcmVka2V5bmV3c3RvcmVka2V5bmV3c3RvcmU=:bmV3c2VydmVya2V5bmV3c2VydmVya2V5bmV3c2VydmU=';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const WINDOW = 15 * 60_000;
const BLOCK = 30 * 60_000;

function fail(store: Store, key: string, at: number, options: Partial<LoginFailureOptions> = {}) {
  return store.recordLoginFailure(key, {
    now: new Date(at),
    windowMs: WINDOW,
    threshold: 3,
    blockMs: BLOCK,
    ...options,
  });
}

export function runAccountsStoreContract(withStore: WithStore): void {
  test(
    'accounts: hasAccounts says whether any exists, without reading them all',
    withStore(async (store) => {
      assert.equal(await store.hasAccounts(), false);
      await store.createAccount('alice@example.com', PHC);
      assert.equal(await store.hasAccounts(), true);
      assert.equal(await store.removeAccount('alice@example.com'), true);
      assert.equal(await store.hasAccounts(), false);
    }),
  );

  test(
    'accounts: a new account stores its SCRAM credentials (none by default) and is not disabled',
    withStore(async (store) => {
      const alice = await store.createAccount('alice@example.com', PHC, SCRAM);
      assert.equal(alice.scram, SCRAM);
      assert.equal(alice.disabled, false);
      assert.deepEqual(await store.findAccount('alice@example.com'), alice);
      const bob = await store.createAccount('bob@example.com', PHC);
      assert.equal(bob.scram, null);
      assert.equal((await store.createAccount('carol@example.com', PHC, null)).scram, null);
      assert.deepEqual(await store.findAccount('bob@example.com'), bob);
      assert.deepEqual(
        (await store.listAccounts()).map((a) => [a.address, a.scram, a.disabled]),
        [
          ['alice@example.com', SCRAM, false],
          ['bob@example.com', null, false],
          ['carol@example.com', null, false],
        ],
      );
    }),
  );

  test(
    'accounts: setPassword replaces the hash and the SCRAM credentials together',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC, SCRAM);
      await store.createAccount('bob@example.com', PHC, SCRAM);
      assert.equal(await store.setPassword('alice@example.com', PHC2, SCRAM2), true);
      let alice = await store.findAccount('alice@example.com');
      assert.equal(alice?.passwordHash, PHC2);
      assert.equal(alice?.scram, SCRAM2);
      assert.equal(await store.setPassword('alice@example.com', PHC, null), true);
      alice = await store.findAccount('alice@example.com');
      assert.equal(alice?.passwordHash, PHC);
      assert.equal(alice?.scram, null);
      const bob = await store.findAccount('bob@example.com');
      assert.deepEqual([bob?.passwordHash, bob?.scram], [PHC, SCRAM], 'another account is untouched');
      assert.equal(await store.setPassword('nobody@example.com', PHC2, SCRAM2), false);
      assert.equal(await store.findAccount('nobody@example.com'), undefined, 'setPassword creates nothing');
    }),
  );

  test(
    'accounts: setDisabled turns an account off and on, keeping it and its address',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      await store.createAccount('bob@example.com', PHC);
      assert.equal(await store.setDisabled('alice@example.com', true), true);
      assert.equal((await store.findAccount('alice@example.com'))?.disabled, true);
      assert.equal((await store.resolveAddress('alice@example.com'))?.disabled, true, 'resolved, the caller decides');
      assert.deepEqual(
        (await store.listAccounts()).map((a) => [a.address, a.disabled]),
        [
          ['alice@example.com', true],
          ['bob@example.com', false],
        ],
      );
      assert.equal(await store.setDisabled('alice@example.com', true), true, 'disabling twice is no error');
      assert.equal(await store.setDisabled('alice@example.com', false), true);
      assert.equal((await store.findAccount('alice@example.com'))?.disabled, false);
      assert.equal(await store.setDisabled('nobody@example.com', true), false);
    }),
  );

  test(
    'aliases: resolve to their account, list sorted, and go when removed',
    withStore(async (store) => {
      const alice = await store.createAccount('alice@example.com', PHC);
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.addAlias('postmaster@example.com', 'alice@example.com');
      await store.addAlias('abuse@example.com', 'alice@example.com');
      await store.addAlias('robert@example.com', 'bob@example.com');
      assert.deepEqual(await store.resolveAddress('postmaster@example.com'), alice);
      assert.deepEqual(await store.resolveAddress('robert@example.com'), bob);
      assert.deepEqual(await store.resolveAddress('alice@example.com'), alice, 'an account resolves to itself');
      assert.equal(await store.resolveAddress('nobody@example.com'), undefined);
      assert.equal(await store.findAccount('postmaster@example.com'), undefined, 'an alias is not an account');
      assert.deepEqual(await store.listAliases(), [
        { alias: 'abuse@example.com', account: 'alice@example.com' },
        { alias: 'postmaster@example.com', account: 'alice@example.com' },
        { alias: 'robert@example.com', account: 'bob@example.com' },
      ]);
      assert.deepEqual(await store.listAliases('bob@example.com'), [
        { alias: 'robert@example.com', account: 'bob@example.com' },
      ]);
      assert.deepEqual(await store.listAliases('nobody@example.com'), []);
      assert.equal(await store.removeAlias('postmaster@example.com'), true);
      assert.equal(await store.removeAlias('postmaster@example.com'), false);
      assert.equal(await store.removeAlias('alice@example.com'), false, 'an account is not removed as an alias');
      assert.equal(await store.resolveAddress('postmaster@example.com'), undefined);
      assert.ok(await store.findAccount('alice@example.com'));
      assert.deepEqual(
        (await store.listAliases('alice@example.com')).map((a) => a.alias),
        ['abuse@example.com'],
      );
    }),
  );

  test(
    'aliases: an address is an account or an alias, never both, and an alias points to an account',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      await store.createAccount('bob@example.com', PHC);
      await store.addAlias('postmaster@example.com', 'alice@example.com');
      await assert.rejects(store.addAlias('postmaster@example.com', 'bob@example.com'), (error: Error) => {
        assert.ok(error instanceof AliasExistsError);
        assert.equal((error as AliasExistsError).code, 'ALIAS_EXISTS');
        assert.match(error.message, /postmaster@example\.com is already an alias of alice@example\.com/);
        return true;
      });
      await assert.rejects(store.addAlias('bob@example.com', 'alice@example.com'), (error: Error) => {
        assert.ok(error instanceof AliasExistsError);
        assert.match(error.message, /bob@example\.com is the address of an account/);
        return true;
      });
      await assert.rejects(store.addAlias('info@example.com', 'nobody@example.com'), (error: Error) => {
        assert.ok(error instanceof NoSuchAccountError && error instanceof StoreError);
        assert.equal((error as NoSuchAccountError).code, 'NO_SUCH_ACCOUNT');
        assert.match(error.message, /nobody@example\.com/);
        return true;
      });
      await assert.rejects(store.addAlias('info@example.com', 'postmaster@example.com'), (error: Error) => {
        assert.ok(error instanceof NoSuchAccountError);
        assert.match(error.message, /postmaster@example\.com is an alias of alice@example\.com, not an account/);
        return true;
      });
      await assert.rejects(store.createAccount('postmaster@example.com', PHC), (error: Error) => {
        assert.ok(error instanceof AccountExistsError);
        assert.match(error.message, /postmaster@example\.com is an alias of alice@example\.com/);
        return true;
      });
      assert.deepEqual(
        (await store.listAccounts()).map((a) => a.address),
        ['alice@example.com', 'bob@example.com'],
        'no account was created',
      );
      assert.deepEqual(await store.listAliases(), [{ alias: 'postmaster@example.com', account: 'alice@example.com' }]);
    }),
  );

  test(
    'accounts: removing one forgets its failed logins; one made again at the address starts afresh',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      const key = accountLoginKey('alice@example.com');
      for (let i = 0; i < 3; i++) await fail(store, key, T0 + i);
      await fail(store, 'ip:192.0.2.1', T0);
      assert.ok(await store.loginBlockedUntil(key, new Date(T0 + 10)), 'blocked after three failures');
      assert.equal(await store.removeAccount('alice@example.com'), true);
      assert.equal(await store.loginBlockedUntil(key, new Date(T0 + 10)), null);
      assert.equal((await fail(store, key, T0 + 20)).count, 1, 'counting starts again');
      assert.equal((await fail(store, 'ip:192.0.2.1', T0 + 20)).count, 2, "a client's failures stay");
    }),
  );

  test(
    'accounts: ids are never given again: the account made after the newest was removed has ids of its own',
    withStore(async (store) => {
      // Delivery goes by account id, looked up at RCPT (and cached by the server for seconds): an id
      // given again would hand the removed account's mail to whoever got it.
      const alice = await store.createAccount('alice@example.com', PHC);
      const eve = await store.createAccount('eve@example.com', PHC);
      const mail = (accountId: number, address: string, mailbox?: 'Junk') => ({
        mailFrom: 'bob@example.org',
        recipients: [{ address, accountId, ...(mailbox ? { mailbox } : {}) }],
        content: new TextEncoder().encode('Subject: for eve\r\n\r\nconfidential\r\n'),
        receivedAt: new Date(T0),
      });
      await store.deliver(mail(eve.id, 'eve@example.com', 'Junk')); // her Junk: the newest mailbox
      const eveBoxes = (await store.listMailboxes(eve.id)).map((m) => m.id);
      assert.equal(eveBoxes.length, 2);
      assert.equal(await store.removeAccount('eve@example.com'), true);
      const frank = await store.createAccount('frank@example.com', PHC);
      assert.notEqual(frank.id, eve.id, "frank does not get eve's account id");
      assert.ok(frank.id > eve.id, 'ids only go up');
      const frankInbox = await store.getMailbox(frank.id, 'INBOX');
      assert.ok(frankInbox);
      assert.ok(!eveBoxes.includes(frankInbox.id), "frank's INBOX does not get one of eve's mailbox ids");
      await assert.rejects(store.deliver(mail(eve.id, 'eve@example.com')), RecipientsGoneError);
      await assert.rejects(store.deliver(mail(eve.id, 'eve@example.com', 'Junk')), RecipientsGoneError);
      const both = await store.deliver({
        ...mail(eve.id, 'eve@example.com'),
        recipients: [
          { address: 'eve@example.com', accountId: eve.id },
          { address: 'alice@example.com', accountId: alice.id },
        ],
      });
      assert.deepEqual(
        both.placements.map((p) => p.accountId),
        [alice.id],
        'only the account still there gets it',
      );
      assert.deepEqual(
        (await store.listMailboxes(frank.id)).map((m) => [m.name, m.messageCount]),
        [['INBOX', 0]],
        "none of eve's mail reached frank",
      );
    }),
  );

  test(
    'aliases: removing an account removes its aliases, freeing their addresses',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      await store.createAccount('bob@example.com', PHC);
      await store.addAlias('postmaster@example.com', 'alice@example.com');
      await store.addAlias('robert@example.com', 'bob@example.com');
      assert.equal(await store.removeAccount('alice@example.com'), true);
      assert.equal(await store.resolveAddress('postmaster@example.com'), undefined);
      assert.deepEqual(await store.listAliases(), [{ alias: 'robert@example.com', account: 'bob@example.com' }]);
      const postmaster = await store.createAccount('postmaster@example.com', PHC);
      assert.deepEqual(await store.resolveAddress('postmaster@example.com'), postmaster);
      await store.addAlias('alice@example.com', 'bob@example.com');
      assert.equal((await store.resolveAddress('alice@example.com'))?.address, 'bob@example.com');
    }),
  );

  test(
    'aliases: concurrent claims of one address as account and alias leave exactly one',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      const addresses = Array.from({ length: 10 }, (_, i) => `race${i}@example.com`);
      const outcomes = await Promise.allSettled(
        addresses.flatMap((address) => [
          store.createAccount(address, PHC),
          store.addAlias(address, 'alice@example.com'),
        ]),
      );
      for (const [i, address] of addresses.entries()) {
        const pair = outcomes.slice(2 * i, 2 * i + 2);
        assert.equal(pair.filter((o) => o.status === 'fulfilled').length, 1, `${address}: one claim wins`);
        const account = await store.findAccount(address);
        const aliases = (await store.listAliases()).filter((a) => a.alias === address);
        assert.equal(Number(Boolean(account)) + aliases.length, 1, `${address} is one thing`);
      }
    }),
  );

  test(
    'login failures: counted in a window, blocked at the threshold until now + blockMs',
    withStore(async (store) => {
      const key = 'ip:192.0.2.1';
      assert.equal(await store.loginBlockedUntil(key, new Date(T0)), null, 'an unknown key is not blocked');
      assert.deepEqual(await fail(store, key, T0), { count: 1, blockedUntil: null });
      assert.deepEqual(await fail(store, key, T0 + 1000), { count: 2, blockedUntil: null });
      assert.equal(await store.loginBlockedUntil(key, new Date(T0 + 1000)), null);
      const blockedAt = T0 + 2000;
      const until = new Date(blockedAt + BLOCK);
      assert.deepEqual(await fail(store, key, blockedAt), { count: 3, blockedUntil: until });
      assert.deepEqual(await store.loginBlockedUntil(key, new Date(blockedAt)), until);
      assert.deepEqual(await store.loginBlockedUntil(key, new Date(blockedAt + BLOCK - 1)), until);
      assert.equal(await store.loginBlockedUntil(key, new Date(blockedAt + BLOCK)), null, 'the block ends');
      // Other keys are their own.
      assert.equal(await store.loginBlockedUntil('ip:192.0.2.2', new Date(blockedAt)), null);
      assert.deepEqual(await fail(store, 'account:alice@example.com', blockedAt), { count: 1, blockedUntil: null });
    }),
  );

  test(
    'login failures: a failure after the window starts a new one at 1; a block outlives its window',
    withStore(async (store) => {
      const key = 'account:alice@example.com';
      await fail(store, key, T0);
      await fail(store, key, T0 + 1000);
      assert.deepEqual(await fail(store, key, T0 + WINDOW - 1), {
        count: 3,
        blockedUntil: new Date(T0 + WINDOW - 1 + BLOCK),
      });
      // The window is over but the block is not: counting restarts, the block stands.
      const later = T0 + WINDOW + 60_000;
      assert.deepEqual(await fail(store, key, later), { count: 1, blockedUntil: new Date(T0 + WINDOW - 1 + BLOCK) });
      // Once both are over, the key starts afresh.
      const afresh = T0 + 2 * WINDOW + BLOCK;
      assert.deepEqual(await fail(store, key, afresh), { count: 1, blockedUntil: null });
      assert.deepEqual(
        await fail(store, key, afresh + WINDOW),
        { count: 1, blockedUntil: null },
        'exactly windowMs on',
      );
    }),
  );

  test(
    'login failures: every failure at or past the threshold (re)starts the block',
    withStore(async (store) => {
      const key = 'ip:2001:db8::1';
      const options = { windowMs: 10 * BLOCK, blockMs: BLOCK };
      for (let i = 0; i < 2; i++) await fail(store, key, T0 + i, options);
      assert.deepEqual(await fail(store, key, T0 + 2, options), { count: 3, blockedUntil: new Date(T0 + 2 + BLOCK) });
      // Tried again during the block: it runs on from this failure.
      assert.deepEqual(await fail(store, key, T0 + 60_000, options), {
        count: 4,
        blockedUntil: new Date(T0 + 60_000 + BLOCK),
      });
      // A block never shrinks: a shorter blockMs keeps the standing one.
      assert.deepEqual(await fail(store, key, T0 + 60_001, { ...options, blockMs: 1000 }), {
        count: 5,
        blockedUntil: new Date(T0 + 60_000 + BLOCK),
      });
      // After the block, still inside the window: one more failure blocks again at once.
      const after = T0 + 60_000 + BLOCK;
      assert.equal(await store.loginBlockedUntil(key, new Date(after)), null);
      assert.deepEqual(await fail(store, key, after, options), { count: 6, blockedUntil: new Date(after + BLOCK) });
    }),
  );

  test(
    'login failures: threshold 1 blocks at once, blockMs 0 never blocks, and clearing forgets the key',
    withStore(async (store) => {
      assert.deepEqual(await fail(store, 'ip:192.0.2.7', T0, { threshold: 1 }), {
        count: 1,
        blockedUntil: new Date(T0 + BLOCK),
      });
      for (let i = 1; i <= 5; i++) {
        assert.deepEqual(await fail(store, 'ip:192.0.2.8', T0, { blockMs: 0 }), { count: i, blockedUntil: null });
      }
      assert.equal(await store.loginBlockedUntil('ip:192.0.2.8', new Date(T0)), null);
      await store.clearLoginFailures('ip:192.0.2.7');
      await store.clearLoginFailures('ip:192.0.2.99'); // unknown: no error
      assert.equal(await store.loginBlockedUntil('ip:192.0.2.7', new Date(T0)), null, 'clearing lifts the block');
      assert.deepEqual(await fail(store, 'ip:192.0.2.7', T0 + 1, { threshold: 2 }), { count: 1, blockedUntil: null });
      assert.deepEqual(await fail(store, 'ip:192.0.2.8', T0 + 1, { blockMs: 0 }), { count: 6, blockedUntil: null });
    }),
  );

  test(
    'login failures: options that are not usable numbers are refused with RangeError',
    withStore(async (store) => {
      await assert.rejects(fail(store, 'k', T0, { threshold: 0 }), RangeError);
      await assert.rejects(fail(store, 'k', T0, { threshold: 1.5 }), RangeError);
      await assert.rejects(fail(store, 'k', T0, { windowMs: -1 }), RangeError);
      await assert.rejects(fail(store, 'k', T0, { blockMs: Number.NaN }), RangeError);
      await assert.rejects(fail(store, 'k', Number.NaN), RangeError);
      assert.deepEqual(await fail(store, 'k', T0), { count: 1, blockedUntil: null }, 'nothing was counted');
    }),
  );

  test(
    'login failures: 50 concurrent failures of one key all count',
    withStore(async (store) => {
      const records = await Promise.all(
        Array.from({ length: 50 }, (_, i) => fail(store, 'ip:192.0.2.1', T0 + i, { threshold: 100 })),
      );
      assert.deepEqual(
        records.map((r) => r.count).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(await fail(store, 'ip:192.0.2.1', T0 + 50, { threshold: 51 }), {
        count: 51,
        blockedUntil: new Date(T0 + 50 + BLOCK),
      });
    }),
  );

  test(
    'accounts, aliases and login failures reject with StoreClosedError after close()',
    withStore(async (store) => {
      await store.createAccount('alice@example.com', PHC);
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['setPassword', () => store.setPassword('alice@example.com', PHC2, null)],
        ['setDisabled', () => store.setDisabled('alice@example.com', true)],
        ['addAlias', () => store.addAlias('postmaster@example.com', 'alice@example.com')],
        ['removeAlias', () => store.removeAlias('postmaster@example.com')],
        ['listAliases', () => store.listAliases()],
        ['resolveAddress', () => store.resolveAddress('alice@example.com')],
        ['recordLoginFailure', () => fail(store, 'ip:192.0.2.1', T0)],
        ['loginBlockedUntil', () => store.loginBlockedUntil('ip:192.0.2.1', new Date(T0))],
        ['clearLoginFailures', () => store.clearLoginFailures('ip:192.0.2.1')],
      ];
      for (const [method, call] of calls) await assert.rejects(call(), StoreClosedError, method);
    }),
  );
}
