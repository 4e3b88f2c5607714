// NullStore's counters and greylisting: counters in memory for this process, every triplet passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NullStore } from '../../src/store/null-store.ts';
import { StoreClosedError } from '../../src/store/store.ts';

test('NullStore keeps counters in memory, read by exact prefix', async () => {
  const store = new NullStore([]);
  await store.addCounters({ 'restriction:a': 2, restriction_b: 1 });
  await store.addCounters({ 'restriction:a': 3 });
  assert.deepEqual(await store.readCounters('restriction:'), { 'restriction:a': 5 });
  assert.deepEqual(await store.readCounters('restriction'), { 'restriction:a': 5, restriction_b: 1 });
  await assert.rejects(store.addCounters({ x: 0.5 }), RangeError);
  await store.close();
  await assert.rejects(store.readCounters(''), StoreClosedError);
});

test('NullStore passes every greylisting triplet at once', async () => {
  const store = new NullStore([]);
  const result = await store.greylist({
    triplet: '192.0.2.0/24/alice@example.org/bob@example.com',
    network: '192.0.2.0/24',
    now: new Date(),
    delayMs: 300_000,
    retryWindowMs: 86_400_000,
    expireMs: 35 * 86_400_000,
    autoPassAfter: 5,
  });
  assert.deepEqual(result, { outcome: 'pass', learned: false });
});
