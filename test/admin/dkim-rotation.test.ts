// DKIM key rotation (src/admin/dkim-rotation.ts) against the loopback DNS server: the new key waits
// until DNS serves its record with the same key, then signs, and the old one retires
// config.dkim.retireAfterDays later. The zone changes mid-test as an admin's edits would.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createDkimKey, DkimKeyError, dkimRecord } from '../../src/admin/dkim-keys.ts';
import {
  advanceRotation,
  publishedStatus,
  type RotationEvent,
  rotateDkimKey,
  startRotationTimer,
} from '../../src/admin/dkim-rotation.ts';
import { checkDkim } from '../../src/admin/dns-check/dkim.ts';
import { configSchema } from '../../src/config/schema.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestRecords } from '../../src/dns/test-server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { DkimKey, Store } from '../../src/store/store.ts';
import { waitFor } from '../support/wait.ts';

const config = configSchema.parse({ domains: ['example.com'], dkim: { retireAfterDays: 7 } });
const T0 = new Date('2025-03-01T12:00:00Z');
const hours = (n: number) => new Date(T0.getTime() + n * 3_600_000);
const DAY = 24;

let dns: TestDnsServer;
let resolver: ReturnType<typeof createResolver>;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

/** The zone serving these keys' records, as an admin pastes them: the strings we print. */
function publish(keys: DkimKey[], extra: Record<string, TestRecords> = {}, more: { servfail?: string[] } = {}): void {
  const records: Record<string, TestRecords> = { ...extra };
  for (const key of keys) records[dkimRecord(key).name] = { TXT: [dkimRecord(key).strings] };
  dns.setZone({ records, ...more });
}

const states = async (store: Store) =>
  (await store.listDkimKeys()).map((k) => [
    k.selector,
    k.state,
    k.activatedAt?.toISOString() ?? null,
    k.retireAfter?.toISOString() ?? null,
  ]);

test('a rotation on SQLite: pending until DNS serves the same key, then active; the old key retires 7 days on', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-dkim-'));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { key: first } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  publish([first]);
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(1)), [], 'nothing pending, nothing retiring');

  const { key: next, replaces } = await rotateDkimKey(store, 'example.com', hours(2));
  assert.equal(next.selector, 'postern-202503-2');
  assert.equal(next.state, 'pending');
  assert.equal(next.algorithm, 'rsa');
  assert.equal(next.bits, first.bits, 'the size of the key it replaces');
  assert.deepEqual(
    replaces.map((k) => k.id),
    [first.id],
  );
  const waiting = (problem: string): RotationEvent[] => [
    { event: 'waiting', domain: 'example.com', selector: next.selector, problem } as RotationEvent,
  ];

  // Not published yet; then published with another key (an old paste); then DNS fails.
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(3)), waiting('no-record'));
  const stale = { ...next, publicKey: first.publicKey };
  publish([first, stale]);
  const otherKey = `${dkimRecord(next).name} publishes a different public key than the stored ${next.selector}: signatures will fail`;
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(4)), [
    { ...waiting('different-key')[0], detail: otherKey } as RotationEvent,
  ]);
  publish([first], {}, { servfail: [dkimRecord(next).name] });
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(5)), waiting('temperror'));
  assert.deepEqual(await states(store), [
    [first.selector, 'active', T0.toISOString(), null],
    [next.selector, 'pending', null, null],
  ]);

  // The admin publishes the record: the new key signs from now, the old one retires a week later.
  publish([first, next]);
  const retireAfter = hours(6 + 7 * DAY);
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(6)), [
    {
      event: 'activated',
      domain: 'example.com',
      selector: next.selector,
      retiring: [first.selector],
      retireAfter,
    },
  ]);
  assert.deepEqual(await states(store), [
    [first.selector, 'retiring', T0.toISOString(), retireAfter.toISOString()],
    [next.selector, 'active', hours(6).toISOString(), null],
  ]);
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(6 + 7 * DAY - 1)), [], 'not yet');
  assert.deepEqual(await advanceRotation(store, resolver, config, retireAfter), [
    { event: 'retired', domain: 'example.com', selector: first.selector },
  ]);
  assert.deepEqual(await states(store), [
    [first.selector, 'retired', T0.toISOString(), retireAfter.toISOString()],
    [next.selector, 'active', hours(6).toISOString(), null],
  ]);
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(30 * DAY)), [], 'retired stays retired');
});

test('the record must carry the key type too: an RSA key published as k=ed25519 is another key', async () => {
  const store = new NullStore([]);
  const { key } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  const name = dkimRecord(key).name;
  const serve = (...txt: string[]) => dns.setZone({ records: { [name]: { TXT: txt } } });
  serve(`v=DKIM1; k=ed25519; p=${key.publicKey}`);
  assert.equal(await publishedStatus(resolver, key), 'different-key');
  serve(`p=${key.publicKey}`); // k= defaults to rsa, v= is optional (RFC 6376 §3.6.1)
  assert.equal(await publishedStatus(resolver, key), 'published');
  // RFC 6376 §3.6.2.2: with several TXT records, which one a verifier reads is undefined (ours reads the first).
  serve(`v=spf1 -all`, `p=${key.publicKey}`);
  assert.equal(await publishedStatus(resolver, key), 'different-key');
  serve(`v=DKIM1; k=RSA; p=${key.publicKey}`); // RFC 5234 §2.3: literals match in any case
  assert.equal(await publishedStatus(resolver, key), 'published');
  // The zone-file form's quoted strings pasted as they are: no verifier takes that p=, so say so.
  serve(`v=DKIM1; k=rsa; p=${key.publicKey.slice(0, 200)}" "${key.publicKey.slice(200)}`);
  assert.equal(await publishedStatus(resolver, key), 'invalid-key');
  serve(`v=DKIM2; p=${key.publicKey}`, 'unrelated text');
  assert.equal(await publishedStatus(resolver, key), 'no-record');
  dns.setZone({ records: {} });
  assert.equal(await publishedStatus(resolver, key), 'no-record');
});

test('a record verifiers refuse for sha256 signatures does not activate the key, though its p= is the key (RFC 6376 §3.6.1)', async () => {
  for (const algorithm of ['rsa', 'ed25519'] as const) {
    const store = new NullStore([]);
    const { key: old } = await createDkimKey(store, { domain: 'example.com', algorithm, now: T0 });
    await store.setDkimKeyState(old.id, 'active', { now: T0 });
    const { key } = await rotateDkimKey(store, 'example.com', hours(1));
    const name = dkimRecord(key).name;
    const record = dkimRecord(key).value;
    const serve = (text: string) =>
      dns.setZone({ records: { [dkimRecord(old).name]: { TXT: [dkimRecord(old).value] }, [name]: { TXT: [text] } } });
    for (const [tag, why] of [
      ['h=sha1', /h=sha1 does not allow sha256/],
      ['s=tlsrpt', /s=tlsrpt does not allow email/],
    ] as const) {
      serve(record.replace('v=DKIM1; ', `v=DKIM1; ${tag}; `));
      assert.equal(await publishedStatus(resolver, key), 'different-key', `${algorithm} ${tag}`);
      const events = await advanceRotation(store, resolver, config, hours(2));
      assert.equal(events.length, 1, JSON.stringify(events));
      const [waiting] = events as Extract<RotationEvent, { event: 'waiting' }>[];
      assert.equal(waiting?.event, 'waiting', `${algorithm} ${tag}: ${JSON.stringify(events)}`);
      assert.match(waiting?.detail ?? '', why);
      assert.deepEqual(
        (await store.listDkimKeys()).map((k) => [k.selector, k.state]),
        [
          [old.selector, 'active'],
          [key.selector, 'pending'],
        ],
      );
    }
    // Upper case values are the same literals (RFC 5234 §2.3): h=SHA256 and s=EMAIL serve the key.
    serve(record.replace('v=DKIM1; ', 'v=DKIM1; h=SHA256; s=EMAIL; '));
    assert.equal(await publishedStatus(resolver, key), 'published', algorithm);
  }
});

test('rotation waits on every record postern dns check fails or warns of, with its words', async () => {
  for (const algorithm of ['rsa', 'ed25519'] as const) {
    const store = new NullStore([]);
    const { key: old } = await createDkimKey(store, { domain: 'example.com', algorithm, now: T0 });
    const { key } = await rotateDkimKey(store, 'example.com', hours(1));
    const { name, value } = dkimRecord(key);
    // RFC 8463 §4.2 wants the bare 32 bytes; some tools publish the key's SubjectPublicKeyInfo.
    const spki = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(key.publicKey, 'base64')]),
      format: 'der',
      type: 'spki',
    })
      .export({ type: 'spki', format: 'der' })
      .toString('base64');
    const variants: [string, string, RegExp][] = [
      ['t=y', value.replace('k=', 't=y; k='), /testing mode \(t=y\)/],
      ['v= not first', `k=${algorithm}; v=DKIM1; p=${key.publicKey}`, /v= must come first/],
      ['stray ";;"', value.replace('; k=', ';; k='), /not a valid tag=value list/],
      ['stray word', `${value}; junk`, /not a valid tag=value list/],
    ];
    if (algorithm === 'ed25519') {
      variants.push(['p= as SPKI', `v=DKIM1; k=ed25519; p=${spki}`, /SubjectPublicKeyInfo.*RFC 8463 §4\.2/]);
    }
    for (const [label, text, words] of variants) {
      dns.setZone({ records: { [dkimRecord(old).name]: { TXT: [dkimRecord(old).value] }, [name]: { TXT: [text] } } });
      const events = await advanceRotation(store, resolver, config, hours(2));
      const [waiting] = events as Extract<RotationEvent, { event: 'waiting' }>[];
      assert.equal(events.length, 1, `${algorithm} ${label}: ${JSON.stringify(events)}`);
      assert.equal(waiting?.event, 'waiting', `${algorithm} ${label}`);
      assert.equal(waiting?.problem, 'different-key', `${algorithm} ${label}`);
      assert.match(waiting?.detail ?? '', words, `${algorithm} ${label}`);
      const check = (await checkDkim({ domain: 'example.com', store, resolver } as never)).find(
        (c) => c.id === 'dkim.record' && c.subject === key.selector,
      );
      assert.notEqual(check?.status, 'pass', `${algorithm} ${label}: dns check agrees`);
      assert.ok(check?.summary.includes(waiting?.detail ?? '-'), `${algorithm} ${label}: the same words`);
    }
    // As printed, and as t=s (RFC 6376 §3.6.1: no subdomains, no harm): served.
    for (const text of [value, value.replace('k=', 't=s; k=')]) {
      dns.setZone({ records: { [dkimRecord(old).name]: { TXT: [dkimRecord(old).value] }, [name]: { TXT: [text] } } });
      assert.equal(await publishedStatus(resolver, key), 'published', `${algorithm} ${text.slice(0, 30)}`);
    }
  }
});

test('RSA and Ed25519 keys side by side: each replaces only its own algorithm', async () => {
  const store = new NullStore([]);
  const { key: rsa } = await createDkimKey(store, {
    domain: 'example.com',
    selector: 'rsa1',
    algorithm: 'rsa',
    now: T0,
  });
  const { key: ed } = await createDkimKey(store, {
    domain: 'example.com',
    selector: 'ed1',
    algorithm: 'ed25519',
    now: T0,
  });
  assert.equal(ed.state, 'pending', 'the domain already signs');
  publish([rsa, ed]);
  assert.deepEqual(await advanceRotation(store, resolver, config, hours(1)), [
    { event: 'activated', domain: 'example.com', selector: 'ed1', retiring: [], retireAfter: hours(1 + 7 * DAY) },
  ]);
  await assert.rejects(
    rotateDkimKey(store, 'example.com', hours(2)),
    (e: unknown) =>
      e instanceof DkimKeyError && e.code === 'which-algorithm' && /--algo rsa or --algo ed25519/.test(e.message),
  );
  const { key: ed2, replaces } = await rotateDkimKey(store, 'example.com', hours(2), {
    algorithm: 'ed25519',
    selector: 'ed2',
  });
  assert.equal(ed2.bits, 256);
  assert.deepEqual(
    replaces.map((k) => k.selector),
    ['ed1'],
  );
  await assert.rejects(
    rotateDkimKey(store, 'example.com', hours(3), { algorithm: 'ed25519' }),
    (e: unknown) =>
      e instanceof DkimKeyError &&
      e.code === 'rotation-under-way' &&
      /ed2 waits for its DNS record ed2\._domainkey\.example\.com/.test(e.message),
  );
  publish([rsa, ed, ed2]);
  const events = await advanceRotation(store, resolver, config, hours(4));
  assert.deepEqual(events, [
    { event: 'activated', domain: 'example.com', selector: 'ed2', retiring: ['ed1'], retireAfter: hours(4 + 7 * DAY) },
  ]);
  assert.deepEqual(
    (await store.listDkimKeys()).map((k) => [k.selector, k.state]),
    [
      ['rsa1', 'active'],
      ['ed1', 'retiring'],
      ['ed2', 'active'],
    ],
  );
  assert.ok(!JSON.stringify(events).includes('PRIVATE'), 'events carry no key material');
});

test('rotate refuses a domain with nothing to rotate, and a bad selector', async () => {
  const store = new NullStore([]);
  await assert.rejects(
    rotateDkimKey(store, 'example.com', T0),
    (e: unknown) =>
      e instanceof DkimKeyError &&
      e.code === 'nothing-to-rotate' &&
      /postern dkim keygen --domain example\.com/.test(e.message),
  );
  await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  await assert.rejects(
    rotateDkimKey(store, 'example.com', T0, { algorithm: 'ed25519' }),
    (e: unknown) => e instanceof DkimKeyError && e.code === 'nothing-to-rotate' && /--algo ed25519/.test(e.message),
  );
  await assert.rejects(
    rotateDkimKey(store, 'example.com', T0, { selector: 'bad selector' }),
    (e: unknown) => e instanceof DkimKeyError && e.code === 'bad-selector',
  );
  const { key } = await rotateDkimKey(store, 'example.com', T0, { selector: 'Next', bits: 3072 });
  assert.deepEqual([key.selector, key.bits], ['next', 3072]);
});

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

test('serve: the timer checks at start and then periodically, logs what changed, and stops cleanly', async () => {
  const store = new NullStore([]);
  const { key: first } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  const { key: next } = await rotateDkimKey(store, 'example.com', T0);
  dns.setZone({ records: {} });
  const { logger, lines } = capturedLogger();
  const timer = startRotationTimer({ store, resolver, config, logger, intervalMs: 50 });
  try {
    await waitFor(() => lines.some((l) => l.msg === 'dkim: a new key waits for DNS'));
    publish([first, next]);
    await waitFor(() =>
      lines.some((l) => l.msg === `dkim: ${next.selector} of example.com is in DNS and now the key to sign with`),
    );
  } finally {
    await timer.stop();
  }
  const activated = lines.find((l) => l.selector === next.selector && l.retiring);
  assert.deepEqual(activated?.retiring, [first.selector]);
  assert.ok(
    lines.some((l) => l.selector === next.selector && l.problem === 'settling'),
    'served at one pass, it signs at a later one',
  );
  assert.ok(!JSON.stringify(lines).includes('PRIVATE KEY'), 'no key material in the log');
  assert.equal((await store.listDkimKeys()).find((k) => k.id === next.id)?.state, 'active');
});

test('serve: a failed pass is logged, not thrown, and the timer goes on', async () => {
  let calls = 0;
  const failing = {
    async listDkimKeys() {
      calls++;
      throw new Error('store unavailable');
    },
  } as unknown as Store;
  const { logger, lines } = capturedLogger();
  const timer = startRotationTimer({ store: failing, resolver, config, logger, intervalMs: 20 });
  await waitFor(() => calls >= 2);
  await timer.stop();
  const stoppedAt = calls;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(calls, stoppedAt, 'no pass after stop()');
  const error = lines.find((l) => l.level === 50);
  assert.equal(error?.msg, 'dkim: the key rotation check failed; next try in a while');
  assert.equal((error?.err as { message?: string })?.message, 'store unavailable');
});

test('with settle, a served record activates only once it has been served for minMs; gone again, the wait restarts', async () => {
  const store = new NullStore([]);
  const { key: first } = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  const { key: next } = await rotateDkimKey(store, 'example.com', T0);
  const settle = { firstSeen: new Map<string, number>(), minMs: 600_000 };
  const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
  const problems = (events: Awaited<ReturnType<typeof advanceRotation>>) =>
    events.map((e) => (e.event === 'waiting' ? e.problem : e.event));
  publish([first, next]);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(0), settle)), ['settling']);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(5), settle)), ['settling']);
  dns.setZone({ records: {} }); // a secondary without it answers: the wait starts over
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(8), settle)), ['no-record']);
  publish([first, next]);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(12), settle)), ['settling']);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(21), settle)), ['settling']);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(22), settle)), ['activated']);
  assert.equal((await store.listDkimKeys()).find((k) => k.id === next.id)?.state, 'active');
  // Without settle (dkim rotate --advance, the admin's own call) a served record activates at once.
  const { key: third } = await rotateDkimKey(store, 'example.com', at(30));
  publish([next, third]);
  assert.deepEqual(problems(await advanceRotation(store, resolver, config, at(31))), ['activated']);
});
