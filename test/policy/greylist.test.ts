import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { greylistNetwork, greylistSender, StoreGreylister } from '../../src/policy/greylist.ts';
import { DUNNO } from '../../src/policy/restriction.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.ts';
import type { GreylistRequest, GreylistResult } from '../../src/store/store.ts';

const networks: [address: string, network: string][] = [
  ['192.0.2.77', '192.0.2.0/24'],
  ['198.51.100.1', '198.51.100.0/24'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
  ['2001:DB8::1', '2001:db8::/64'],
  ['2001:db8:0:0:ffff::', '2001:db8::/64'],
  ['::1', '::/64'],
  ['::ffff:192.0.2.9', '192.0.2.0/24'], // IPv4-mapped, RFC 4291 §2.5.5.2
  ['::FFFF:c000:0209', '192.0.2.0/24'],
  ['fe80::1%eth0', 'fe80::1%eth0'], // zone-scoped: not an address we parse, its own network
  ['Not-An-Address', 'not-an-address'],
];
for (const [address, network] of networks) {
  test(`greylistNetwork(${address}) = ${network}`, () => assert.equal(greylistNetwork(address), network));
}

async function withSqlite(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-greylist-'));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  try {
    await fn(store);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('StoreGreylister on SQLite: defers a first attempt with 450 4.7.1, an early retry with the time left, then passes', () =>
  withSqlite(async (store) => {
    let now = Date.parse('2025-03-01T12:00:00Z');
    const greylister = new StoreGreylister(store, { delayMs: 300_000, now: () => new Date(now) });
    const first = await greylister.check({
      clientAddress: '192.0.2.10',
      sender: 'Alice@Example.org',
      recipient: 'Bob@example.com',
    });
    assert.deepEqual(first, {
      action: 'reject',
      reply: {
        code: 450,
        enhanced: '4.7.1',
        lines: ['<Bob@example.com>: Recipient address rejected: Greylisted for 300 seconds, please try again later'],
      },
      reason: 'first delivery attempt from 192.0.2.0/24 for alice@example.org -> bob@example.com',
    });
    now += 100_500;
    // The retry comes from another address of the sender's /24, in other letter cases: one triplet.
    const early = await greylister.check({
      clientAddress: '192.0.2.99',
      sender: 'alice@example.org',
      recipient: 'bob@EXAMPLE.com',
    });
    assert.equal(early.action, 'reject');
    assert.equal(early.action === 'reject' && early.reply.code, 450);
    assert.deepEqual(early.action === 'reject' && early.reply.lines, [
      '<bob@EXAMPLE.com>: Recipient address rejected: Greylisted for 200 seconds, please try again later',
    ]);
    assert.equal(
      early.action === 'reject' && early.reason,
      'retried from 192.0.2.0/24 for alice@example.org -> bob@example.com before the greylisting delay (200 s left)',
    );
    now += 199_500;
    assert.deepEqual(
      await greylister.check({
        clientAddress: '192.0.2.10',
        sender: 'alice@example.org',
        recipient: 'bob@example.com',
      }),
      DUNNO,
    );
    // Another /24 is another triplet.
    const elsewhere = await greylister.check({
      clientAddress: '192.0.3.10',
      sender: 'alice@example.org',
      recipient: 'bob@example.com',
    });
    assert.equal(elsewhere.action, 'reject');
  }));

test('StoreGreylister: the null sender is the empty string in the triplet and <> in the reason', () =>
  withSqlite(async (store) => {
    let now = Date.parse('2025-03-01T12:00:00Z');
    const greylister = new StoreGreylister(store, { delayMs: 60_000, now: () => new Date(now) });
    const bounce = { clientAddress: '2001:db8::25', sender: '', recipient: 'bob@example.com' };
    const first = await greylister.check(bounce);
    assert.equal(
      first.action === 'reject' && first.reason,
      'first delivery attempt from 2001:db8::/64 for <> -> bob@example.com',
    );
    now += 60_000;
    assert.deepEqual(await greylister.check({ ...bounce, clientAddress: '2001:db8::26' }), DUNNO);
  }));

test("StoreGreylister on SQLite: one message to five recipients, retried, does not exempt the sender's host", () =>
  withSqlite(async (store) => {
    let now = Date.parse('2025-03-01T12:00:00Z');
    const greylister = new StoreGreylister(store, { now: () => new Date(now) }); // autoPassAfter 5, as postgrey
    const recipients = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => `${name}@example.com`);
    const rcpt = (recipient: string, clientAddress = '192.0.2.40', sender = 'x@good.example') =>
      greylister.check({ clientAddress, sender, recipient });
    for (const recipient of recipients) assert.equal((await rcpt(recipient)).action, 'reject', recipient);
    now += 300_000;
    // The retry, and the same RCPTs again in that session: all pass, and count once.
    for (const recipient of [...recipients, ...recipients]) assert.deepEqual(await rcpt(recipient), DUNNO);
    const stranger = await rcpt('bob@example.com', '192.0.2.40', 'fresh@elsewhere.example');
    assert.equal(stranger.action === 'reject' && stranger.reply.code, 450, 'a new triplet is still greylisted');
    // Four more messages, an hour apart (postgrey's pace), each deferred and retried, list the host.
    for (const hour of [1, 2, 3, 4]) {
      now += 3_600_000 - 300_000;
      const sender = `news${hour}@good.example`;
      assert.equal((await rcpt('alice@example.com', '192.0.2.40', sender)).action, 'reject', `hour ${hour}`);
      now += 300_000;
      assert.deepEqual(await rcpt('alice@example.com', '192.0.2.40', sender), DUNNO, `hour ${hour}`);
    }
    assert.deepEqual(await rcpt('dave@example.com', '192.0.2.40', 'other@elsewhere.example'), DUNNO, 'listed now');
    assert.deepEqual(await rcpt('dave@example.com', '::ffff:192.0.2.40', 'more@elsewhere.example'), DUNNO, 'mapped');
  }));

test('StoreGreylister on SQLite: the pass-list lists the IPv4 host that proved it retries, not its /24; an IPv6 client is its /64', () =>
  withSqlite(async (store) => {
    let now = Date.parse('2025-03-01T12:00:00Z');
    const greylister = new StoreGreylister(store, { autoPassAfter: 2, now: () => new Date(now) });
    const rcpt = (clientAddress: string, sender: string) =>
      greylister.check({ clientAddress, sender, recipient: 'bob@example.com' });
    const list = async (first: string, second: string) => {
      for (const [address, sender] of [
        [first, 'a@good.example'],
        [second, 'b@good.example'],
      ] as const) {
        assert.equal((await rcpt(address, sender)).action, 'reject', `${address} ${sender} first attempt`);
        now += 300_000;
        assert.deepEqual(await rcpt(address, sender), DUNNO, `${address} ${sender} retried`);
        now += 3_600_000;
      }
    };
    // Two retried messages, an hour apart, list the host.
    await list('192.0.2.40', '192.0.2.40');
    assert.deepEqual(await rcpt('192.0.2.40', 'new@elsewhere.example'), DUNNO, 'the host is listed');
    // Its /24 neighbour (another customer of the same hosting network) is greylisted as before.
    const neighbour = await rcpt('192.0.2.41', 'spam@elsewhere.example');
    assert.equal(neighbour.action === 'reject' && neighbour.reply.code, 450, 'the /24 is not listed');
    // IPv6: a host picks any address of its /64 (RFC 6177 §2), so the /64 is the client.
    await list('2001:db8:1:2::10', '2001:db8:1:2::11');
    assert.deepEqual(await rcpt('2001:db8:1:2:ffff::1', 'new@elsewhere.example'), DUNNO, 'the /64 is listed');
    const otherSubnet = await rcpt('2001:db8:1:3::10', 'new@elsewhere.example');
    assert.equal(otherSubnet.action === 'reject' && otherSubnet.reply.code, 450, 'another /64 is not');
  }));

test('StoreGreylister asks the store with postgrey-like defaults and the lower-cased triplet key', async () => {
  const asked: GreylistRequest[] = [];
  const at = new Date('2025-03-01T12:00:00Z');
  const fake = {
    async greylist(request: GreylistRequest): Promise<GreylistResult> {
      asked.push(request);
      return { outcome: 'defer', learned: false }; // no retryInMs: the delay is assumed
    },
  };
  const verdict = await new StoreGreylister(fake, { now: () => at }).check({
    clientAddress: '::ffff:192.0.2.1',
    sender: '',
    recipient: 'Bob@Example.COM',
  });
  assert.deepEqual(asked, [
    {
      triplet: '192.0.2.0/24//bob@example.com',
      network: '192.0.2.1', // the pass-list's key: the IPv4 host (postgrey's auto-whitelist-clients)
      now: at,
      delayMs: 300_000,
      retryWindowMs: 86_400_000,
      expireMs: 35 * 86_400_000,
      autoPassAfter: 5,
      maxPending: 100_000,
    },
  ]);
  assert.match(verdict.action === 'reject' ? verdict.reply.lines[0]! : '', /Greylisted for 300 seconds/);
});

test('StoreGreylister refuses options that are not non-negative integers', () => {
  const fake = { greylist: async (): Promise<GreylistResult> => ({ outcome: 'pass', learned: false }) };
  assert.throws(() => new StoreGreylister(fake, { delayMs: -1 }), RangeError);
  assert.throws(() => new StoreGreylister(fake, { retryWindowMs: 1.5 }), RangeError);
  assert.throws(() => new StoreGreylister(fake, { expireMs: Number.NaN }), RangeError);
  assert.throws(() => new StoreGreylister(fake, { autoPassAfter: -2 }), RangeError);
});

test('triplets removed to keep to maxPendingTriplets are said in one warning, not one per decision', async () => {
  const requests: GreylistRequest[] = [];
  let trimmed: number | undefined = 2000;
  const store = {
    greylist: async (request: GreylistRequest): Promise<GreylistResult> => {
      requests.push(request);
      return { outcome: 'defer', retryInMs: 300_000, learned: false, ...(trimmed ? { trimmed } : {}) };
    },
  };
  const warnings: [Record<string, unknown>, string][] = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => warnings.push([fields, message]) };
  const g = new StoreGreylister(store, { maxPendingTriplets: 1234, logger: logger as never });
  const triplet = { clientAddress: '192.0.2.7', sender: 'a@example.org', recipient: 'bob@example.com' };
  await g.check(triplet);
  trimmed = 411;
  await g.check(triplet);
  trimmed = undefined;
  await g.check(triplet);
  assert.equal(requests[0]!.maxPending, 1234);
  assert.equal(warnings.length, 1, 'rate-limited');
  assert.deepEqual(warnings[0]![0], { removed: 2000, maxPendingTriplets: 1234 });
  assert.match(warnings[0]![1], /too many triplets waiting for a retry/);
  // 0: no bound, none asked of the store.
  await new StoreGreylister(store, { maxPendingTriplets: 0 }).check(triplet);
  assert.equal(requests.at(-1)!.maxPending, undefined);
  assert.equal((await new StoreGreylister(store).check(triplet)).action, 'reject');
  assert.equal(requests.at(-1)!.maxPending, 100_000, 'the default');
});

const senderKeys: [sender: string, key: string][] = [
  ['Alice@Example.org', 'alice@example.org'],
  ['', ''], // the null reverse-path
  ['postmaster', 'postmaster'],
  ['prvs=0123abcdef=Alice@Example.org', 'alice@example.org'], // BATV
  ['btv1==0123abcdef==alice@example.org', 'alice@example.org'],
  ['SRS0=HHH=TT=orig.example=alice@fwd.example', 'srs0=orig.example=alice@fwd.example'],
  ['SRS0+HHH=TT=orig.example=alice@fwd.example', 'srs0=orig.example=alice@fwd.example'],
  ['SRS1=HHH=fwd.example==HHH=TT=orig.example=alice@fwd2.example', 'srs1=fwd.example=orig.example=alice@fwd2.example'],
  ['SRS0=h=tt=example.org=prvs=0123abcdef=alice@fwd.example', 'srs0=example.org=alice@fwd.example'],
  ['bounce-12345-678@lists.example', 'bounce-#-#@lists.example'], // VERP
  ['list+bounce-1234@lists.example', 'list@lists.example'],
  ['news1@good.example', 'news1@good.example'], // a digit within a word is no VERP number
  ['"john doe"@example.com', '"john doe"@example.com'],
];
for (const [sender, key] of senderKeys) {
  test(`greylistSender(${JSON.stringify(sender)}) = ${JSON.stringify(key)}`, () =>
    assert.equal(greylistSender(sender), key));
}

// A sender that re-signs its address for each attempt (or each day) must find its first attempt's
// triplet when it retries, or it is deferred again and again (postgrey strips these tags too).
const retries: [form: string, first: string, retry: string][] = [
  ['BATV prvs', 'prvs=0123abcdef=alice@example.org', 'prvs=0124f00ba4=alice@example.org'],
  ['BATV btv1', 'btv1==0123abcdef==alice@example.org', 'btv1==0124f00ba4==alice@example.org'],
  ['SRS0', 'SRS0=HHH=TT=orig.example=alice@fwd.example', 'SRS0=KkK=TU=orig.example=alice@fwd.example'],
  ['SRS0+', 'SRS0+ab12=TT=orig.example=alice@fwd.example', 'SRS0+Zy/9=TU=orig.example=alice@fwd.example'],
  [
    'SRS1',
    'SRS1=HHH=fwd.example==HHH=TT=orig.example=alice@fwd2.example',
    'SRS1=JJJ=fwd.example==KKK=TU=orig.example=alice@fwd2.example',
  ],
  ['VERP', 'bounce-12345-678@lists.example', 'bounce-12345-679@lists.example'],
  ['+extension', 'list+bounce-1234@lists.example', 'list+bounce-1299@lists.example'],
];
for (const [form, first, retry] of retries) {
  test(`StoreGreylister on SQLite: a ${form} sender whose tag changed passes after the delay`, () =>
    withSqlite(async (store) => {
      let now = Date.parse('2025-03-01T23:58:00Z');
      const greylister = new StoreGreylister(store, { delayMs: 300_000, now: () => new Date(now) });
      const attempt = (sender: string) =>
        greylister.check({ clientAddress: '192.0.2.10', sender, recipient: 'bob@example.com' });
      assert.equal((await attempt(first)).action, 'reject');
      now += 600_000; // past the delay, and past midnight (a new BATV day code)
      assert.deepEqual(await attempt(retry), DUNNO);
    }));
}

test('StoreGreylister on SQLite: senders that differ in more than a tag are still separate triplets', () =>
  withSqlite(async (store) => {
    let now = Date.parse('2025-03-01T12:00:00Z');
    const greylister = new StoreGreylister(store, { delayMs: 300_000, autoPassAfter: 0, now: () => new Date(now) });
    const attempt = (sender: string) =>
      greylister.check({ clientAddress: '192.0.2.10', sender, recipient: 'bob@example.com' });
    const pairs: [string, string][] = [
      ['alice@example.org', 'bob@example.org'],
      ['news1@good.example', 'news2@good.example'],
      ['prvs=0123abcdef=frank@example.org', 'prvs=0123abcdef=carol@example.org'],
      ['SRS0=HHH=TT=orig.example=alice@fwd.example', 'SRS0=HHH=TT=orig.example=dave@fwd.example'],
      ['SRS0=HHH=TT=orig.example=erin@fwd.example', 'SRS0=HHH=TT=other.example=erin@fwd.example'],
      ['bounce-12345@lists.example', 'bounce-12345@other-lists.example'],
    ];
    for (const [one, other] of pairs) {
      assert.equal((await attempt(one)).action, 'reject', one);
      now += 300_000;
      assert.deepEqual(await attempt(one), DUNNO, `${one} retried`);
      assert.equal((await attempt(other)).action, 'reject', `${other} is not ${one}`);
    }
  }));
