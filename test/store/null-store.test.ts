import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { NullStore } from '../../src/store/null-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { type Account, InvalidKeywordError, StoreClosedError, StoreError } from '../../src/store/store.ts';
import { sampleDelivery } from './contract.ts';
import { runDkimStoreContract } from './dkim-contract.ts';

const bob: Account = {
  id: 7,
  address: 'bob@example.com',
  passwordHash: 'x',
  scram: null,
  disabled: false,
  createdAt: new Date(0),
};

test('NullStore answers account reads from its fixed list', async () => {
  const store = new NullStore([bob]);
  assert.deepEqual(await store.findAccount('bob@example.com'), bob);
  assert.equal(await store.findAccount('carol@example.com'), undefined);
  assert.deepEqual(await store.listAccounts(), [bob]);
  await assert.rejects(store.createAccount('carol@example.com', 'x'), StoreError);
});

test('NullStore discards deliveries: resolves at once, stores nothing', async () => {
  const store = new NullStore([bob]);
  const receipt = await store.deliver(sampleDelivery([bob]));
  assert.deepEqual(receipt.placements, [{ accountId: bob.id, mailboxId: 0, mailbox: 'INBOX', uid: 0 }]);
  assert.equal(store.discardedCount, 1);
  assert.equal(await store.getMailbox(bob.id, 'INBOX'), undefined);
  assert.equal(await store.readMessage(0, 0), undefined);
  await store.close();
  await assert.rejects(store.deliver(sampleDelivery([bob])), StoreClosedError);
});

test('NullStore discards Junk deliveries as it does INBOX ones, and refuses what the real stores refuse', async () => {
  const store = new NullStore([bob]);
  const junk = sampleDelivery([bob]);
  junk.recipients[0]!.mailbox = 'Junk';
  const receipt = await store.deliver({ ...junk, keywords: ['$Junk'] });
  assert.deepEqual(receipt.placements, [{ accountId: bob.id, mailboxId: 0, mailbox: 'Junk', uid: 0 }]);
  await assert.rejects(store.deliver({ ...junk, keywords: ['bad keyword'] }), InvalidKeywordError);
  assert.equal(store.discardedCount, 1);
  assert.deepEqual(await store.listMailboxes(bob.id), []);
  await store.close();
});

test('NullStore can read accounts from a wrapped store', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-'));
  const real = await openSqliteStore({ dataDir: dir });
  try {
    const carol = await real.createAccount('carol@example.com', 'x');
    const store = new NullStore({ readFrom: real });
    assert.deepEqual(await store.findAccount('carol@example.com'), carol);
    await store.deliver(sampleDelivery([carol]));
    assert.equal((await real.getMailbox(carol.id, 'INBOX'))?.messageCount, 0, 'nothing reached the real store');
    await store.close();
  } finally {
    await real.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('NullStore resolves addresses from its account source, refuses account writes, counts failed logins in memory', async () => {
  const store = new NullStore([bob]);
  assert.deepEqual(await store.resolveAddress('bob@example.com'), bob);
  assert.equal(await store.resolveAddress('robert@example.com'), undefined);
  assert.deepEqual(await store.listAliases(), []);
  await assert.rejects(store.setPassword('bob@example.com', 'x', null), StoreError);
  await assert.rejects(store.setDisabled('bob@example.com', true), StoreError);
  await assert.rejects(store.addAlias('robert@example.com', 'bob@example.com'), StoreError);
  await assert.rejects(store.removeAlias('robert@example.com'), StoreError);
  const options = { now: new Date(1000), windowMs: 60_000, threshold: 2, blockMs: 5000 };
  assert.deepEqual(await store.recordLoginFailure('ip:192.0.2.1', options), { count: 1, blockedUntil: null });
  assert.deepEqual(await store.recordLoginFailure('ip:192.0.2.1', options), {
    count: 2,
    blockedUntil: new Date(6000),
  });
  assert.deepEqual(await store.loginBlockedUntil('ip:192.0.2.1', new Date(1000)), new Date(6000));
  await store.clearLoginFailures('ip:192.0.2.1');
  assert.equal(await store.loginBlockedUntil('ip:192.0.2.1', new Date(1000)), null);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-'));
  const real = await openSqliteStore({ dataDir: dir });
  try {
    const carol = await real.createAccount('carol@example.com', 'x');
    await real.addAlias('caroline@example.com', 'carol@example.com');
    const wrapped = new NullStore({ readFrom: real });
    assert.deepEqual(await wrapped.resolveAddress('caroline@example.com'), carol);
    assert.deepEqual(await wrapped.listAliases(), [{ alias: 'caroline@example.com', account: 'carol@example.com' }]);
  } finally {
    await real.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// DKIM keys live in memory: the same contract as the engines', for this process only.
runDkimStoreContract((fn) => async () => {
  const store = new NullStore([bob]);
  try {
    await fn(store);
  } finally {
    await store.close().catch(() => {});
  }
});

test('NullStore keeps no quarantine, so its retention sweep removes nothing; the limit is checked as the real stores check it', async () => {
  const store = new NullStore([bob]);
  assert.equal(await store.expireQuarantine(new Date(), 100), 0);
  await assert.rejects(store.expireQuarantine(new Date(), 0), RangeError);
  await store.close();
  await assert.rejects(store.expireQuarantine(new Date(), 100), StoreClosedError);
});
