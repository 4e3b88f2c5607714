// Quarantine retention as `postern serve` runs it: QuarantineExpiry over a real SQLite store (the
// engines' own rules are in test/store/), with its clock injected and its log lines read back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { QUARANTINE_EXPIRY_BATCH, QuarantineExpiry } from '../../src/filter/quarantine-expiry.ts';
import { createLogger } from '../../src/log/logger.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { quarantinedMessage } from '../store/quarantine-contract.ts';
import { waitFor } from '../support/wait.ts';

type Context = { after(fn: () => unknown): void };

const DAY = 86_400_000;
const NOW = Date.parse('2026-05-10T08:00:00Z');

interface Line {
  level: number;
  msg: string;
  removed?: number;
  retentionDays?: number;
  err?: { message: string };
}

function capture() {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

async function sqliteStore(t: Context): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-qexpiry-'));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  t.after(async () => {
    await store.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** Quarantines one message per age (ms before NOW), named by its index. */
async function hold(store: Store, ages: number[]): Promise<void> {
  for (const [i, age] of ages.entries()) {
    await store.quarantine(quarantinedMessage(`m${i}`, { receivedAt: new Date(NOW - age) }));
  }
}

const subjects = async (store: Store) => (await store.listQuarantine()).map((q) => q.subject).sort();

/** The store, with each expireQuarantine call's limit recorded (and, when set, held at `gate`). */
function watched(store: Store) {
  const calls: number[] = [];
  let gate: Promise<void> | undefined;
  return {
    calls,
    hold(until: Promise<void>) {
      gate = until;
    },
    store: {
      async expireQuarantine(before: Date, limit: number) {
        calls.push(limit);
        await gate;
        return store.expireQuarantine(before, limit);
      },
    },
  };
}

test('a sweep removes what is older than the retention, keeps the rest, and says how many at info level', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  // 31 days; 30 days and a millisecond; exactly 30 days (not older: kept); 29 days; just now.
  await hold(store, [31 * DAY, 30 * DAY + 1, 30 * DAY, 29 * DAY, 0]);
  const expiry = new QuarantineExpiry({ store, retentionDays: 30, logger, now: () => NOW });
  assert.equal(await expiry.sweep(), 2);
  assert.deepEqual(await subjects(store), ['m2', 'm3', 'm4']);
  assert.deepEqual(lines, [
    {
      ...lines[0],
      level: 30,
      msg: 'quarantine: 2 messages older than 30 days removed',
      removed: 2,
      retentionDays: 30,
    },
  ]);
  assert.equal(await expiry.sweep(), 0);
  assert.equal(lines.length, 1, 'a sweep that removes nothing says nothing');

  // A retention shortened to a day takes what the longer one kept; the words agree with the numbers.
  const short = new QuarantineExpiry({ store, retentionDays: 1, logger, now: () => NOW });
  assert.equal(await short.sweep(), 2);
  assert.equal(lines[1]?.msg, 'quarantine: 2 messages older than 1 day removed');
  await store.quarantine(quarantinedMessage('two days', { receivedAt: new Date(NOW - 2 * DAY) }));
  assert.equal(await short.sweep(), 1);
  assert.equal(lines[2]?.msg, 'quarantine: 1 message older than 1 day removed');
  assert.deepEqual(await subjects(store), ['m4']);
});

test('a backlog larger than a batch goes batch after batch in one sweep, with a pause between, and one line', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  await hold(store, [...Array.from({ length: 10 }, (_, i) => (40 + i) * DAY), 0, DAY]);
  const w = watched(store);
  const expiry = new QuarantineExpiry({
    store: w.store,
    retentionDays: 30,
    logger,
    now: () => NOW,
    batch: 3,
    drainDelayMs: 50,
  });
  const started = performance.now();
  assert.equal(await expiry.sweep(), 10);
  const elapsed = performance.now() - started;
  assert.deepEqual(w.calls, [3, 3, 3, 3], 'three full batches, then one short of full ends the sweep');
  assert.ok(elapsed >= 140, `deliveries get the store between batches (${Math.round(elapsed)} ms for three pauses)`);
  assert.deepEqual(await subjects(store), ['m10', 'm11']);
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['quarantine: 10 messages older than 30 days removed'],
  );
  assert.equal(QUARANTINE_EXPIRY_BATCH, 100, 'the default batch: a short write even of large messages');
});

test('sweeps never overlap: a call or a tick while one runs starts no other', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  await hold(store, [31 * DAY, 32 * DAY]);
  const w = watched(store);
  let open!: () => void;
  w.hold(
    new Promise<void>((resolve) => {
      open = resolve;
    }),
  );
  const expiry = new QuarantineExpiry({ store: w.store, retentionDays: 30, logger, now: () => NOW });
  t.after(() => expiry.stop());
  const first = expiry.sweep();
  const second = expiry.sweep();
  assert.equal(first, second, 'the second call gets the running sweep');
  expiry.start(5); // ticks every 5 ms, and one at once, while the sweep is held
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(w.calls, [QUARANTINE_EXPIRY_BATCH], 'one store call, no second sweep');
  open();
  assert.equal(await first, 2);
  assert.equal(lines.filter((l) => l.removed !== undefined).length, 1, 'the removal said once');
});

test('a failing store is logged at error level, never thrown; what went before the failure is said too', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  await hold(store, [31 * DAY, 32 * DAY, 33 * DAY]);
  // The first batch removes two (full at batch 2); the store then fails (closed under it).
  let calls = 0;
  const failing = {
    async expireQuarantine(before: Date, limit: number) {
      if (++calls === 2) await store.close();
      return store.expireQuarantine(before, limit);
    },
  };
  const expiry = new QuarantineExpiry({
    store: failing,
    retentionDays: 30,
    logger,
    now: () => NOW,
    batch: 2,
    drainDelayMs: 0,
  });
  assert.equal(await expiry.sweep(), 2, 'resolves with what went, does not reject');
  const error = lines.find((l) => l.level === 50);
  assert.equal(error?.msg, 'quarantine: removing messages older than 30 days failed; the next sweep tries again');
  assert.equal(error?.removed, 2);
  assert.match(String(error?.err?.message), /closed/);
  assert.equal(lines.find((l) => l.level === 30)?.msg, 'quarantine: 2 messages older than 30 days removed');
  // A store failing from the start: an error line, nothing removed, nothing thrown.
  const again = new QuarantineExpiry({ store, retentionDays: 30, logger, now: () => NOW });
  assert.equal(await again.sweep(), 0);
  assert.equal(lines.filter((l) => l.level === 50).length, 2);
});

test('start sweeps at once, then every interval by the injected clock; stop waits for the sweep under way and ends the ticks', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  await hold(store, [31 * DAY, 29 * DAY, 0]);
  let now = NOW;
  const w = watched(store);
  const expiry = new QuarantineExpiry({ store: w.store, retentionDays: 30, logger, now: () => now });
  t.after(() => expiry.stop());
  expiry.start(20);
  await waitFor(() => lines.length === 1);
  assert.deepEqual(await subjects(store), ['m1', 'm2'], 'the first sweep at start, not an interval later');
  now += 2 * DAY; // the 29-day-old message is now 31 days old
  await waitFor(() => lines.length === 2);
  assert.deepEqual(await subjects(store), ['m2']);
  await expiry.stop();
  const calls = w.calls.length;
  now += 60 * DAY;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(w.calls.length, calls, 'no sweep after stop');
  assert.deepEqual(await subjects(store), ['m2']);
  expiry.start(20);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(w.calls.length, calls, 'a stopped sweep does not start again');
});

test('stop during a long drain ends it after the batch under way, without waiting out the pause', async (t) => {
  const store = await sqliteStore(t);
  const { lines, logger } = capture();
  await hold(store, [31 * DAY, 32 * DAY, 33 * DAY]);
  let done = 0;
  const counted = {
    async expireQuarantine(before: Date, limit: number) {
      const removed = await store.expireQuarantine(before, limit);
      done++;
      return removed;
    },
  };
  const expiry = new QuarantineExpiry({
    store: counted,
    retentionDays: 30,
    logger,
    now: () => NOW,
    batch: 1,
    drainDelayMs: 60_000,
  });
  expiry.start(3_600_000);
  await waitFor(() => done === 1); // the first batch went; the sweep pauses before the next
  const started = performance.now();
  await expiry.stop();
  assert.ok(performance.now() - started < 1000, 'stop did not wait out the 60 s pause');
  assert.deepEqual(await subjects(store), ['m0', 'm1'], 'the oldest went; the rest waits for the next start');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['quarantine: 1 message older than 30 days removed'],
  );
});

test('bad retention or interval values are refused when the sweep is made or started', async (t) => {
  const store = await sqliteStore(t);
  const { logger } = capture();
  for (const retentionDays of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new QuarantineExpiry({ store, retentionDays, logger }), RangeError, String(retentionDays));
  }
  const expiry = new QuarantineExpiry({ store, retentionDays: 30, logger });
  for (const interval of [0, -5, 2 ** 31, 0.5]) assert.throws(() => expiry.start(interval), RangeError);
  await expiry.stop();
});

test('filter.quarantine.retentionDays: 30 days by default, whole days from 1 to 3650, named when refused', () => {
  assert.equal(parseConfig({}, 'test').filter.quarantine.retentionDays, 30);
  assert.equal(
    parseConfig({ filter: { quarantine: { retentionDays: 1 } } }, 'test').filter.quarantine.retentionDays,
    1,
  );
  assert.equal(
    parseConfig({ filter: { quarantine: { retentionDays: 3650 } } }, 'test').filter.quarantine.retentionDays,
    3650,
  );
  for (const value of [0, 3651, 1.5, '30']) {
    assert.throws(
      () => parseConfig({ filter: { quarantine: { retentionDays: value } } }, 'postern.yaml'),
      /filter\.quarantine\.retentionDays/,
      String(value),
    );
  }
  assert.throws(
    () => parseConfig({ filter: { quarantine: { retentionDay: 7 } } }, 'postern.yaml'),
    /unknown key "retentionDay" under filter\.quarantine/,
    'a misspelt key is refused, not ignored',
  );
});
