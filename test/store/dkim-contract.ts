/**
 * The DKIM-key part of the Store contract, run by runStoreContract (contract.ts) inside each engine's
 * suite: keys added and listed per domain, a taken selector refused, and the rotation states with
 * their times. The key material is opaque to the store: short stand-ins do.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DkimKeyExistsError, DkimKeyStateTakenError, type NewDkimKey, StoreError } from '../../src/store/store.ts';
import type { WithStore } from './policy-contract.ts';

const T0 = new Date('2025-03-01T12:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * 86_400_000);

export function newKey(domain: string, selector: string, fields: Partial<NewDkimKey> = {}): NewDkimKey {
  return {
    domain,
    selector,
    algorithm: 'rsa',
    bits: 2048,
    privateKey: `-----BEGIN PRIVATE KEY-----\n${selector}\n-----END PRIVATE KEY-----\n`,
    publicKey: `MIIB${selector}`,
    state: 'pending',
    createdAt: T0,
    ...fields,
  };
}

export function runDkimStoreContract(withStore: WithStore): void {
  test(
    'DKIM keys: added with every field, listed per domain and all, oldest first',
    withStore(async (store) => {
      assert.deepEqual(await store.listDkimKeys(), []);
      const first = await store.addDkimKey(newKey('example.com', 'postern-202503', { state: 'active' }));
      assert.deepEqual(first, {
        id: first.id,
        domain: 'example.com',
        selector: 'postern-202503',
        algorithm: 'rsa',
        bits: 2048,
        privateKey: '-----BEGIN PRIVATE KEY-----\npostern-202503\n-----END PRIVATE KEY-----\n',
        publicKey: 'MIIBpostern-202503',
        state: 'active',
        createdAt: T0,
        activatedAt: T0, // added active: signing since it was created
        retireAfter: null,
      });
      const other = await store.addDkimKey(
        newKey('example.org', 'ed', { algorithm: 'ed25519', bits: 256, createdAt: at(1) }),
      );
      assert.equal(other.activatedAt, null, 'a pending key has not signed yet');
      const second = await store.addDkimKey(newKey('example.com', 'postern-202504', { createdAt: at(2) }));
      // The same selector in another domain is another key.
      const third = await store.addDkimKey(newKey('example.org', 'postern-202503', { createdAt: at(3) }));
      assert.equal(new Set([first.id, other.id, second.id, third.id]).size, 4);
      assert.deepEqual(await store.listDkimKeys('example.com'), [first, second]);
      assert.deepEqual(await store.listDkimKeys('example.org'), [other, third]);
      assert.deepEqual(await store.listDkimKeys(), [first, other, second, third]);
      assert.deepEqual(await store.listDkimKeys('example.net'), []);
    }),
  );

  test(
    'DKIM keys: a taken (domain, selector) is refused with DkimKeyExistsError, keeping the first',
    withStore(async (store) => {
      const first = await store.addDkimKey(newKey('example.com', 'sel'));
      const again = store.addDkimKey(newKey('example.com', 'sel', { publicKey: 'other', state: 'active' }));
      await assert.rejects(again, DkimKeyExistsError);
      await assert.rejects(
        store.addDkimKey(newKey('example.com', 'sel')),
        (error: unknown) =>
          error instanceof StoreError &&
          error.code === 'DKIM_KEY_EXISTS' &&
          /example\.com already has a DKIM key with selector sel/.test(error.message),
      );
      assert.deepEqual(await store.listDkimKeys(), [first]);
    }),
  );

  test(
    'DKIM keys: a second pending or active key of one algorithm in one domain is refused, even when added at once',
    withStore(async (store) => {
      const pending = await store.addDkimKey(newKey('example.com', 'p1'));
      await assert.rejects(
        store.addDkimKey(newKey('example.com', 'p2')),
        (error: unknown) =>
          error instanceof DkimKeyStateTakenError &&
          error.code === 'DKIM_KEY_STATE_TAKEN' &&
          error.message === 'example.com has a pending rsa DKIM key already (p1): not adding p2 pending too',
      );
      // Another algorithm, another domain, the other state: each its own.
      await store.addDkimKey(newKey('example.com', 'e1', { algorithm: 'ed25519', bits: 256 }));
      await store.addDkimKey(newKey('example.org', 'p1'));
      const active = await store.addDkimKey(newKey('example.com', 'a1', { state: 'active' }));
      await assert.rejects(store.addDkimKey(newKey('example.com', 'a2', { state: 'active' })), DkimKeyStateTakenError);
      // Once the pending key has moved on, a new one may wait.
      assert.equal(await store.setDkimKeyState(pending.id, 'retired'), true);
      await store.addDkimKey(newKey('example.com', 'p3'));
      assert.deepEqual(
        (await store.listDkimKeys('example.com')).map((k) => k.selector),
        ['p1', 'e1', 'a1', 'p3'],
      );
      assert.equal(active.state, 'active');

      // Eight commands at once, as two admins' keygens racing: one key is stored, the others refused.
      const racing = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.addDkimKey(newKey('example.net', `race${i}`, { state: 'active' }))),
      );
      assert.equal(racing.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of racing) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof DkimKeyStateTakenError, String(r.reason));
      }
      assert.equal((await store.listDkimKeys('example.net')).length, 1);
    }),
  );

  test(
    'DKIM keys: pending → active → retiring → retired, with activatedAt and retireAfter',
    withStore(async (store) => {
      const old = await store.addDkimKey(newKey('example.com', 'old', { state: 'active' }));
      const next = await store.addDkimKey(newKey('example.com', 'new', { createdAt: at(1) }));
      // A rotation: the new key signs once its record is seen, the old one retires a week later.
      assert.equal(await store.setDkimKeyState(next.id, 'active', { now: at(2) }), true);
      assert.equal(await store.setDkimKeyState(old.id, 'retiring', { retireAfter: at(9), now: at(2) }), true);
      const [oldAfter, nextAfter] = await store.listDkimKeys('example.com');
      assert.deepEqual(nextAfter, { ...next, state: 'active', activatedAt: at(2), retireAfter: null });
      assert.deepEqual(oldAfter, { ...old, state: 'retiring', activatedAt: T0, retireAfter: at(9) });

      // Active again: activatedAt stays when it already was active, and is set when it becomes so.
      assert.equal(await store.setDkimKeyState(next.id, 'active', { now: at(5) }), true);
      assert.equal((await store.listDkimKeys('example.com'))[1]?.activatedAt?.getTime(), at(2).getTime());
      assert.equal(await store.setDkimKeyState(old.id, 'retired', { now: at(9) }), true);
      const retired = (await store.listDkimKeys('example.com'))[0];
      assert.deepEqual(retired, { ...old, state: 'retired', activatedAt: T0, retireAfter: at(9) });

      // Brought back (an admin undoing a rotation): it becomes active now and is no longer to be retired.
      assert.equal(await store.setDkimKeyState(old.id, 'active', { now: at(10) }), true);
      const revived = (await store.listDkimKeys('example.com'))[0];
      assert.deepEqual(revived, { ...old, state: 'active', activatedAt: at(10), retireAfter: null });

      // The store's clock when no `now` is given.
      const before = Date.now();
      const third = await store.addDkimKey({ ...newKey('example.com', 'third'), createdAt: undefined });
      assert.ok(third.createdAt.getTime() >= before - 1000 && third.createdAt.getTime() <= Date.now() + 1000);
      assert.equal(await store.setDkimKeyState(third.id, 'active'), true);
      const activated = (await store.listDkimKeys('example.com')).find((k) => k.id === third.id)?.activatedAt;
      assert.ok(activated && activated.getTime() >= before - 1000);
    }),
  );

  test(
    'DKIM keys: activateDkimKey switches a pending key and retires the ones it replaces at once; only a pending key',
    withStore(async (store) => {
      const old = await store.addDkimKey(newKey('example.com', 'old', { state: 'active' }));
      const ed = await store.addDkimKey(
        newKey('example.com', 'ed', { state: 'active', algorithm: 'ed25519', bits: 256 }),
      );
      const next = await store.addDkimKey(newKey('example.com', 'new', { createdAt: at(1) }));
      assert.deepEqual(await store.activateDkimKey(next.id, { now: at(2), retireAfter: at(9) }), ['old']);
      assert.deepEqual(await store.listDkimKeys('example.com'), [
        { ...old, state: 'retiring', retireAfter: at(9) },
        ed,
        { ...next, state: 'active', activatedAt: at(2), retireAfter: null },
      ]);
      const before = await store.listDkimKeys();
      // No longer pending (a stale pass), a retiring key, a key that is gone: nothing changes.
      assert.equal(await store.activateDkimKey(next.id, { now: at(3), retireAfter: at(10) }), undefined);
      assert.equal(await store.activateDkimKey(old.id, { now: at(3), retireAfter: at(10) }), undefined);
      assert.equal(await store.activateDkimKey(next.id + 1000, { now: at(3), retireAfter: at(10) }), undefined);
      assert.deepEqual(await store.listDkimKeys(), before);
      // `from`: the move happens only from that state.
      assert.equal(await store.setDkimKeyState(next.id, 'retired', { now: at(4), from: 'retiring' }), false);
      assert.equal(await store.setDkimKeyState(old.id, 'retired', { now: at(4), from: 'retiring' }), true);
      assert.equal(await store.setDkimKeyState(old.id, 'retired', { now: at(4), from: 'retiring' }), false);
      assert.deepEqual(
        (await store.listDkimKeys()).map((k) => [k.selector, k.state]),
        [
          ['old', 'retired'],
          ['ed', 'active'],
          ['new', 'active'],
        ],
      );
    }),
  );

  test(
    'DKIM keys: setDkimKeyState on a key that does not exist is false and changes nothing',
    withStore(async (store) => {
      const key = await store.addDkimKey(newKey('example.com', 'sel'));
      assert.equal(await store.setDkimKeyState(key.id + 1000, 'active', { now: at(1) }), false);
      assert.deepEqual(await store.listDkimKeys(), [key]);
    }),
  );

  test(
    'DKIM keys: removeDkimKey deletes one key and frees its selector; a key that does not exist is false',
    withStore(async (store) => {
      const kept = await store.addDkimKey(newKey('example.com', 'kept', { state: 'active' }));
      const typo = await store.addDkimKey(newKey('example.com', 'tpyo', { createdAt: at(1) }));
      assert.equal(await store.removeDkimKey(typo.id), true);
      assert.deepEqual(await store.listDkimKeys(), [kept]);
      assert.equal(await store.removeDkimKey(typo.id), false, 'already gone');
      assert.deepEqual(await store.listDkimKeys(), [kept]);
      const again = await store.addDkimKey(newKey('example.com', 'tpyo', { createdAt: at(2) }));
      assert.notEqual(again.id, kept.id);
      assert.deepEqual(
        (await store.listDkimKeys('example.com')).map((k) => k.selector),
        ['kept', 'tpyo'],
        'the selector can be used again',
      );
    }),
  );
}
