/**
 * The part of the Store contract that restrictions use: shared counters and greylisting. Run by
 * runStoreContract (contract.ts) inside each engine's suite. Times are explicit `now` values.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GreylistRequest, GreylistResult, Store } from '../../src/store/store.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

export type WithStore = (fn: (store: Store) => Promise<void>) => () => Promise<void>;
/** `execute` writes a row as another connection (or an older Postern) would: SQL with `?` placeholders. */
type WithStoreAndSql = (
  fn: (store: Store, execute: (sql: string, values: unknown[]) => Promise<void>) => Promise<void>,
) => () => Promise<void>;

const T0 = Date.parse('2025-03-01T12:00:00Z');
const DELAY = 300_000;
const HOUR = 3_600_000;
const WINDOW = 24 * HOUR;
const EXPIRE = 35 * 86_400_000;
const NET = '192.0.2.0/24';

/** One greylisting decision at `at` for `sender -> bob@example.com` from `network`. */
function greylist(
  store: Store,
  at: number,
  sender: string,
  options: Partial<GreylistRequest> & { network?: string } = {},
): Promise<GreylistResult> {
  const network = options.network ?? NET;
  return store.greylist({
    triplet: `${network}/${sender}/bob@example.com`,
    network,
    now: new Date(at),
    delayMs: DELAY,
    retryWindowMs: WINDOW,
    expireMs: EXPIRE,
    autoPassAfter: 5,
    ...options,
  });
}

const defer = (retryInMs: number): GreylistResult => ({ outcome: 'defer', retryInMs, learned: false });
const PASS: GreylistResult = { outcome: 'pass', learned: false };
const LEARNED: GreylistResult = { outcome: 'pass', learned: true };

export function runPolicyStoreContract(withStore: WithStoreAndSql): void {
  test(
    'counters: adds deltas, creating each counter at 0, and reads them by prefix',
    withStore(async (store) => {
      assert.deepEqual(await store.readCounters('restriction:'), {});
      await store.addCounters({ 'restriction:recipient:a:reject': 2, 'restriction:client:b:permit': 1 });
      await store.addCounters({ 'restriction:recipient:a:reject': 3, 'other:x': -4 });
      await store.addCounters({});
      assert.deepEqual(await store.readCounters('restriction:'), {
        'restriction:client:b:permit': 1,
        'restriction:recipient:a:reject': 5,
      });
      assert.deepEqual(await store.readCounters('restriction:recipient:'), { 'restriction:recipient:a:reject': 5 });
      assert.deepEqual(await store.readCounters('other:'), { 'other:x': -4 });
      assert.deepEqual(await store.readCounters('restriction:recipient:a:reject:more'), {});
    }),
  );

  test(
    'counters: a prefix matches exactly (no wildcards, case-sensitive), and uid_validity stays apart',
    withStore(async (store) => {
      await store.createAccount('bob@example.com', PHC); // advances the uid_validity counter
      await store.addCounters({ a_b: 1, axb: 2, 'a%c': 3, aXc: 4, Abc: 5, 'a\\d': 6 });
      assert.deepEqual(await store.readCounters('a_'), { a_b: 1 });
      assert.deepEqual(await store.readCounters('a%'), { 'a%c': 3 });
      assert.deepEqual(await store.readCounters('A'), { Abc: 5 });
      assert.deepEqual(await store.readCounters('a\\'), { 'a\\d': 6 });
      assert.deepEqual(Object.keys(await store.readCounters('a')).sort(), ['a%c', 'aXc', 'a\\d', 'a_b', 'axb']);
      assert.deepEqual(Object.keys(await store.readCounters('u')), ['uid_validity']);
      assert.equal('uid_validity' in (await store.readCounters('restriction:')), false);
    }),
  );

  test(
    'counters: concurrent adds all count, new counters included',
    withStore(async (store) => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.addCounters(
            i % 2 === 0 ? { 'c:x': 1, 'c:y': 2, [`c:n${i % 5}`]: 1 } : { [`c:n${i % 5}`]: 1, 'c:y': 2, 'c:x': 1 },
          ),
        ),
      );
      assert.deepEqual(await store.readCounters('c:'), {
        'c:x': 50,
        'c:y': 100,
        'c:n0': 10,
        'c:n1': 10,
        'c:n2': 10,
        'c:n3': 10,
        'c:n4': 10,
      });
    }),
  );

  test(
    'counters: a delta that is not an integer is refused, and nothing of that call is added',
    withStore(async (store) => {
      await assert.rejects(store.addCounters({ 'c:a': 1, 'c:b': 1.5 }), RangeError);
      await assert.rejects(store.addCounters({ 'c:a': 1, 'c:b': Number.NaN }), RangeError);
      assert.deepEqual(await store.readCounters('c:'), {});
    }),
  );

  test(
    'counters: a sum past 2^53 - 1 saturates at Number.MAX_SAFE_INTEGER (MIN_SAFE_INTEGER going down), and the prefix still reads',
    withStore(async (store) => {
      const MAX = Number.MAX_SAFE_INTEGER;
      const MIN = Number.MIN_SAFE_INTEGER;
      await store.addCounters({ 'c:up': MAX - 1, 'c:down': MIN + 1, 'c:other': 1 });
      await store.addCounters({ 'c:up': 10, 'c:down': -10 });
      assert.deepEqual(await store.readCounters('c:'), { 'c:down': MIN, 'c:other': 1, 'c:up': MAX });
      await store.addCounters({ 'c:up': MAX, 'c:down': MIN });
      assert.deepEqual(await store.readCounters('c:'), { 'c:down': MIN, 'c:other': 1, 'c:up': MAX });
      await store.addCounters({ 'c:up': -5, 'c:down': 5 });
      assert.deepEqual(await store.readCounters('c:'), { 'c:down': MIN + 5, 'c:other': 1, 'c:up': MAX - 5 });
      await assert.rejects(store.addCounters({ 'c:up': 2 ** 60 }), /not a safe integer/);
    }),
  );

  test(
    'counters: a value an older Postern stored past the bounds is brought within them by the next add',
    withStore(async (store, execute) => {
      // The largest and (nearly) smallest bigint: adding to them as they are would overflow 64 bits.
      await execute(
        "INSERT INTO counters (name, value) VALUES ('c:high', 9223372036854775807), ('c:low', -9223372036854775807)",
        [],
      );
      await store.addCounters({ 'c:high': 1, 'c:low': -1 });
      assert.deepEqual(await store.readCounters('c:'), {
        'c:high': Number.MAX_SAFE_INTEGER,
        'c:low': Number.MIN_SAFE_INTEGER,
      });
    }),
  );

  test(
    'greylist: defers a new triplet, defers an early retry with the time left, passes after the delay',
    withStore(async (store) => {
      assert.deepEqual(await greylist(store, T0, 'alice@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, T0 + 60_000, 'alice@example.org'), defer(DELAY - 60_000));
      assert.deepEqual(await greylist(store, T0 + DELAY - 1, 'alice@example.org'), defer(1));
      assert.deepEqual(await greylist(store, T0 + DELAY, 'alice@example.org'), PASS);
      // Once passed, the triplet keeps passing, past the retry window too.
      assert.deepEqual(await greylist(store, T0 + DELAY + 3 * WINDOW, 'alice@example.org'), PASS);
      // Another sender from the same network is a new triplet.
      assert.deepEqual(await greylist(store, T0 + DELAY, 'carol@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, T0 + DELAY, 'alice@example.org', { network: '198.51.100.0/24' }), {
        outcome: 'defer',
        retryInMs: DELAY,
        learned: false,
      });
    }),
  );

  test(
    'greylist: a triplet first seen "later" than now (the clock stepped back) starts over, not deferred until then',
    withStore(async (store) => {
      const ahead = T0 + 6 * 3_600_000; // seen while the clock ran six hours fast
      assert.deepEqual(await greylist(store, ahead, 'alice@example.org'), defer(DELAY));
      // Corrected: without the rule the retry would wait six hours and the delay.
      assert.deepEqual(await greylist(store, T0, 'alice@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, T0 + DELAY, 'alice@example.org'), PASS);
      // One that passed while the clock ran fast keeps passing once it is set right.
      assert.deepEqual(await greylist(store, ahead, 'carol@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, ahead + DELAY, 'carol@example.org'), PASS);
      assert.deepEqual(await greylist(store, T0 + 60_000, 'carol@example.org'), PASS);
    }),
  );

  test(
    'greylist: a network that passed autoPassAfter times passes new triplets at once, until it expires',
    withStore(async (store) => {
      const auto = { autoPassAfter: 2 };
      assert.deepEqual(await greylist(store, T0, 'a@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, T0 + DELAY, 'a@example.org', auto), PASS);
      assert.deepEqual(await greylist(store, T0 + DELAY, 'b@example.org', auto), defer(DELAY), 'not yet listed');
      const listedAt = T0 + DELAY + HOUR; // the second pass that counts: an hour after the first
      assert.deepEqual(
        await greylist(store, listedAt - 1, 'a@example.org', auto),
        PASS,
        'within the hour: not counted',
      );
      assert.deepEqual(await greylist(store, listedAt, 'b@example.org', auto), LEARNED);
      assert.deepEqual(
        await greylist(store, listedAt + 1, 'c@example.org', auto),
        PASS,
        'a new triplet passes at once',
      );
      assert.deepEqual(await greylist(store, listedAt + 2, 'a@example.org', auto), PASS);
      const other = { ...auto, network: '2001:db8:1:2::/64' };
      assert.deepEqual(await greylist(store, listedAt + 2, 'c@example.org', other), defer(DELAY), 'another network');
      // The pass-list forgets a network unseen for the expiry; its old passes no longer count.
      const later = listedAt + 2 + EXPIRE + 1;
      assert.deepEqual(await greylist(store, later, 'd@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, later + DELAY, 'd@example.org', auto), PASS, 'counts from 1 again');
      assert.deepEqual(await greylist(store, later + DELAY, 'e@example.org', auto), defer(DELAY));
    }),
  );

  test(
    "greylist: a client's passes count once an hour at most (postgrey), so one message retried to five recipients does not list it",
    withStore(async (store) => {
      // Five triplets of one client (a message to five recipients is the same), deferred, then retried.
      const five = ['a', 'b', 'c', 'd', 'e'].map((name) => `${name}@example.org`);
      for (const sender of five) assert.deepEqual(await greylist(store, T0, sender), defer(DELAY));
      const counted = T0 + DELAY;
      for (const sender of five) assert.deepEqual(await greylist(store, counted, sender), PASS, sender);
      for (const sender of five) assert.deepEqual(await greylist(store, counted + 1, sender), PASS, `${sender} again`);
      assert.deepEqual(await greylist(store, counted + 1, 'new@example.org'), defer(DELAY), 'the client is not listed');
      // A new triplet that waited out its delay within the hour of the last count: not counted.
      assert.deepEqual(
        await greylist(store, counted + HOUR - 1, 'new@example.org'),
        PASS,
        'not counted: within the hour',
      );
      // One count an hour after the last counted one: the fifth, four hours on, lists the client (default 5).
      for (const hour of [1, 2, 3, 4]) {
        const sender = `hour${hour}@example.org`;
        assert.deepEqual(await greylist(store, counted + hour * HOUR - DELAY, sender), defer(DELAY));
        const expected = hour === 4 ? LEARNED : PASS;
        assert.deepEqual(await greylist(store, counted + hour * HOUR, sender), expected, `hour ${hour}`);
      }
      assert.deepEqual(await greylist(store, counted + 4 * HOUR, 'newer@example.org'), PASS, 'listed now');
    }),
  );

  test(
    "greylist: only a triplet's first pass counts (postgrey), so one triplet passing again every hour does not list its client",
    withStore(async (store) => {
      const auto = { autoPassAfter: 2 };
      assert.deepEqual(await greylist(store, T0, 'a@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, T0 + DELAY, 'a@example.org', auto), PASS, 'the first pass counts');
      // The same triplet again, hours apart: a sender's repeated mail proves no retrying MTA.
      for (const hour of [1, 2, 3]) {
        assert.deepEqual(await greylist(store, T0 + DELAY + hour * HOUR, 'a@example.org', auto), PASS, `hour ${hour}`);
      }
      const later = T0 + DELAY + 3 * HOUR;
      assert.deepEqual(await greylist(store, later, 'b@example.org', auto), defer(DELAY), 'not listed');
      // A second triplet that waits out its delay is the second count.
      assert.deepEqual(await greylist(store, later + DELAY, 'b@example.org', auto), LEARNED);
      assert.deepEqual(await greylist(store, later + DELAY, 'c@example.org', auto), PASS, 'listed now');
      // A triplet that starts over (expired) and waits out its delay again counts again.
      const gone = later + DELAY + EXPIRE + 1;
      assert.deepEqual(await greylist(store, gone, 'a@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, gone + DELAY, 'a@example.org', auto), PASS, 'counts from 1 again');
      assert.deepEqual(await greylist(store, gone + DELAY + HOUR, 'c@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, gone + DELAY + HOUR + DELAY, 'c@example.org', auto), LEARNED);
    }),
  );

  test(
    'greylist: a last counted pass "later" than now (the clock stepped back) does not hold the count back; clocks a little apart count once',
    withStore(async (store) => {
      const auto = { autoPassAfter: 3 };
      const ahead = T0 + 6 * HOUR; // counted while the clock ran six hours fast
      assert.deepEqual(await greylist(store, ahead, 'a@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, ahead + DELAY, 'a@example.org', auto), PASS);
      // Set right: this pass counts (without the rule, no pass would count for six hours).
      assert.deepEqual(await greylist(store, T0, 'b@example.org', auto), defer(DELAY));
      const counted = T0 + DELAY;
      assert.deepEqual(await greylist(store, counted, 'b@example.org', auto), PASS);
      // A node half an hour behind, then one an hour later less a millisecond: neither counts.
      assert.deepEqual(await greylist(store, counted - HOUR, 'c@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, counted - HOUR / 2, 'c@example.org', auto), PASS);
      assert.deepEqual(await greylist(store, counted + HOUR - 1 - DELAY, 'd@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, counted + HOUR - 1, 'd@example.org', auto), PASS);
      assert.deepEqual(await greylist(store, counted + HOUR - DELAY, 'e@example.org', auto), defer(DELAY));
      assert.deepEqual(await greylist(store, counted + HOUR, 'e@example.org', auto), LEARNED, 'the third count');
    }),
  );

  test(
    'greylist: autoPassAfter 0 never lists a network',
    withStore(async (store) => {
      const off = { autoPassAfter: 0 };
      for (const sender of ['a@example.org', 'b@example.org', 'c@example.org']) {
        assert.deepEqual(await greylist(store, T0, sender, off), defer(DELAY));
        assert.deepEqual(await greylist(store, T0 + DELAY, sender, off), PASS);
      }
      assert.deepEqual(await greylist(store, T0 + DELAY, 'd@example.org', off), defer(DELAY));
    }),
  );

  test(
    'greylist: a triplet unseen for expireMs starts over; each sighting restarts the expiry',
    withStore(async (store) => {
      await greylist(store, T0, 'a@example.org');
      const passedAt = T0 + DELAY;
      assert.deepEqual(await greylist(store, passedAt, 'a@example.org'), PASS);
      assert.deepEqual(await greylist(store, passedAt + EXPIRE, 'a@example.org'), PASS, 'exactly at the expiry');
      const gone = passedAt + 2 * EXPIRE + 1;
      assert.deepEqual(await greylist(store, gone, 'a@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, gone + DELAY, 'a@example.org'), PASS);
    }),
  );

  test(
    'greylist: a first retry after the retry window starts over; one at its end still passes',
    withStore(async (store) => {
      await greylist(store, T0, 'late@example.org');
      const late = T0 + DELAY + WINDOW + 1;
      assert.deepEqual(await greylist(store, late, 'late@example.org'), defer(DELAY));
      assert.deepEqual(await greylist(store, late + DELAY - 1, 'late@example.org'), defer(1));
      assert.deepEqual(await greylist(store, late + DELAY, 'late@example.org'), PASS);
      await greylist(store, T0, 'edge@example.org');
      assert.deepEqual(await greylist(store, T0 + DELAY + WINDOW, 'edge@example.org'), PASS);
    }),
  );

  test(
    'greylist: concurrent first attempts of one triplet all defer, against one first_seen',
    withStore(async (store) => {
      const times = Array.from({ length: 12 }, (_, i) => T0 + i * 1000);
      const results = await Promise.all(times.map((at) => greylist(store, at, 'burst@example.org')));
      assert.ok(results.every((r) => r.outcome === 'defer' && !r.learned));
      const firstSeen = new Set(results.map((r, i) => times[i]! + r.retryInMs! - DELAY));
      assert.equal(firstSeen.size, 1, `first_seen as each caller saw it: ${[...firstSeen]}`);
      const [seen] = firstSeen;
      assert.deepEqual(await greylist(store, seen! + DELAY, 'burst@example.org'), PASS);
    }),
  );
}
