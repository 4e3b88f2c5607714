// Greylisting keeps its tables bounded: a store sweeps rows unseen for the expiry, and triplets
// never retried within their retry window, on its first decision and every GREYLIST_SWEEP_EVERY-th
// after it. Not in the contract: the rows are only visible in the database itself, read here with
// each engine's own driver.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import pg from 'pg';
import { GREYLIST_SWEEP_EVERY as POSTGRES_SWEEP_EVERY } from '../../src/store/postgres/greylist.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { GREYLIST_SWEEP_EVERY as SQLITE_SWEEP_EVERY } from '../../src/store/sqlite/greylist.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { withTestDatabase } from '../support/postgres.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const DELAY = 300_000;
const WINDOW = 86_400_000;
const EXPIRE = 35 * 86_400_000;

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

function decide(store: Store, sender: string, at: number, network = '192.0.2.0/24') {
  return store.greylist({
    triplet: `${network}/${sender}/bob@example.com`,
    network,
    now: new Date(at),
    delayMs: DELAY,
    retryWindowMs: WINDOW,
    expireMs: EXPIRE,
    autoPassAfter: 5,
  });
}

async function triplets(rows: Rows): Promise<string[]> {
  return (await rows('SELECT triplet FROM greylist ORDER BY triplet')).map((row) => String(row.triplet));
}

async function networks(rows: Rows): Promise<string[]> {
  return (await rows('SELECT network FROM greylist_clients ORDER BY network')).map((row) => String(row.network));
}

async function sweepScenario(store: Store, rows: Rows, every: number, reopen: () => Promise<Store>): Promise<void> {
  assert.equal(every, 1000);
  // Decision 0 sweeps (nothing yet). A triplet that passes leaves a client row too.
  await decide(store, 'old@example.org', T0);
  await decide(store, 'old@example.org', T0 + DELAY, '198.51.100.0/24'); // decision 1, another network
  await decide(store, 'old@example.org', T0 + 2 * DELAY, '198.51.100.0/24'); // passes: a client row
  const expired = T0 + 2 * DELAY + EXPIRE + 1; // both old triplets and the client row are now expired
  // Decisions 3 … every-1 do not sweep, even though they run after the expiry.
  await Promise.all(Array.from({ length: every - 3 }, (_, i) => decide(store, `filler${i}@example.org`, expired)));
  assert.equal((await triplets(rows)).filter((t) => t.includes('old@')).length, 2, 'no sweep between');
  assert.deepEqual(await networks(rows), ['198.51.100.0/24']);
  // Decision `every` sweeps.
  await decide(store, 'new@example.org', expired);
  const left = await triplets(rows);
  assert.equal(
    left.some((t) => t.includes('old@')),
    false,
    'expired triplets are gone',
  );
  assert.ok(left.includes('192.0.2.0/24/new@example.org/bob@example.com'));
  assert.equal(left.length, every - 3 + 1, 'rows seen within the expiry stay');
  assert.deepEqual(await networks(rows), [], 'the expired client row is gone');

  // A store opened again (a restarted server) sweeps on its first decision: all but the new row expired.
  await store.close();
  const again = await reopen();
  try {
    const later = expired + EXPIRE + 1;
    await decide(again, 'fresh@example.org', later);
    assert.deepEqual(await triplets(rows), ['192.0.2.0/24/fresh@example.org/bob@example.com']);
  } finally {
    await again.close();
  }
}

/** `count` first attempts of new triplets at `at`, each left waiting. */
function fill(store: Store, count: number, at: number, name: string) {
  return Promise.all(Array.from({ length: count }, (_, i) => decide(store, `${name}${i}@example.org`, at)));
}

/**
 * A triplet deferred and never retried (or retried only before its delay ran out) can only start
 * over once its retry window is past: the next sweep removes it, not the expiry 35 days later.
 * Passed triplets, and waiting ones still within their window, stay; each sweep after the first
 * reads only the rows last seen since the previous one's cutoff and still finds every such triplet.
 */
async function unretriedScenario(store: Store, rows: Rows, every: number): Promise<void> {
  const named = async () => (await triplets(rows)).filter((t) => !t.includes('filler'));
  const row = (sender: string) => `192.0.2.0/24/${sender}/bob@example.com`;
  await decide(store, 'never@example.org', T0); // decision 0 sweeps (nothing yet)
  await decide(store, 'early@example.org', T0);
  await decide(store, 'early@example.org', T0 + 60_000); // retried before the delay: still waiting
  await decide(store, 'passed@example.org', T0);
  assert.deepEqual(await decide(store, 'passed@example.org', T0 + DELAY), { outcome: 'pass', learned: false });
  await decide(store, 'edge@example.org', T0 + 1); // still retryable at the sweep below, by 0 ms
  await decide(store, 'later@example.org', T0 + WINDOW); // first seen a day later
  const sweepAt = T0 + 1 + DELAY + WINDOW;
  await fill(store, every - 7, sweepAt, 'filler');
  await decide(store, 'trigger@example.org', sweepAt); // decision `every` sweeps
  assert.deepEqual(
    await named(),
    ['edge@example.org', 'later@example.org', 'passed@example.org', 'trigger@example.org'].map(row),
    'the unretried triplets past their window are gone; the rest stay',
  );
  assert.equal((await triplets(rows)).length, 4 + every - 7, 'the fillers stay');

  // A day on, 'edge' and 'later' are past their window too, and so are the fillers and 'trigger'.
  const nextAt = sweepAt + WINDOW + DELAY + 1;
  await fill(store, every - 1, nextAt, 'filler-next');
  await decide(store, 'trigger-next@example.org', nextAt); // decision 2 × `every` sweeps
  assert.deepEqual(
    (await triplets(rows)).filter((t) => !t.includes('filler-next')),
    ['passed@example.org', 'trigger-next@example.org'].map(row),
  );
}

/** A SQLite store in a temporary directory, and a read-only connection to look at its rows. */
async function sqliteFixture(t: { after(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-sweep-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const store = await openSqliteStore({ dataDir });
  const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME), { readOnly: true });
  return { dataDir, store, db };
}

test('sqlite: greylisting sweeps expired rows on the first decision and every 1000th', async (t) => {
  const { dataDir, store, db } = await sqliteFixture(t);
  try {
    await sweepScenario(
      store,
      async (sql) => db.prepare(sql).all(),
      SQLITE_SWEEP_EVERY,
      () => openSqliteStore({ dataDir }),
    );
  } finally {
    db.close();
  }
});

test('postgres: greylisting sweeps expired rows on the first decision and every 1000th', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 4 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await sweepScenario(
        store,
        async (sql) => (await client.query(sql)).rows,
        POSTGRES_SWEEP_EVERY,
        () => openPostgresStore({ url, poolSize: 4 }),
      );
    } finally {
      await client.end();
    }
  }));

test('sqlite: a sweep removes triplets never retried within their retry window', async (t) => {
  const { store, db } = await sqliteFixture(t);
  try {
    await unretriedScenario(store, async (sql) => db.prepare(sql).all(), SQLITE_SWEEP_EVERY);
  } finally {
    db.close();
    await store.close();
  }
});

test('postgres: a sweep removes triplets never retried within their retry window', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 4 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await unretriedScenario(store, async (sql) => (await client.query(sql)).rows, POSTGRES_SWEEP_EVERY);
    } finally {
      await client.end();
      await store.close();
    }
  }));
