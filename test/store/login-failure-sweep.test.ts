// Failed-login counting keeps its table bounded: a store sweeps rows whose window and block are both
// over on its first failure and every LOGIN_FAILURE_SWEEP_EVERY-th after it. Not in the contract: the
// rows are only visible in the database itself, read here with each engine's own driver.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import pg from 'pg';
import { LOGIN_FAILURE_SWEEP_EVERY } from '../../src/store/login-failures.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { withTestDatabase } from '../support/postgres.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const WINDOW = 60_000;
const BLOCK = 3_600_000;

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

function fail(store: Store, key: string, at: number, threshold = 5) {
  return store.recordLoginFailure(key, { now: new Date(at), windowMs: WINDOW, threshold, blockMs: BLOCK });
}

async function keys(rows: Rows): Promise<string[]> {
  return (await rows('SELECT key FROM login_failures ORDER BY key')).map((row) => String(row.key));
}

async function sweepScenario(store: Store, rows: Rows, reopen: () => Promise<Store>): Promise<void> {
  assert.equal(LOGIN_FAILURE_SWEEP_EVERY, 1000);
  await fail(store, 'ip:192.0.2.1', T0); // failure 0 sweeps (nothing yet)
  await fail(store, 'ip:192.0.2.2', T0, 1); // failure 1: blocked for an hour
  const later = T0 + 2 * WINDOW; // both windows are over; the block is not
  // Failures 2 … every-1 do not sweep, even though they come after the window.
  for (let i = 2; i < LOGIN_FAILURE_SWEEP_EVERY; i++) await fail(store, `ip:198.51.100.${i}`, later);
  assert.ok((await keys(rows)).includes('ip:192.0.2.1'), 'no sweep between');
  // Failure `every` sweeps.
  await fail(store, 'ip:203.0.113.1', later);
  const left = await keys(rows);
  assert.equal(left.includes('ip:192.0.2.1'), false, 'an expired row is gone');
  assert.ok(left.includes('ip:192.0.2.2'), 'a row whose block runs on stays');
  assert.equal(left.length, LOGIN_FAILURE_SWEEP_EVERY - 2 + 2, 'rows in their window stay');
  assert.deepEqual(await store.loginBlockedUntil('ip:192.0.2.2', new Date(later)), new Date(T0 + BLOCK));

  // A store opened again (a restarted server) sweeps on its first failure: once the block is over
  // too, every row but the new one has expired.
  await store.close();
  const again = await reopen();
  try {
    await fail(again, 'ip:203.0.113.99', T0 + BLOCK + WINDOW);
    assert.deepEqual(await keys(rows), ['ip:203.0.113.99']);
  } finally {
    await again.close();
  }
}

test('sqlite: failed logins sweep expired rows on the first failure and every 1000th', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-sweep-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const store = await openSqliteStore({ dataDir });
  const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME), { readOnly: true });
  try {
    await sweepScenario(
      store,
      async (sql) => db.prepare(sql).all(),
      () => openSqliteStore({ dataDir }),
    );
  } finally {
    db.close();
  }
});

test('postgres: failed logins sweep expired rows on the first failure and every 1000th', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 4 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await sweepScenario(
        store,
        async (sql) => (await client.query(sql)).rows,
        () => openPostgresStore({ url, poolSize: 4 }),
      );
    } finally {
      await client.end();
    }
  }));
