// Greylisting keeps its tables bounded: a store sweeps rows unseen for the expiry, and triplets
// never retried within their retry window, on its first decision and every GREYLIST_SWEEP_EVERY-th
// after it, at most GREYLIST_SWEEP_BATCH rows of each kind a time (a backlog goes in batches, one
// every GREYLIST_SWEEP_DRAIN_EVERY decisions). Not in the contract: the rows are only visible in the
// database itself, read here with each engine's own driver.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import pg from 'pg';
import * as postgresGreylist from '../../src/store/postgres/greylist.ts';
import { GREYLIST_SWEEP_EVERY as POSTGRES_SWEEP_EVERY } from '../../src/store/postgres/greylist.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import * as sqliteGreylist from '../../src/store/sqlite/greylist.ts';
import { GREYLIST_SWEEP_EVERY as SQLITE_SWEEP_EVERY } from '../../src/store/sqlite/greylist.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { withTestDatabase } from '../support/postgres.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const DELAY = 300_000;
const WINDOW = 86_400_000;
const EXPIRE = 35 * 86_400_000;
/** Rows one sweep removes at most from each table, and the decisions between sweeps while a backlog is left. */
const BATCH = 500;
const DRAIN_EVERY = 10;

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

function decide(store: Store, sender: string, at: number, network = '192.0.2.0/24', maxPending?: number) {
  return store.greylist({
    triplet: `${network}/${sender}/bob@example.com`,
    network,
    now: new Date(at),
    delayMs: DELAY,
    retryWindowMs: WINDOW,
    expireMs: EXPIRE,
    autoPassAfter: 5,
    ...(maxPending === undefined ? {} : { maxPending }),
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

  // A store opened again (a restarted server) sweeps on its first decision: all but the new row
  // expired, more than a batch, so the next sweep comes DRAIN_EVERY decisions later.
  await store.close();
  const again = await reopen();
  try {
    const later = expired + EXPIRE + 1;
    await decide(again, 'fresh@example.org', later);
    assert.equal((await triplets(rows)).length, every - 2 - BATCH + 1, 'one batch removed');
    for (let i = 1; i <= DRAIN_EVERY; i++) await decide(again, `drain${i}@example.org`, later);
    const drains = Array.from(
      { length: DRAIN_EVERY },
      (_, i) => `192.0.2.0/24/drain${i + 1}@example.org/bob@example.com`,
    );
    assert.deepEqual(await triplets(rows), [...drains, '192.0.2.0/24/fresh@example.org/bob@example.com'].sort());
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
  await decide(store, 'trigger-next@example.org', nextAt); // decision 2 × `every` sweeps a batch
  // The batch ends before the fillers and 'trigger', more than a batch in one millisecond: the
  // next sweep, DRAIN_EVERY decisions later, takes that millisecond whole.
  assert.deepEqual(
    await named(),
    ['passed', 'trigger-next', 'trigger'].map((name) => row(`${name}@example.org`)),
  );
  await fill(store, DRAIN_EVERY, nextAt, 'filler-next-drain');
  assert.deepEqual(
    (await triplets(rows)).filter((t) => !t.includes('filler-next')),
    ['passed@example.org', 'trigger-next@example.org'].map(row),
  );
}

/** What a test inserts straight into the tables: `count` rows named `<prefix>/<i>`. */
interface Backlog {
  triplets(prefix: string, count: number, firstSeen: number, lastSeen: number, passed: number): Promise<void>;
  clients(prefix: string, count: number, passes: number, lastSeen: number): Promise<void>;
}

/** A recursive series of `count` rows, for SQLite inserts without a round trip each. */
const sqliteSeries = (count: number) =>
  `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1})`;

function sqliteTriplets(db: DatabaseSync): Backlog['triplets'] {
  return async (prefix, count, firstSeen, lastSeen, passed) => {
    db.exec(`${sqliteSeries(count)} INSERT INTO greylist (triplet, first_seen, last_seen, passed)
        SELECT '${prefix}/' || i, ${firstSeen} + i, ${lastSeen} + i, ${passed} FROM n`);
  };
}

function postgresTriplets(client: pg.Client): Backlog['triplets'] {
  return async (prefix, count, firstSeen, lastSeen, passed) => {
    await client.query(
      `INSERT INTO greylist (triplet, first_seen, last_seen, passed)
       SELECT $1 || '/' || i, $2::bigint + i, $3::bigint + i, $4 FROM generate_series(0, $5::int - 1) AS i`,
      [prefix, firstSeen, lastSeen, passed, count],
    );
  };
}

/**
 * A store that was down for long (or just upgraded) meets a backlog of expired rows and unretried
 * triplets. Its first sweep removes at most BATCH rows of each kind: one statement removing them all
 * would hold the write lock (SQLite: the writer's transaction, which deliveries wait on) for as long
 * as that takes. While a sweep finds more, the next comes DRAIN_EVERY decisions later, not 1000.
 */
async function backlogScenario(store: Store, rows: Rows, backlog: Backlog): Promise<void> {
  const now = T0 + 100 * 86_400_000;
  const count = 1200; // three sweeps: 500, 500, 200
  await backlog.triplets('expired', count, T0, T0, 1); // row i last seen at T0 + i
  await backlog.clients('expired', count, 3, T0);
  await backlog.triplets('unretried', count, now - 10 * 86_400_000, now - 10 * 86_400_000, 0);
  await backlog.triplets('keep-passed', 1, now - 20 * 86_400_000, now - 2 * 86_400_000, 1);
  await backlog.triplets('keep-waiting', 1, now - 60_000, now - 60_000, 0);
  await backlog.clients('keep', 1, 5, now - 86_400_000);
  const left = async () => {
    const number = async (sql: string) => Number((await rows(sql))[0]!.n);
    return {
      expired: await number("SELECT count(*) AS n FROM greylist WHERE triplet LIKE 'expired/%'"),
      clients: await number("SELECT count(*) AS n FROM greylist_clients WHERE network LIKE 'expired/%'"),
      unretried: await number("SELECT count(*) AS n FROM greylist WHERE triplet LIKE 'unretried/%'"),
      kept: await number("SELECT count(*) AS n FROM greylist WHERE triplet LIKE 'keep-%'"),
    };
  };
  let decisions = 0;
  const decideUntil = async (n: number) => {
    for (; decisions < n; decisions++) await decide(store, `sweeper${decisions}@example.org`, now + decisions);
  };
  await decideUntil(1); // the first decision sweeps one batch of each
  assert.deepEqual(await left(), { expired: count - BATCH, clients: count - BATCH, unretried: count - BATCH, kept: 2 });
  await decideUntil(DRAIN_EVERY); // no sweep in between
  assert.deepEqual(await left(), { expired: count - BATCH, clients: count - BATCH, unretried: count - BATCH, kept: 2 });
  await decideUntil(DRAIN_EVERY + 1);
  const last = count - 2 * BATCH;
  assert.deepEqual(await left(), { expired: last, clients: last, unretried: last, kept: 2 });
  await decideUntil(2 * DRAIN_EVERY + 1);
  assert.deepEqual(await left(), { expired: 0, clients: 0, unretried: 0, kept: 2 }, 'the backlog is gone');
  assert.deepEqual(
    (await rows("SELECT network FROM greylist_clients WHERE network LIKE 'keep/%'")).map((row) => row.network),
    ['keep/0'],
  );
}

/**
 * A flood of new senders (each a triplet that waits and is never retried) is held to maxPending
 * never-passed rows: the oldest go first, passed rows stay, and the decision says how many went so
 * the policy can warn. A bound far below the table (lowered by the admin) is reached in batches of
 * TRIM_BATCH, one every DRAIN_EVERY decisions, not in one long write.
 */
async function trimScenario(store: Store, rows: Rows, backlog: Backlog): Promise<void> {
  const TRIM_BATCH = 2000;
  const max = 100;
  const now = T0 + 10 * 86_400_000;
  await backlog.triplets('passed', 50, now - 86_400_000, now - 86_400_000, 1); // retried senders: kept
  await backlog.triplets('waiting', 2500, now - 60_000, now - 60_000, 0); // waiting/i last seen at now - 60 000 + i
  const number = async (sql: string) => Number((await rows(sql))[0]!.n);
  const left = async () => ({
    pending: await number('SELECT count(*) AS n FROM greylist WHERE passed = 0'),
    passed: await number("SELECT count(*) AS n FROM greylist WHERE triplet LIKE 'passed/%'"),
  });
  const flood = (i: number) => decide(store, `flood${i}@example.org`, now + i, '192.0.2.0/24', max);
  const first = await flood(0); // the first decision counts: one batch goes
  assert.deepEqual(first, { outcome: 'defer', retryInMs: DELAY, learned: false, trimmed: TRIM_BATCH });
  assert.deepEqual(await left(), { pending: 2500 + 1 - TRIM_BATCH, passed: 50 });
  for (let i = 1; i < DRAIN_EVERY; i++) assert.equal((await flood(i)).trimmed, undefined, 'no count in between');
  // 510 waiting: down to the bound with this decision's own row.
  assert.equal((await flood(DRAIN_EVERY)).trimmed, 2500 + DRAIN_EVERY + 1 - TRIM_BATCH - max);
  assert.deepEqual(await left(), { pending: max, passed: 50 });
  const kept = (await rows("SELECT triplet FROM greylist WHERE triplet LIKE 'waiting/%'")).map((r) =>
    Number(String(r.triplet).slice('waiting/'.length)),
  );
  assert.equal(Math.min(...kept), 2500 - kept.length, 'the oldest went first');
  assert.equal(kept.length, max - DRAIN_EVERY - 1, "the flood's own rows, newer, stay");
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

test('sqlite: a backlog (after a long downtime) is swept in batches of 500, one every 10 decisions', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-sweep-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  await (await openSqliteStore({ dataDir })).close(); // the schema
  const file = path.join(dataDir, DATABASE_FILE_NAME);
  const writable = new DatabaseSync(file);
  const store = await openSqliteStore({ dataDir });
  await backlogScenario(store, async (sql) => writable.prepare(sql).all(), {
    triplets: sqliteTriplets(writable),
    async clients(prefix, count, passes, lastSeen) {
      writable.exec(`${sqliteSeries(count)} INSERT INTO greylist_clients (network, passes, last_seen)
          SELECT '${prefix}/' || i, ${passes}, ${lastSeen} + i FROM n`);
    },
  }).finally(async () => {
    writable.close();
    await store.close();
  });
  assert.equal(sqliteGreylist.GREYLIST_SWEEP_BATCH, BATCH);
  assert.equal(sqliteGreylist.GREYLIST_SWEEP_DRAIN_EVERY, DRAIN_EVERY);
});

test('postgres: a backlog (after a long downtime) is swept in batches of 500, one every 10 decisions', () =>
  withTestDatabase(async ({ url }) => {
    await (await openPostgresStore({ url, poolSize: 4 })).close(); // the schema
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const store = await openPostgresStore({ url, poolSize: 4 });
    try {
      await backlogScenario(store, async (sql) => (await client.query(sql)).rows, {
        triplets: postgresTriplets(client),
        async clients(prefix, count, passes, lastSeen) {
          await client.query(
            `INSERT INTO greylist_clients (network, passes, last_seen)
             SELECT $1 || '/' || i, $2, $3::bigint + i FROM generate_series(0, $4::int - 1) AS i`,
            [prefix, passes, lastSeen, count],
          );
        },
      });
    } finally {
      await client.end();
      await store.close();
    }
    assert.equal(postgresGreylist.GREYLIST_SWEEP_BATCH, BATCH);
    assert.equal(postgresGreylist.GREYLIST_SWEEP_DRAIN_EVERY, DRAIN_EVERY);
  }));

test('sqlite: greylisting keeps at most maxPending never-passed triplets, the oldest going first', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-sweep-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  await (await openSqliteStore({ dataDir })).close(); // the schema
  const writable = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
  const store = await openSqliteStore({ dataDir });
  await trimScenario(store, async (sql) => writable.prepare(sql).all(), {
    triplets: sqliteTriplets(writable),
    async clients() {},
  }).finally(async () => {
    writable.close();
    await store.close();
  });
  assert.equal(sqliteGreylist.GREYLIST_TRIM_BATCH, 2000);
});

test('postgres: greylisting keeps at most maxPending never-passed triplets, the oldest going first', () =>
  withTestDatabase(async ({ url }) => {
    await (await openPostgresStore({ url, poolSize: 4 })).close(); // the schema
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const store = await openPostgresStore({ url, poolSize: 4 });
    try {
      await trimScenario(store, async (sql) => (await client.query(sql)).rows, {
        triplets: postgresTriplets(client),
        async clients() {},
      });
    } finally {
      await client.end();
      await store.close();
    }
    assert.equal(postgresGreylist.GREYLIST_TRIM_BATCH, 2000);
  }));
