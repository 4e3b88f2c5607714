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
