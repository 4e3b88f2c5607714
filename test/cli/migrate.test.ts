// `postern migrate` and what a node does with a database it cannot use, on both engines.
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import pg from 'pg';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { configDir, postern } from '../support/child-server.ts';
import { withTestDatabase } from '../support/postgres.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context, extra: Record<string, unknown> = {}) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  return d;
}

test('migrate --status, migrate, migrate again: SQLite', async (t) => {
  const { root, file } = dir(t);
  const before = await postern(['migrate', '--status', '--config', file], { cwd: root });
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /^SQLite .*data\/postern\.sqlite$/m);
  assert.match(before.stdout, /schema: none yet/);
  assert.match(before.stdout, /pending {2}v1 {2}accounts, mailboxes, messages/);
  assert.match(before.stdout, /run "postern migrate"/);
  const pendingJson = JSON.parse(
    (await postern(['migrate', '--status', '--json', '--config', file], { cwd: root })).stdout,
  );
  assert.deepEqual(Object.keys(pendingJson.pending[0]), ['version', 'name'], 'the version and name, not the SQL');

  const run = await postern(['migrate', '--config', file], { cwd: root });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`migrated from schema version 0 to ${SQLITE_SCHEMA_VERSION}`));

  const again = await postern(['migrate', '--config', file], { cwd: root });
  assert.match(again.stdout, new RegExp(`already at schema version ${SQLITE_SCHEMA_VERSION}, nothing to do`));

  const status = await postern(['migrate', '--status', '--json', '--config', file], { cwd: root });
  const parsed = JSON.parse(status.stdout);
  assert.equal(parsed.engine, 'sqlite');
  assert.equal(parsed.current, SQLITE_SCHEMA_VERSION);
  assert.deepEqual(parsed.pending, []);
  assert.equal(parsed.applied.length, SQLITE_SCHEMA_VERSION);
});

test('a node refuses to start on a schema newer than it knows, and says why: SQLite', async (t) => {
  const { root, file } = dir(t);
  await postern(['migrate', '--config', file], { cwd: root });
  const db = new DatabaseSync(path.join(root, 'data', DATABASE_FILE_NAME));
  db.exec('PRAGMA user_version = 42');
  db.close();
  const serve = await postern(['serve', '--config', file], { cwd: root });
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /schema is version 42, newer than this Postern knows/);
  const status = await postern(['migrate', '--status', '--config', file], { cwd: root });
  assert.equal(status.code, 1, 'status exits 1 on a database this node cannot use');
  assert.match(status.stdout, /newer than this Postern/);
  const check = await postern(['check', '--config', file], { cwd: root });
  assert.equal(check.code, 1, 'check finds what serve would stop at');
  assert.match(check.stdout, /error: the store .*postern\.sqlite has schema version 42, newer than this Postern knows/);
});

test('migrate on PostgreSQL, then a newer schema stops serve; the password never shows', (t) =>
  withTestDatabase(async ({ url }) => {
    const withPassword = new URL(url);
    withPassword.password = 'not-a-real-password'; // trust auth ignores it; the output must hide it
    const { root, file } = dir(t, { store: { engine: 'postgres', url: withPassword.toString() } });
    const run = await postern(['migrate', '--config', file], { cwd: root });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^PostgreSQL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
    assert.match(run.stdout, /migrated from schema version 0 to \d+/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('INSERT INTO schema_version (version, applied_at) VALUES (99, 0)');
    await client.end();
    const serve = await postern(['serve', '--config', file], { cwd: root });
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /schema is version 99, newer than this Postern knows/);
    for (const output of [run.stdout, run.stderr, serve.stdout, serve.stderr]) {
      assert.doesNotMatch(output, /not-a-real-password/);
    }
  }));

test('serve on an unreachable PostgreSQL: exit 1 with the server named and what to check', async (t) => {
  const { root, file } = dir(t, { store: { engine: 'postgres', url: 'postgres://postern:pw@127.0.0.1:1/postern' } });
  const serve = await postern(['serve', '--config', file], { cwd: root });
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /cannot connect to PostgreSQL at postgres:\/\/postern:\*\*\*@127\.0\.0\.1:1\/postern/);
  assert.match(serve.stderr, /is the server running, and store\.url right\?/);
});

test('migrate --status exits 1 on a PostgreSQL schema newer than this Postern, as on SQLite', (t) =>
  withTestDatabase(async ({ url }) => {
    const { root, file } = dir(t, { store: { engine: 'postgres', url } });
    assert.equal((await postern(['migrate', '--config', file], { cwd: root })).code, 0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query('SELECT max(version) AS v FROM schema_version');
    await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)', [Number(rows[0].v) + 1]);
    await client.end();
    const status = await postern(['migrate', '--status', '--config', file], { cwd: root });
    assert.equal(status.code, 1, 'status exits 1 on a database this node cannot use');
    assert.match(status.stdout, /the database is newer than this Postern: upgrade Postern on this node/);
    const json = await postern(['migrate', '--status', '--json', '--config', file], { cwd: root });
    assert.equal(json.code, 1);
    assert.ok(JSON.parse(json.stdout).current > JSON.parse(json.stdout).latest);
  }));
