import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AccountCache } from '../../src/accounts/account-cache.ts';
import type { Account } from '../../src/store/store.ts';

const alice: Account = {
  id: 1,
  address: 'alice@example.com',
  passwordHash: 'x',
  scram: null,
  disabled: false,
  createdAt: new Date(0),
};

function counting(accounts: Account[]) {
  let reads = 0;
  const find = async (address: string) => {
    reads++;
    return accounts.find((a) => a.address === address);
  };
  return { find, reads: () => reads };
}

test('a found account is answered synchronously from the cache until the TTL passes', async () => {
  const store = counting([alice]);
  const cache = new AccountCache(store.find, { ttlMs: 50, maxEntries: 10 });
  const first = cache.findAccount('alice@example.com');
  assert.ok(first instanceof Promise, 'first look-up reads the store');
  assert.equal(await first, alice);
  assert.equal(cache.findAccount('alice@example.com'), alice, 'then synchronous');
  assert.equal(store.reads(), 1);
  await sleep(70);
  assert.ok(cache.findAccount('alice@example.com') instanceof Promise, 'expired: read again');
});

test('a missing account is never cached, so a new account receives mail at once', async () => {
  const accounts: Account[] = [];
  const store = counting(accounts);
  const cache = new AccountCache(store.find, { ttlMs: 10_000, maxEntries: 10 });
  assert.equal(await cache.findAccount('alice@example.com'), undefined);
  accounts.push(alice);
  assert.equal(await cache.findAccount('alice@example.com'), alice);
  assert.equal(store.reads(), 2);
});

test('the cache stays within maxEntries', async () => {
  const many = Array.from({ length: 5 }, (_, i) => ({ ...alice, id: i, address: `u${i}@example.com` }));
  const store = counting(many);
  const cache = new AccountCache(store.find, { ttlMs: 10_000, maxEntries: 2 });
  for (const a of many) await cache.findAccount(a.address);
  const cached = many.filter((a) => !(cache.findAccount(a.address) instanceof Promise));
  assert.ok(cached.length <= 2, `${cached.length} cached`);
  // The last one looked up stays: a cache that kept nothing would pass the bound alone.
  assert.ok(
    cached.some((a) => a.address === 'u4@example.com'),
    'the newest entry is cached',
  );
});
