// The gauge of mail transactions under way (src/smtp/transaction-gauge.ts): what it reports to the
// store's commit delay, and when.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACTIVE_MS, TransactionGauge } from '../../src/smtp/transaction-gauge.ts';
import { waitFor } from '../support/wait.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('the gauge reports once per event-loop turn, and only a change', async () => {
  const reported: number[] = [];
  const gauge = new TransactionGauge((active) => reported.push(active));
  // Input "at infinity": active however slow the machine running the test.
  const sessions = Array.from({ length: 3 }, () => ({ lastInputAt: Number.POSITIVE_INFINITY }));
  for (const session of sessions) gauge.opened(session);
  assert.deepEqual(reported, [], 'not before the turn ends');
  await turn();
  assert.deepEqual(reported, [3]);
  const [first] = sessions as [(typeof sessions)[0]];
  gauge.closed(first);
  gauge.opened(first);
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
  const sending = { lastInputAt: Number.POSITIVE_INFINITY };
  const stuck = { lastInputAt: performance.now() - 10 * ACTIVE_MS }; // in its DATA, sending nothing
  gauge.opened(sending);
  gauge.opened(stuck);
  assert.equal(gauge.open, 2);
  assert.equal(gauge.active(), 1);
  await turn();
  assert.deepEqual(reported, [1]);
  // It sends again, and a third session opens: both counted at that change.
  stuck.lastInputAt = Number.POSITIVE_INFINITY;
  const third = { lastInputAt: Number.POSITIVE_INFINITY };
  gauge.opened(third);
  await turn();
  assert.deepEqual(reported, [1, 3]);
  for (const member of [sending, stuck, third]) gauge.closed(member);
});

test('a session that falls silent is left out once ACTIVE_MS has passed, with nothing else happening', async () => {
  const reported: number[] = [];
  const gauge = new TransactionGauge((active) => reported.push(active));
  const session = { lastInputAt: Number.POSITIVE_INFINITY };
  gauge.opened(session);
  await turn();
  assert.deepEqual(reported, [1]);
  session.lastInputAt = performance.now() - 10 * ACTIVE_MS; // its last input, long ago
  await waitFor(() => reported.length === 2, 2_000);
  assert.deepEqual(reported, [1, 0]);
  gauge.closed(session);
});
