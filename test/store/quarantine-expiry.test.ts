// Quarantine retention in the database itself, beyond the contract (quarantine-contract.ts): the
// sweep reads an index (migration 9), a store at version 8 keeps its quarantine through the
// migration, and on PostgreSQL sweeps on several nodes share a backlog and pass over an entry a
// release holds instead of waiting for it (FOR UPDATE SKIP LOCKED). Rows are read with each engine's
// own driver.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { migratePostgres } from '../../src/store/postgres/migrations.ts';
import { createPool } from '../../src/store/postgres/postgres-store.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import { migrateSqlite } from '../../src/store/sqlite/migrations.ts';
import type { Store } from '../../src/store/store.ts';
import { queryPostgres, withTestDatabase } from '../support/postgres.ts';
import { quarantinedMessage, SAMPLE_VERDICT } from './quarantine-contract.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/** A quarantine row as version 8 wrote it (columns of migration 7), received at `receivedAt`. */
function v8Row(subject: string, receivedAt: number): unknown[] {
  const content = new TextEncoder().encode(`Subject: ${subject}\r\n\r\nbody\r\n`);
  return [
    receivedAt,
    'bounce@paypa1.com',
    '["bob@example.com"]',
    '',
    subject,
    content.byteLength,
    12.5,
    'bank',
    'r',
    JSON.stringify(SAMPLE_VERDICT),
    content,
  ];
}

const V8_INSERT = `INSERT INTO quarantine (received_at, mail_from, recipients, header_from, header_subject, size,
  score, category, reason, verdict, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Expired entries before T0 and fresh ones after it, `n` of each, written out of date order. */
async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.quarantine(quarantinedMessage(`fresh ${i}`, { receivedAt: at(i) }));
    await store.quarantine(quarantinedMessage(`old ${i}`, { receivedAt: at(-1 - i) }));
  }
}

test('sqlite: the sweep reads the oldest entries from the received_at index, not the whole table', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-qexpiry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  await store.close();
  const db = new DatabaseSync(path.join(dir, 'data', DATABASE_FILE_NAME), { readOnly: true });
  try {
    const index = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'quarantine'").all();
    assert.deepEqual(
      index.map((row) => String(row.sql)),
      ['CREATE INDEX quarantine_by_received_at ON quarantine (received_at)'],
    );
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM quarantine WHERE received_at < ? ORDER BY received_at LIMIT ?')
      .all(T0, 100)
      .map((row) => String(row.detail));
    assert.ok(
      plan.some((detail) => /SEARCH quarantine USING (COVERING )?INDEX quarantine_by_received_at/.test(detail)),
      plan.join('; '),
    );
    assert.ok(!plan.some((detail) => /TEMP B-TREE/.test(detail)), `no sort: ${plan.join('; ')}`);
  } finally {
    db.close();
  }
});

test('sqlite: a version-8 database keeps its quarantine through the migration, and the sweep then takes the old entries', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-qexpiry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const old = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
  old.exec('PRAGMA journal_mode = WAL');
  migrateSqlite(old, { target: 8 });
  const insert = old.prepare(V8_INSERT);
  insert.run(...(v8Row('old', at(-1).getTime()) as (string | number | Uint8Array)[]));
  insert.run(...(v8Row('new', at(1).getTime()) as (string | number | Uint8Array)[]));
  old.close();
  const store = await openSqliteStore({ dataDir });
  try {
    assert.deepEqual(store.migration.applied.map((m) => [m.version, m.name]).slice(0, 1), [
      [9, 'quarantine retention'],
    ]);
    assert.deepEqual((await store.listQuarantine()).map((q) => q.subject).sort(), ['new', 'old']);
    assert.equal(await store.expireQuarantine(new Date(T0), 10), 1);
    assert.deepEqual(
      (await store.listQuarantine()).map((q) => q.subject),
      ['new'],
    );
  } finally {
    await store.close();
  }
});

test('postgres: the received_at index exists, and a version-8 database keeps its quarantine through the migration', () =>
  withTestDatabase(async ({ url }) => {
    const pool = createPool({ url, poolSize: 1 });
    try {
      await migratePostgres(pool, { target: 8 });
      const placeholders = (sql: string) => {
        let n = 0;
        return sql.replace(/\?/g, () => `$${++n}`);
      };
      for (const [subject, minutes] of [
        ['old', -1],
        ['new', 1],
      ] as const) {
        const values = v8Row(subject, at(minutes).getTime()).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v));
        await pool.query(placeholders(V8_INSERT), values);
      }
    } finally {
      await pool.end();
    }
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.deepEqual(store.migration.applied.map((m) => [m.version, m.name]).slice(0, 1), [
        [9, 'quarantine retention'],
      ]);
      const indexes = await queryPostgres(
        url,
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'quarantine' AND indexname = 'quarantine_by_received_at'",
      );
      assert.match(String(indexes[0]?.indexdef), /ON public\.quarantine USING btree \(received_at\)$/);
      assert.deepEqual((await store.listQuarantine()).map((q) => q.subject).sort(), ['new', 'old']);
      assert.equal(await store.expireQuarantine(new Date(T0), 10), 1);
      assert.deepEqual(
        (await store.listQuarantine()).map((q) => q.subject),
        ['new'],
      );
    } finally {
      await store.close();
    }
  }));

test('postgres: an entry a release holds is passed over at once, not waited for; it goes with the release or a later sweep', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 2 });
    const release = new pg.Client({ connectionString: url });
    await release.connect();
    try {
      await fill(store, 3);
      const oldest = (await queryPostgres(url, 'SELECT id FROM quarantine ORDER BY received_at LIMIT 1'))[0]!.id;
      // As Store.releaseQuarantined does: its DELETE holds the row until the transaction ends.
      await release.query('BEGIN');
      await release.query('DELETE FROM quarantine WHERE id = $1', [oldest]);
      const sweeping = store.expireQuarantine(new Date(T0), 100);
      const first = await Promise.race([sweeping, setTimeout(3000, 'still waiting', { ref: false })]);
      if (first === 'still waiting') {
        await release.query('ROLLBACK'); // lets the sweep finish, so the test ends
        await sweeping;
        assert.fail('the sweep waited for the entry the release holds');
      }
      assert.equal(first, 2, 'the two entries nobody holds');
      // The release fails after all (its accounts are gone): the entry is back, for the next sweep.
      await release.query('ROLLBACK');
      assert.equal(await store.expireQuarantine(new Date(T0), 100), 1);
      // A release that commits takes the entry: the sweep counts nothing twice.
      const fresh = (await store.listQuarantine())[0]!.id;
      await release.query('BEGIN');
      await release.query('DELETE FROM quarantine WHERE id = $1', [fresh]);
      const sweep = store.expireQuarantine(new Date(at(10)), 100);
      await release.query('COMMIT');
      assert.equal(await sweep, 2, 'the other two fresh entries, now expired');
      assert.deepEqual(await store.listQuarantine(), []);
    } finally {
      await release.end();
      await store.close();
    }
  }));

test('postgres: two nodes sweeping one backlog at once remove each expired entry once, and only those', () =>
  withTestDatabase(async ({ url }) => {
    const a = await openPostgresStore({ url, poolSize: 4, applicationName: 'node-a' });
    const b = await openPostgresStore({ url, poolSize: 4, applicationName: 'node-b' });
    try {
      await fill(a, 150);
      // Each node as its sweep runs: batches until one comes back short of full, two sweeps per node.
      const sweep = async (store: Store) => {
        let removed = 0;
        for (;;) {
          const count = await store.expireQuarantine(new Date(T0), 7);
          removed += count;
          if (count < 7) return removed;
        }
      };
      const counts = await Promise.all([sweep(a), sweep(b), sweep(a), sweep(b)]);
      assert.equal(
        counts.reduce((x, y) => x + y, 0),
        150,
        `each expired entry counted once (${counts.join(' + ')})`,
      );
      const left = (await a.listQuarantine()).map((q) => q.subject);
      assert.equal(left.length, 150);
      assert.ok(
        left.every((subject) => subject.startsWith('fresh ')),
        'the entries within the retention stay',
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }));
