// DKIM key lifecycle edges (src/admin/dkim-rotation.ts, dns-check/dkim.ts) against the loopback DNS
// server: a new key stored under a removed key's id (SQLite reuses it) waits its own 10 minutes, a
// record cut at its first string is called truncated, and a pass that loses the switch to another
// process says so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDkimKey, dkimRecord, removeDkimKey } from '../../src/admin/dkim-keys.ts';
import {
  advanceRotation,
  advanceRotationReport,
  recordStatus,
  rotateDkimKey,
  type SettleState,
} from '../../src/admin/dkim-rotation.ts';
import { checkDkim } from '../../src/admin/dns-check/dkim.ts';
import { configSchema } from '../../src/config/schema.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import type { TestDnsServer } from '../../src/dns/test-server.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { DkimKey, Store } from '../../src/store/store.ts';
import { gatedResolver, publishKeys, startDkimZone } from '../support/dkim-zone.ts';

const config = configSchema.parse({ domains: ['example.com'], dkim: { retireAfterDays: 7 } });
const T0 = new Date('2025-03-01T12:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  ({ dns, resolver } = await startDkimZone());
});
after(() => dns.close());

const publish = (keys: DkimKey[]) => publishKeys(dns, keys);

async function withSqlite(t: { after(fn: () => unknown): void }): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-dkim-life-'));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const problems = (events: Awaited<ReturnType<typeof advanceRotation>>) =>
  events.map((e) => `${e.selector} ${e.event === 'waiting' ? e.problem : e.event}`);

test('serve: a key stored under a removed pending key id does not inherit its first sighting', async (t) => {
  const store = await withSqlite(t);
  const { key: k1 } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'k1' });
  const { key: k2 } = await rotateDkimKey(store, 'example.com', T0, { selector: 'k2' });
  const settle: SettleState = { firstSeen: new Map(), minMs: 600_000 };
  publish([k1, k2]);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, minutes(0), settle)), ['k2 settling']);
  await removeDkimKey(store, { domain: 'example.com', selector: 'k2', force: false });
  const { key: k3 } = await rotateDkimKey(store, 'example.com', minutes(1), { selector: 'k3' });
  assert.equal(k3.id, k2.id, 'SQLite gives the removed key id to the next key: the case at hand');
  publish([k1, k3]);
  // k2 was first seen 11 minutes ago, k3 now: k3 waits its own interval.
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, minutes(11), settle)), ['k3 settling']);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, minutes(21), settle)), ['k3 activated']);
  assert.equal(settle.firstSeen.size, 0, 'an activated key is forgotten');
});

test('serve: keys no longer pending are dropped from the settle state', async () => {
  const store = new NullStore([]);
  const { key: k1 } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'k1' });
  const { key: k2 } = await rotateDkimKey(store, 'example.com', T0, { selector: 'k2' });
  const settle: SettleState = { firstSeen: new Map(), minMs: 600_000 };
  publish([k1, k2]);
  await advanceRotation(store, resolver, config, minutes(0), settle);
  assert.equal(settle.firstSeen.size, 1);
  await removeDkimKey(store, { domain: 'example.com', selector: 'k2', force: false });
  assert.deepEqual(await advanceRotation(store, resolver, config, minutes(5), settle), []);
  assert.equal(settle.firstSeen.size, 0, 'the removed key is forgotten');
});

test('a record cut at a string end is called truncated, not a paste of quotes, by rotation and dns check', async () => {
  for (const [algorithm, bits] of [
    ['rsa', 2048],
    ['rsa', 4096],
    ['ed25519', 256],
  ] as const) {
    const store = new NullStore([]);
    const { key: old } = await createDkimKey(store, { domain: 'example.com', algorithm, bits, now: T0, selector: 'o' });
    const { key } = await rotateDkimKey(store, 'example.com', T0, { selector: 'n' });
    const { name, value, strings } = dkimRecord(key);
    const cuts: [string, string][] = [
      [`only the first string`, strings[0]!],
      [`the first ${strings.length - 1} strings`, strings.slice(0, -1).join('')],
      ['p= at a base64 length', value.slice(0, value.indexOf('p=') + 2 + 200)],
      ['a few characters lost', value.slice(0, -3)],
    ];
    for (const [label, text] of cuts) {
      if (text === value || text === '') continue; // a key that fits one string has no cut at a string end
      const what = `${algorithm} ${bits}: ${label}`;
      dns.setZone({ records: { [dkimRecord(old).name]: { TXT: [dkimRecord(old).value] }, [name]: { TXT: [text] } } });
      const status = await recordStatus(resolver, key);
      assert.equal(status.status, 'invalid-key', what);
      assert.match(status.detail ?? '', /the record looks truncated: .*publish every string of the zone line/, what);
      assert.doesNotMatch(status.detail ?? '', /not base64|quotes/, what);
      const check = (await checkDkim({ domain: 'example.com', store, resolver } as never)).find(
        (c) => c.id === 'dkim.record' && c.subject === 'n',
      );
      assert.equal(check?.status, 'fail', what);
      assert.match(check?.summary ?? '', /looks truncated/, what);
    }
    // Stray characters keep their own words; another whole key stays another key.
    const pasted = `${strings[0]}" "${strings.slice(1).join('')}`;
    const other = await createDkimKey(new NullStore([]), { domain: 'example.com', algorithm, bits, now: T0 });
    for (const [text, words] of [
      [`${value.slice(0, -10)}"${value.slice(-10)}`, /not base64.*quotes/],
      ...(strings.length > 1 ? [[pasted, /not base64.*quotes/] as const] : []),
      [dkimRecord({ ...key, publicKey: other.key.publicKey }).value, /publishes a different public key/],
    ] as const) {
      dns.setZone({ records: { [dkimRecord(old).name]: { TXT: [dkimRecord(old).value] }, [name]: { TXT: [text] } } });
      assert.match((await recordStatus(resolver, key)).detail ?? '', words, `${algorithm} ${bits}: ${text.slice(-20)}`);
    }
  }
});

const gated = () => gatedResolver(resolver);

test('rotate --advance: a pass that loses the switch to another process says the key was activated meanwhile', async (t) => {
  const store = await withSqlite(t);
  const { key: k1 } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0, selector: 'k1' });
  const { key: k2 } = await rotateDkimKey(store, 'example.com', T0, { selector: 'k2' });
  publish([k1, k2]);
  const slow = gated();
  const loser = advanceRotationReport(store, slow.resolver, config, minutes(60));
  await slow.entered;
  // Another node (or another CLI) switches first, while this one waits on DNS.
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, minutes(60))), ['k2 activated']);
  slow.release();
  assert.deepEqual(await loser, {
    events: [],
    meanwhile: [{ domain: 'example.com', selector: 'k2', state: 'active' }],
  });
  // A pending key removed while the pass waits is said to be gone, not left unmentioned.
  const { key: k3 } = await rotateDkimKey(store, 'example.com', minutes(70), { selector: 'k3' });
  publish([k2, k3]);
  const late = gated();
  const report = advanceRotationReport(store, late.resolver, config, minutes(80));
  await late.entered;
  await removeDkimKey(store, { domain: 'example.com', selector: 'k3', force: false });
  late.release();
  assert.deepEqual((await report).meanwhile, [{ domain: 'example.com', selector: 'k3', state: 'removed' }]);
});
