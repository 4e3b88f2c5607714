// The gauge of mail transactions under way (src/smtp/transaction-gauge.ts): what it reports to the
// store's commit delay, and when.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACTIVE_MS, TransactionGauge } from '../../src/smtp/transaction-gauge.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('the gauge reports once per event-loop turn, and only a change', async () => {
  const reported: number[] = [];
  const gauge = new TransactionGauge((active) => reported.push(active));
  const sessions = Array.from({ length: 3 }, () => ({ lastInputAt: performance.now() }));
  for (const session of sessions) gauge.opened(session);
  assert.deepEqual(reported, [], 'not before the turn ends');
  await turn();
  assert.deepEqual(reported, [3]);
  gauge.closed(sessions[0] as (typeof sessions)[0]);
  gauge.opened(sessions[0] as (typeof sessions)[0]);
  await turn();
  assert.deepEqual(reported, [3], 'one out and back in within a turn: no change to report');
  for (const session of sessions) gauge.closed(session);
  await turn();
  assert.deepEqual(reported, [3, 0]);
  assert.equal(gauge.open, 0);
});

test('a session silent for longer than ACTIVE_MS is under way but not counted as active', async () => {
  const reported: number[] = [];
  const gauge = new TransactionGauge((active) => reported.push(active));
  const now = performance.now();
  const sending = { lastInputAt: now };
  const stuck = { lastInputAt: now - 10 * ACTIVE_MS }; // in its DATA, sending nothing
  gauge.opened(sending);
  gauge.opened(stuck);
  assert.equal(gauge.open, 2);
  assert.equal(gauge.active(now), 1);
  await turn();
  assert.deepEqual(reported, [1]);
  // It sends again, and a third session opens: both counted at that change.
  stuck.lastInputAt = performance.now();
  gauge.opened({ lastInputAt: performance.now() });
  await turn();
  assert.deepEqual(reported, [1, 3]);
});
