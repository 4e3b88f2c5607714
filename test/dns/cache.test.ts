import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache } from '../../src/dns/cache.ts';

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
