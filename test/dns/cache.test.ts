import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache, lifetimeTracking } from '../../src/dns/cache.ts';
import type { DnsAnswer, Resolver } from '../../src/dns/resolver.ts';

function clocked(ttlMs: number, maxEntries: number): { cache: AnswerCache<string>; advance: (ms: number) => void } {
  let now = 0;
  return { cache: new AnswerCache<string>({ ttlMs, maxEntries, now: () => now }), advance: (ms) => (now += ms) };
}

test('an entry lives for ttlMs, then is gone', () => {
  const { cache, advance } = clocked(1000, 10);
  cache.set('A example.com', 'one');
  advance(999);
  assert.equal(cache.get('A example.com'), 'one');
  advance(1);
  assert.equal(cache.get('A example.com'), undefined);
});

test('the oldest entry is evicted at maxEntries', () => {
  const { cache } = clocked(1000, 2);
  cache.set('a', '1');
  cache.set('b', '2');
  cache.set('a', '1 again'); // re-set moves it to the young end
  cache.set('c', '3');
  assert.deepEqual(
    ['a', 'b', 'c'].map((k) => cache.get(k)),
    ['1 again', undefined, '3'],
  );
});

test('ttlMs 0 disables caching', () => {
  const { cache } = clocked(0, 10);
  cache.set('a', '1');
  assert.equal(cache.get('a'), undefined);
});

test('clear empties the cache', () => {
  const { cache } = clocked(1000, 10);
  cache.set('a', '1');
  cache.clear();
  assert.equal(cache.get('a'), undefined);
});

test('answers are weighed: the total stays under maxWeight, and an answer over a hundredth of it is not kept', () => {
  let now = 0;
  const cache = new AnswerCache<string>({
    ttlMs: 1000,
    maxEntries: 1000,
    weigh: (value) => value.length,
    maxWeight: 10_000,
    now: () => now,
  });
  for (let i = 0; i < 500; i++) cache.set(`k${i}`, 'x'.repeat(90));
  assert.ok(cache.usage.weight <= 10_000, `${cache.usage.weight}`);
  assert.equal(cache.get('k499'), 'x'.repeat(90), 'the newest stay');
  assert.equal(cache.get('k0'), undefined, 'the oldest went');
  cache.set('huge', 'x'.repeat(101));
  assert.equal(cache.get('huge'), undefined, 'too heavy to keep');
  now += 1000;
  cache.set('fresh', 'y');
  assert.deepEqual(cache.usage, { entries: 1, weight: 1 }, 'expired entries are dropped without being looked up');
});

test("an entry lives for the lifetime set gives it, at most ttlMs (an answer's TTL, RFC 1035 §3.2.1)", () => {
  const { cache, advance } = clocked(10_000, 10);
  cache.set('short', '1', 3_000);
  cache.set('long', '2', 60_000);
  advance(2_999);
  assert.deepEqual([cache.get('short'), cache.get('long')], ['1', '2']);
  advance(1);
  assert.deepEqual([cache.get('short'), cache.get('long')], [undefined, '2'], 'the short one at its own time');
  advance(7_000);
  assert.equal(cache.get('long'), undefined, 'the long one at ttlMs');
});

test('a lifetime of 0 keeps nothing, and drops what was kept under the key', () => {
  const { cache } = clocked(10_000, 10);
  cache.set('a', 'old');
  cache.set('a', 'new', 0);
  assert.equal(cache.get('a'), undefined);
  assert.deepEqual(cache.usage, { entries: 0, weight: 0 });
});

test('when room is needed, an entry that expired behind a live one goes before the live one', () => {
  const { cache, advance } = clocked(10_000, 3);
  cache.set('old', '1');
  cache.set('brief', '2', 1_000);
  cache.set('other', '3');
  advance(1_000);
  cache.set('new', '4');
  assert.deepEqual(
    ['old', 'brief', 'other', 'new'].map((k) => cache.get(k)),
    ['1', undefined, '3', '4'],
  );
});

test('lifetimeTracking: the least TTL left of the answers read, on their cache clock; 0 after a temporary failure', async () => {
  let now = 0;
  const cache = new AnswerCache<DnsAnswer<string>>({ ttlMs: 10_000, maxEntries: 10, now: () => now });
  const long: DnsAnswer<string> = { ok: true, records: ['v=spf1 -all'] };
  const short: DnsAnswer<string> = { ok: false, error: 'nxdomain' };
  cache.set('TXT long', long, 60_000); // kept for the cache's 10 s, valid for its 60 s TTL
  cache.set('A short', short, 1_000);
  const unknown: DnsAnswer<string> = { ok: true, records: ['192.0.2.1'] }; // never given to a cache
  const answers: Record<string, DnsAnswer<string>> = {
    long,
    short,
    unknown,
    timeout: { ok: false, error: 'temperror', reason: 'ETIMEOUT looking up A timeout' },
    bad: { ok: false, error: 'temperror', reason: 'EBADNAME looking up A b%d' },
  };
  const answer = async (name: string) => answers[name] ?? unknown;
  const resolver = { a: answer, txt: answer } as unknown as Resolver;

  const first = lifetimeTracking(resolver);
  assert.equal(first.lifetimeMs(), Number.POSITIVE_INFINITY, 'nothing read: no bound');
  await first.resolver.a('unknown');
  await first.resolver.a('bad');
  assert.equal(first.lifetimeMs(), Number.POSITIVE_INFINITY, 'no TTL known, and an unaskable name stays so');
  await first.resolver.txt('long');
  now += 400;
  assert.equal(first.lifetimeMs(), 59_600);
  await first.resolver.a('short');
  assert.equal(first.lifetimeMs(), 600);
  now += 700;
  assert.equal(first.lifetimeMs(), 0, 'expired');

  const second = lifetimeTracking(resolver);
  await second.resolver.txt('long');
  await second.resolver.a('timeout');
  assert.equal(second.lifetimeMs(), 0, 'a result resting on a temporary failure is not kept');
});
