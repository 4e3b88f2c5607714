import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { NullStore } from '../../src/store/null-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { type Account, StoreClosedError, StoreError } from '../../src/store/store.ts';
import { sampleDelivery } from './contract.ts';

const bob: Account = { id: 7, address: 'bob@example.com', passwordHash: 'x', createdAt: new Date(0) };

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
  assert.deepEqual(receipt.placements, [{ accountId: bob.id, mailboxId: 0, uid: 0 }]);
  assert.equal(store.discardedCount, 1);
  assert.equal(await store.getMailbox(bob.id, 'INBOX'), undefined);
  assert.equal(await store.readMessage(0, 0), undefined);
  await store.close();
  await assert.rejects(store.deliver(sampleDelivery([bob])), StoreClosedError);
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
