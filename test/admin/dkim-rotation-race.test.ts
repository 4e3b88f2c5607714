// DKIM rotation racing other writers (src/admin/dkim-rotation.ts, the dkim-keys store modules): a
// pass reads every key, then waits on DNS for each pending one; what it read may be stale by the
// time it switches. Held back here by a resolver whose first TXT answer waits until released, on
// SQLite and on PostgreSQL (two stores as two nodes on one database).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDkimKey, removeDkimKey } from '../../src/admin/dkim-keys.ts';
import { advanceRotation, rotateDkimKey } from '../../src/admin/dkim-rotation.ts';
import { configSchema } from '../../src/config/schema.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import type { TestDnsServer } from '../../src/dns/test-server.ts';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { DkimKey, Store } from '../../src/store/store.ts';
import { gatedResolver, publishKeys, startDkimZone } from '../support/dkim-zone.ts';
import { withTestDatabase } from '../support/postgres.ts';

const config = configSchema.parse({ domains: ['example.com'], dkim: { retireAfterDays: 7 } });
const T0 = new Date('2025-03-01T12:00:00Z');
const hours = (n: number) => new Date(T0.getTime() + n * 3_600_000);

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  ({ dns, resolver } = await startDkimZone());
});
after(() => dns.close());

const publish = (keys: DkimKey[]) => publishKeys(dns, keys);

const gated = () => gatedResolver(resolver);

const states = async (store: Store) => (await store.listDkimKeys()).map((k) => [k.selector, k.state]);

/** `a` and `b` are two nodes' stores on one database (the same store for SQLite's one writer). */
async function removedDuringTheWait(a: Store, b: Store): Promise<void> {
  const { key: k1 } = await createDkimKey(a, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'k1' });
  const { key: k2 } = await rotateDkimKey(a, 'example.com', T0, { selector: 'k2' });
  publish([k1, k2]);
  const slow = gated();
  const pass = advanceRotation(b, slow.resolver, config, hours(1));
  await slow.entered;
  // `postern dkim remove` of the pending key while the pass waits on DNS for it.
  await removeDkimKey(a, { domain: 'example.com', selector: 'k2', force: false });
  slow.release();
  assert.deepEqual(await pass, [], 'nothing activated, nothing logged as activated');
  assert.deepEqual(await states(a), [['k1', 'active']], 'the domain keeps its signing key');
}

async function staleSecondPass(a: Store, b: Store): Promise<void> {
  const { key: r1 } = await createDkimKey(a, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'r1' });
  const { key: r2 } = await rotateDkimKey(a, 'example.com', T0, { selector: 'r2' });
  publish([r1, r2]);
  const slow = gated();
  const pass = advanceRotation(b, slow.resolver, config, hours(1)); // its snapshot: r2 pending
  await slow.entered;
  // Meanwhile node A switches to r2, and an admin rotates again to r3, which A switches to as well.
  const first = await advanceRotation(a, resolver, config, hours(1));
  assert.deepEqual(
    first.map((e) => [e.event, e.selector]),
    [['activated', 'r2']],
  );
  const { key: r3 } = await rotateDkimKey(a, 'example.com', hours(2), { selector: 'r3' });
  publish([r1, r2, r3]);
  const second = await advanceRotation(a, resolver, config, hours(3));
  assert.deepEqual(
    second.map((e) => [e.event, e.selector, e.event === 'activated' ? e.retiring : []]),
    [['activated', 'r3', ['r2']]],
  );
  slow.release();
  assert.deepEqual(await pass, [], 'the stale pass brings nothing back and retires nothing');
  assert.deepEqual(await states(a), [
    ['r1', 'retiring'],
    ['r2', 'retiring'],
    ['r3', 'active'],
  ]);
}

async function withSqlite(work: (store: Store) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-dkim-race-'));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  try {
    await work(store);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function withPostgres(work: (a: Store, b: Store) => Promise<void>): Promise<void> {
  await withTestDatabase(async ({ url }) => {
    const a = await openPostgresStore({ url, applicationName: 'node-a' });
    const b = await openPostgresStore({ url, applicationName: 'node-b' });
    try {
      await work(a, b);
    } finally {
      await a.close();
      await b.close();
    }
  });
}

test('SQLite: a pending key removed while a pass waits on DNS is not activated; the old key keeps signing', () =>
  withSqlite((store) => removedDuringTheWait(store, store)));

test('SQLite: a stale pass does not re-activate a retiring key over the newer active one', () =>
  withSqlite((store) => staleSecondPass(store, store)));

test('PostgreSQL: a pending key removed while another node waits on DNS is not activated', () =>
  withPostgres(removedDuringTheWait));

test("PostgreSQL: a slow node's stale pass does not re-activate a retiring key over the newer active one", () =>
  withPostgres(staleSecondPass));

test('PostgreSQL: passes of two nodes at once switch once, and the retire step is done once', () =>
  withPostgres(async (a, b) => {
    const { key: old } = await createDkimKey(a, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'o' });
    const { key: next } = await rotateDkimKey(a, 'example.com', T0, { selector: 'n' });
    publish([old, next]);
    const both = await Promise.all([
      advanceRotation(a, resolver, config, hours(1)),
      advanceRotation(b, resolver, config, hours(1)),
    ]);
    assert.deepEqual(
      both.flat().map((e) => [e.event, e.selector]),
      [['activated', 'n']],
    );
    const later = await Promise.all([
      advanceRotation(a, resolver, config, hours(1 + 8 * 24)),
      advanceRotation(b, resolver, config, hours(1 + 8 * 24)),
    ]);
    assert.deepEqual(
      later.flat().map((e) => [e.event, e.selector]),
      [['retired', 'o']],
    );
    assert.deepEqual(await states(b), [
      ['o', 'retired'],
      ['n', 'active'],
    ]);
  }));
