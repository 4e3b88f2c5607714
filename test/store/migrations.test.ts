// Upgrades never lose mail or settings: databases populated at schema versions 1, 4, 5, 6 and 9 are
// migrated to the latest version on both engines, and everything in them is read back unchanged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { test } from 'node:test';
import { pendingMigrations } from '../../src/store/migrations.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { migratePostgres, POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { createPool } from '../../src/store/postgres/postgres-store.ts';
import { removeStalePartials } from '../../src/store/sqlite/database-copy.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import { migrateSqlite, SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { FREQUENT_CORRESPONDENTS_SQL } from '../../src/store/sqlite/quarantine.ts';
import { SchemaTooNewError } from '../../src/store/store.ts';
import { withTestDatabase } from '../support/postgres.ts';
import {
  assertIdsNeverReused,
  assertMigratedDatabaseWorks,
  assertUserJunkKept,
  assertVersion1DataSurvived,
  assertVersion4DataSurvived,
  assertVersion5DataSurvived,
  assertVersion6DataSurvived,
  type Execute,
  populateVersion1,
  populateVersion4,
  populateVersion5,
  populateVersion6,
} from './migration-fixture.ts';

/** The versions a database at `from - 1` is migrated through: `from` up to the latest. */
const upTo = (from: number) => Array.from({ length: SQLITE_MIGRATIONS.length - from + 1 }, (_, i) => from + i);

test('both engines know the same schema versions, under the same names', () => {
  assert.deepEqual(
    SQLITE_MIGRATIONS.map(({ version, name }) => ({ version, name })),
    POSTGRES_MIGRATIONS.map(({ version, name }) => ({ version, name })),
  );
});

test('pendingMigrations: forward only, and a newer database is refused', () => {
  const list = [
    { version: 1, name: 'a' },
    { version: 2, name: 'b' },
    { version: 3, name: 'c' },
  ];
  assert.deepEqual(
    pendingMigrations(list, 1).map((m) => m.version),
    [2, 3],
  );
  assert.deepEqual(
    pendingMigrations(list, 0, 1).map((m) => m.version),
    [1],
  );
  assert.deepEqual(pendingMigrations(list, 3), []);
  assert.throws(() => pendingMigrations(list, 4), SchemaTooNewError);
  assert.throws(() => pendingMigrations(list, 3, 2), /only go forward/);
});

/** A data directory holding a SQLite database at `version`, filled by `populate`. */
async function populatedSqlite(dir: string, version: number, populate: (execute: Execute) => Promise<void>) {
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const old = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
  old.exec('PRAGMA journal_mode = WAL');
  migrateSqlite(old, { target: version });
  await populate(async (sql, values) => {
    old.prepare(sql).run(...(values as SQLInputValue[]));
  });
  old.close();
  return dataDir;
}

/** Opens the SQLite store on a populated database, checking the backup taken before migrating it. */
async function openMigratedSqlite(dataDir: string, from: number, placements: number) {
  const store = await openSqliteStore({ dataDir });
  try {
    assert.equal(store.migration.from, from);
    assert.equal(store.migration.to, SQLITE_MIGRATIONS.length);
    assert.ok(store.migration.backup, 'a populated database is copied before it is migrated');
    assert.equal(fs.statSync(store.migration.backup).mode & 0o777, 0o600);
    const backup = new DatabaseSync(store.migration.backup, { readOnly: true });
    try {
      assert.equal(backup.prepare('PRAGMA user_version').get()?.user_version, from, 'the copy is the old version');
      assert.equal(backup.prepare('SELECT count(*) AS n FROM mailbox_messages').get()?.n, placements);
    } finally {
      backup.close();
    }
  } catch (error) {
    await store.close(); // its writer thread would keep the test process alive
    throw error;
  }
  return store;
}

/**
 * Brings a PostgreSQL database to `version` and fills it with `populate`; the identity sequences of
 * `sequenced` (all the fixture fills, by default) are then moved past the ids the fixture gave.
 */
async function populatePostgres(
  url: string,
  version: number,
  populate: (execute: Execute) => Promise<void>,
  sequenced = ['accounts', 'mailboxes', 'messages', ...(version >= 6 ? ['dkim_keys'] : [])],
) {
  const pool = createPool({ url, poolSize: 1 });
  try {
    await migratePostgres(pool, { target: version });
    await populate(async (sql, values) => {
      let n = 0;
      await pool.query(
        sql.replace(/\?/g, () => `$${++n}`),
        values.map((value) => (value instanceof Uint8Array ? Buffer.from(value) : value)),
      );
    });
    // The identity columns numbered no rows; the fixture gave numbers itself.
    for (const table of sequenced) {
      await pool.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
    }
  } finally {
    await pool.end();
  }
}

test('sqlite: a populated version-1 database migrates to the latest with every message, account and flag', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openMigratedSqlite(await populatedSqlite(dir, 1, populateVersion1), 1, 5);
  try {
    await assertVersion1DataSurvived(store);
    await assertMigratedDatabaseWorks(store);
  } finally {
    await store.close();
  }
});

test('postgres: a populated version-1 database migrates to the latest with every message, account and flag', () =>
  withTestDatabase(async ({ url }) => {
    await populatePostgres(url, 1, populateVersion1);
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.equal(store.migration.from, 1);
      assert.equal(store.migration.to, POSTGRES_MIGRATIONS.length);
      await assertVersion1DataSurvived(store);
      await assertMigratedDatabaseWorks(store);
    } finally {
      await store.close();
    }
  }));

test('sqlite: a populated version-4 database migrates to the latest with every message, flag, counter and setting', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openMigratedSqlite(await populatedSqlite(dir, 4, populateVersion4), 4, 6);
  try {
    assert.deepEqual(
      store.migration.applied.map((m) => m.version),
      upTo(5),
    );
    await assertVersion4DataSurvived(store);
    await assertUserJunkKept(store);
    await assertMigratedDatabaseWorks(store);
  } finally {
    await store.close();
  }
});

test('postgres: a populated version-4 database migrates to the latest with every message, flag, counter and setting', () =>
  withTestDatabase(async ({ url }) => {
    await populatePostgres(url, 4, populateVersion4);
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.deepEqual(
        store.migration.applied.map((m) => m.version),
        upTo(5),
      );
      await assertVersion4DataSurvived(store);
      await assertUserJunkKept(store);
      await assertMigratedDatabaseWorks(store);
    } finally {
      await store.close();
    }
  }));

test('sqlite: a populated version-5 database migrates to the latest with every message, mailbox and setting', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openMigratedSqlite(await populatedSqlite(dir, 5, populateVersion5), 5, 7);
  try {
    assert.deepEqual(
      store.migration.applied.map((m) => m.version),
      upTo(6),
    );
    await assertVersion5DataSurvived(store);
    await assertUserJunkKept(store);
    await assertMigratedDatabaseWorks(store);
  } finally {
    await store.close();
  }
});

test('postgres: a populated version-5 database migrates to the latest with every message, mailbox and setting', () =>
  withTestDatabase(async ({ url }) => {
    await populatePostgres(url, 5, populateVersion5);
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.deepEqual(
        store.migration.applied.map((m) => m.version),
        upTo(6),
      );
      await assertVersion5DataSurvived(store);
      await assertUserJunkKept(store);
      await assertMigratedDatabaseWorks(store);
    } finally {
      await store.close();
    }
  }));

test('sqlite: a populated version-6 database migrates to the latest with every message, mailbox, setting and DKIM key', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openMigratedSqlite(await populatedSqlite(dir, 6, populateVersion6), 6, 7);
  try {
    assert.deepEqual(
      store.migration.applied.map((m) => m.version),
      upTo(7),
    );
    await assertVersion6DataSurvived(store);
    await assertUserJunkKept(store);
    await assertMigratedDatabaseWorks(store);
  } finally {
    await store.close();
  }
});

test('postgres: a populated version-6 database migrates to the latest with every message, mailbox, setting and DKIM key', () =>
  withTestDatabase(async ({ url }) => {
    await populatePostgres(url, 6, populateVersion6);
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.deepEqual(
        store.migration.applied.map((m) => m.version),
        upTo(7),
      );
      await assertVersion6DataSurvived(store);
      await assertUserJunkKept(store);
      await assertMigratedDatabaseWorks(store);
    } finally {
      await store.close();
    }
  }));

test('sqlite: a version-9 database keeps every row, id and counter through the rebuild of accounts and mailboxes, and then reuses no id', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = await populatedSqlite(dir, 9, async (execute) => {
    await populateVersion6(execute);
    // What `postern restore` leaves in an older copy: the counters of the database it replaced.
    await execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', 40), ('quarantine', 12)", []);
    // An admin's own index and trigger on the rebuilt tables (SQLite drops them with a table) and a view.
    await execute('CREATE INDEX accounts_by_created ON accounts (created_at)', []);
    await execute('CREATE TABLE audit (what TEXT NOT NULL)', []);
    await execute(
      "CREATE TRIGGER mailbox_made AFTER INSERT ON mailboxes BEGIN INSERT INTO audit VALUES ('mailbox ' || new.id); END",
      [],
    );
    await execute(
      'CREATE VIEW mailbox_owners AS SELECT a.address, m.name FROM accounts a JOIN mailboxes m ON m.account_id = a.id',
      [],
    );
  });
  const store = await openMigratedSqlite(dataDir, 9, 7);
  try {
    assert.deepEqual(
      store.migration.applied.map((m) => [m.version, m.name]),
      [
        [10, 'account and mailbox ids never reused'],
        [11, 'sender history swept, partners learned from outbound mail'],
      ],
    );
    await assertVersion6DataSurvived(store);
    await assertUserJunkKept(store);
    await assertIdsNeverReused(store, 40);
  } finally {
    await store.close();
  }
  const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME), { readOnly: true });
  try {
    const all = (sql: string) =>
      db
        .prepare(sql)
        .all()
        .map((row) => Object.values(row));
    assert.deepEqual(
      all('SELECT name, seq FROM sqlite_sequence ORDER BY name'),
      [
        ['accounts', 41],
        ['mailboxes', 7],
        ['quarantine', 12],
      ],
      'one counter per table, none gone back',
    );
    for (const table of ['accounts', 'mailboxes']) {
      const sql = String(db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(table)?.sql);
      assert.match(sql, /id INTEGER PRIMARY KEY AUTOINCREMENT/, table);
    }
    assert.deepEqual(
      all("SELECT type, name FROM sqlite_schema WHERE name IN ('accounts_by_created', 'mailbox_made') ORDER BY name"),
      [
        ['index', 'accounts_by_created'],
        ['trigger', 'mailbox_made'],
      ],
    );
    assert.deepEqual(all('SELECT what FROM audit'), [['mailbox 7']], "the trigger fired for dave's INBOX alone");
    assert.deepEqual(all('SELECT address, name FROM mailbox_owners ORDER BY address, name'), [
      ['bob@example.com', 'INBOX'],
      ['bob@example.com', 'Junk'],
      ['dave@example.com', 'INBOX'],
    ]);
    assert.deepEqual(all('SELECT count(*) FROM mailbox_messages WHERE mailbox_id IN (1, 2, 4, 6)'), [[0]]);
    assert.deepEqual(all('PRAGMA foreign_key_check'), []);
    assert.deepEqual(all('PRAGMA integrity_check'), [['ok']]);
  } finally {
    db.close();
  }
});

test('sqlite: the rebuild turns foreign keys off for itself alone, keeps rows a shell removal left behind, and starts ids past them', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(path.join(dir, 'v9.sqlite'), { enableForeignKeyConstraints: true });
  try {
    migrateSqlite(db, { target: 9 });
    const setting = (name: string) => Number(Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0]);
    db.exec("INSERT INTO accounts (id, address, password_hash, created_at) VALUES (1, 'alice@example.com', 'x', 0)");
    // Account 9 removed in the sqlite3 shell, whose foreign keys are off by default: its INBOX and
    // alias stay behind, naming it.
    db.exec('PRAGMA foreign_keys = OFF');
    db.exec(
      "INSERT INTO mailboxes (id, account_id, name, uid_validity, uid_next, highest_modseq) VALUES (3, 9, 'INBOX', 1, 1, 1)",
    );
    db.exec("INSERT INTO aliases (address, account_id, created_at) VALUES ('old@example.com', 9, 0)");
    // A column added by hand: the rebuild would lose it, and refuses.
    db.exec('ALTER TABLE accounts ADD COLUMN note TEXT');
    db.exec('PRAGMA foreign_keys = ON');
    assert.throws(
      () => migrateSqlite(db),
      /cannot rebuild the accounts table: it has the columns id, address, password_hash, created_at, scram, disabled, note, not id, address, password_hash, created_at, scram, disabled \(changed by hand\?\)/,
    );
    assert.equal(setting('user_version'), 9, 'rolled back');
    assert.equal(setting('foreign_keys'), 1, 'enforced again');
    assert.equal(setting('legacy_alter_table'), 0);
    assert.equal(db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '%_rebuilt'").get(), undefined);
    db.exec('ALTER TABLE accounts DROP COLUMN note');
    assert.equal(migrateSqlite(db).to, SQLITE_MIGRATIONS.at(-1)!.version);
    assert.equal(setting('foreign_keys'), 1, 'enforced again');
    assert.equal(setting('legacy_alter_table'), 0);
    assert.deepEqual(
      db
        .prepare('SELECT id, account_id FROM mailboxes')
        .all()
        .map((row) => Object.values(row)),
      [[3, 9]],
      'what was there is kept as it was',
    );
    // Account id 9 would take the left-behind INBOX and alias: the next account gets 10, its INBOX 4.
    db.exec("INSERT INTO accounts (address, password_hash, created_at) VALUES ('new@example.com', 'x', 0)");
    db.exec(
      "INSERT INTO mailboxes (account_id, name, uid_validity, uid_next, highest_modseq) VALUES (10, 'INBOX', 2, 1, 1)",
    );
    assert.deepEqual(
      db
        .prepare('SELECT name, seq FROM sqlite_sequence ORDER BY name')
        .all()
        .map((row) => Object.values(row)),
      [
        ['accounts', 10],
        ['mailboxes', 4],
      ],
    );
  } finally {
    db.close();
  }
});

test('postgres: a version-9 database keeps every row, and its sequences move past ids the rows took themselves', () =>
  withTestDatabase(async ({ url }) => {
    // The accounts and mailboxes sequences are left behind the ids the fixture wrote: version 10 moves them.
    await populatePostgres(url, 9, populateVersion6, ['messages', 'dkim_keys']);
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      assert.deepEqual(
        store.migration.applied.map((m) => [m.version, m.name]),
        [
          [10, 'account and mailbox ids never reused'],
          [11, 'sender history swept, partners learned from outbound mail'],
        ],
      );
      await assertVersion6DataSurvived(store);
      await assertUserJunkKept(store);
      await assertIdsNeverReused(store);
    } finally {
      await store.close();
    }
  }));

/** `table.column notnull=… pk=…` for each column of the tables at schema version `target`, on each engine. */
async function sqliteColumns(dir: string, tables: string[], target: number): Promise<string[]> {
  const db = new DatabaseSync(path.join(dir, `schema-v${target}.sqlite`));
  const columns: string[] = [];
  try {
    migrateSqlite(db, { target });
    for (const table of tables) {
      for (const column of db.prepare(`PRAGMA table_info(${table})`).all()) {
        columns.push(
          `${table}.${column.name} notnull=${Boolean(column.notnull || column.pk)} pk=${Boolean(column.pk)}`,
        );
      }
    }
  } finally {
    db.close();
  }
  return columns;
}

function postgresColumns(tables: string[], target: number): Promise<string[]> {
  return withTestDatabase(async ({ url }) => {
    const pool = createPool({ url, poolSize: 1 });
    try {
      await migratePostgres(pool, { target });
      const { rows } = await pool.query(
        `SELECT c.table_name, c.column_name, c.is_nullable = 'NO' AS notnull,
           EXISTS (SELECT 1 FROM information_schema.key_column_usage k
                   JOIN information_schema.table_constraints tc USING (constraint_name, table_name)
                   WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name
                     AND k.column_name = c.column_name) AS pk
         FROM information_schema.columns c
         WHERE c.table_name = ANY($1) ORDER BY array_position($1, c.table_name::text), c.ordinal_position`,
        [tables],
      );
      return rows.map((r) => `${r.table_name}.${r.column_name} notnull=${r.notnull} pk=${r.pk}`);
    } finally {
      await pool.end();
    }
  });
}

test('the greylisting tables (version 3) have the same columns, NOT NULL and keys on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['greylist', 'greylist_clients'];
  const sqlite = await sqliteColumns(dir, tables, 3);
  assert.deepEqual(await postgresColumns(tables, 3), sqlite);
  assert.ok(sqlite.includes('greylist.triplet notnull=true pk=true'));
  assert.ok(sqlite.includes('greylist_clients.passes notnull=true pk=false'));
});

test('the account tables (version 4) have the same columns, NOT NULL and keys on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['accounts', 'aliases', 'login_failures'];
  const sqlite = await sqliteColumns(dir, tables, 4);
  assert.deepEqual(await postgresColumns(tables, 4), sqlite);
  for (const column of [
    'accounts.scram notnull=false pk=false',
    'accounts.disabled notnull=true pk=false',
    'aliases.address notnull=true pk=true',
    'aliases.account_id notnull=true pk=false',
    'login_failures.key notnull=true pk=true',
    'login_failures.blocked_until notnull=false pk=false',
  ]) {
    assert.ok(sqlite.includes(column), column);
  }
});

test('the mailboxes table (version 5) has the same columns, NOT NULL and keys on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['mailboxes'];
  const sqlite = await sqliteColumns(dir, tables, 5);
  assert.deepEqual(await postgresColumns(tables, 5), sqlite);
  assert.ok(sqlite.includes('mailboxes.special_use notnull=false pk=false'));
});

test('the dkim_keys table (version 6) has the same columns, NOT NULL and keys on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['dkim_keys'];
  const sqlite = await sqliteColumns(dir, tables, 6);
  assert.deepEqual(await postgresColumns(tables, 6), sqlite);
  for (const column of [
    'dkim_keys.id notnull=true pk=true',
    'dkim_keys.private_key notnull=true pk=false',
    'dkim_keys.state notnull=true pk=false',
    'dkim_keys.activated_at notnull=false pk=false',
    'dkim_keys.retire_after notnull=false pk=false',
  ]) {
    assert.ok(sqlite.includes(column), column);
  }
});

test('the quarantine and senders tables (version 7) have the same columns, NOT NULL and keys on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['quarantine', 'senders'];
  const sqlite = await sqliteColumns(dir, tables, 7);
  assert.deepEqual(await postgresColumns(tables, 7), sqlite);
  for (const column of [
    'quarantine.id notnull=true pk=true',
    'quarantine.verdict notnull=true pk=false',
    'quarantine.content notnull=true pk=false',
    'senders.address notnull=true pk=true',
    'senders.first_seen notnull=true pk=false',
  ]) {
    assert.ok(sqlite.includes(column), column);
  }
});

test('sender history with last_seen and the correspondent_domains table (version 11) match on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tables = ['senders', 'correspondent_domains'];
  const sqlite = await sqliteColumns(dir, tables, 11);
  assert.deepEqual(await postgresColumns(tables, 11), sqlite);
  for (const column of [
    'senders.last_seen notnull=true pk=false',
    'correspondent_domains.domain notnull=true pk=true',
    'correspondent_domains.messages notnull=true pk=false',
    'correspondent_domains.last_seen notnull=true pk=false',
  ]) {
    assert.ok(sqlite.includes(column), column);
  }
});

test('sqlite: a version-10 database keeps its sender history, last seen now, and learns partners afresh', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(path.join(dir, 'v10.sqlite'));
  t.after(() => db.close());
  migrateSqlite(db, { target: 10 });
  db.prepare("INSERT INTO senders (address, messages, first_seen) VALUES ('x@examp1e.com', 9, 1000)").run();
  const before = Date.now();
  migrateSqlite(db);
  const row = db.prepare('SELECT messages, first_seen, last_seen FROM senders').get();
  assert.equal(row?.messages, 9);
  assert.equal(row?.first_seen, 1000);
  assert.ok(
    Number(row?.last_seen) >= before - 1000 && Number(row?.last_seen) <= Date.now() + 1000,
    'not swept at once',
  );
  assert.equal(db.prepare('SELECT count(*) AS n FROM correspondent_domains').get()?.n, 0);
});

test('sqlite: the relearn reads correspondent_domains by its index, stopping at its limit, and nothing else', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(path.join(dir, 'plan.sqlite'));
  t.after(() => db.close());
  migrateSqlite(db);
  const plan = db
    .prepare(`EXPLAIN QUERY PLAN ${FREQUENT_CORRESPONDENTS_SQL}`)
    .all({ min: 5, since: 0, limit: 300 })
    .map((row) => String(row.detail));
  assert.deepEqual(
    plan,
    ['SEARCH correspondent_domains USING INDEX correspondent_domains_by_messages (messages>?)'],
    plan.join('; '),
  );
  // The work is the rows returned: a million addresses in `senders` cost it nothing.
  const insert = db.prepare('INSERT INTO correspondent_domains VALUES (?, ?, 0, 0)');
  for (let i = 1; i <= 2000; i++) insert.run(`d${i}.example`, i);
  const read = db.prepare(FREQUENT_CORRESPONDENTS_SQL);
  assert.equal(read.all({ min: 5, since: 0, limit: 300 }).length, 300);
});

test('the secrets table (version 8) has the same columns, NOT NULL and key on both engines', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sqlite = await sqliteColumns(dir, ['secrets'], 8);
  assert.deepEqual(await postgresColumns(['secrets'], 8), sqlite);
  for (const column of ['secrets.name notnull=true pk=true', 'secrets.value notnull=true pk=false']) {
    assert.ok(sqlite.includes(column), column);
  }
});

test('sqlite: a new database is made in one transaction: a migration that fails leaves nothing half made', (t) => {
  // Another process must never see a new store at a version in between (a CLI command took one for an
  // old store and refused it). A table in the way of migration 7 makes the creation fail there.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-migrate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(path.join(dir, 'new.sqlite'));
  try {
    db.exec('CREATE TABLE quarantine (x INTEGER)');
    assert.throws(() => migrateSqlite(db), /quarantine already exists/);
    assert.equal(Number(db.prepare('PRAGMA user_version').get()?.user_version), 0, 'no version in between');
    assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'accounts'").get(), undefined);
    db.exec('DROP TABLE quarantine');
    assert.equal(migrateSqlite(db).to, SQLITE_MIGRATIONS.at(-1)!.version);
  } finally {
    db.close();
  }
});

test('postgres: a new database is made in one transaction: a migration that fails leaves nothing half made', () =>
  withTestDatabase(async ({ url }) => {
    const pool = createPool({ url, poolSize: 1 });
    try {
      await pool.query('CREATE TABLE quarantine (x INTEGER)');
      await assert.rejects(migratePostgres(pool), /quarantine/);
      const { rows } = await pool.query(
        "SELECT to_regclass('accounts') AS accounts, to_regclass('schema_version') AS v",
      );
      assert.deepEqual(rows[0], { accounts: null, v: null }, 'nothing of the schema was left');
      await pool.query('DROP TABLE quarantine');
      assert.equal((await migratePostgres(pool)).to, POSTGRES_MIGRATIONS.at(-1)!.version);
    } finally {
      await pool.end();
    }
  }));

test('sqlite: a backup that fails (a full disk) leaves no partial copy and says which file and step failed', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-backup-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(path.join(dir, DATABASE_FILE_NAME));
  t.after(() => db.close());
  migrateSqlite(db, { target: 1 });
  // The copy fails as VACUUM INTO does on a full disk; everything else is the real connection.
  const failing = new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (sql: string) =>
          sql.startsWith('VACUUM INTO')
            ? {
                run() {
                  throw new Error('database or disk is full');
                },
              }
            : target.prepare(sql);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const backupDir = path.join(dir, 'backups');
  assert.throws(
    () => migrateSqlite(failing, { backupDir }),
    /cannot back the store up to .*backups\/postern-v1-.*\.sqlite before migrating it: database or disk is full/,
  );
  assert.deepEqual(fs.readdirSync(backupDir), [], 'no 0-byte copy left behind for each failed start');
  assert.equal(db.prepare('PRAGMA user_version').get()?.user_version, 1, 'nothing migrated without the copy');
});

/** Runs migrateSqlite on `file` in a child that SIGKILLs itself as the backup's VACUUM INTO starts or ends. */
function migrateKilledMidBackup(file: string, backupDir: string, when: 'before' | 'after'): number {
  const migrations = new URL('../../src/store/sqlite/migrations.ts', import.meta.url).href;
  const script = `
    import { DatabaseSync } from 'node:sqlite';
    import { migrateSqlite } from ${JSON.stringify(migrations)};
    const db = new DatabaseSync(${JSON.stringify(file)});
    const kill = () => process.kill(process.pid, 'SIGKILL');
    const killing = new Proxy(db, {
      get(target, property) {
        if (property === 'prepare')
          return (sql) => sql.startsWith('VACUUM INTO')
            ? { run(...args) { if (${JSON.stringify(when)} === 'before') kill(); target.prepare(sql).run(...args); kill(); } }
            : target.prepare(sql);
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    migrateSqlite(killing, { backupDir: ${JSON.stringify(backupDir)} });
    console.log('not killed');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(child.signal, 'SIGKILL', `the child was killed mid-backup (${child.stdout}${child.stderr})`);
  return child.pid!;
}

const BACKUP_NAME = /^postern-v\d+-[0-9TZ-]+\.sqlite$/;

for (const when of ['before', 'after'] as const) {
  test(`sqlite: a migrate killed ${when === 'before' ? 'as its backup starts' : 'before its finished backup is synced and named'} leaves no file named like a backup, and the next one removes what it left`, (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-backup-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, DATABASE_FILE_NAME);
    const backupDir = path.join(dir, 'backups');
    const db = new DatabaseSync(file);
    t.after(() => db.close());
    migrateSqlite(db, { target: 1 });
    db.prepare('INSERT INTO counters (name, value) VALUES (?, ?)').run('kept', 42);

    const pid = migrateKilledMidBackup(file, backupDir, when);
    const left = fs.readdirSync(backupDir);
    assert.deepEqual(
      left.filter((name) => BACKUP_NAME.test(name)),
      [],
      'a copy cut short must not look like a backup someone could restore',
    );
    assert.ok(left.length > 0 && left.every((name) => name.includes(`.partial-${pid}`)), `only partial files: ${left}`);
    assert.equal(db.prepare('PRAGMA user_version').get()?.user_version, 1, 'nothing was migrated');

    const outcome = migrateSqlite(db, { backupDir });
    const backups = fs.readdirSync(backupDir);
    assert.deepEqual(backups, [path.basename(outcome.backup!)], 'the stale partial copy is gone, the new backup alone');
    assert.match(backups[0]!, BACKUP_NAME);
    assert.equal(fs.statSync(outcome.backup!).mode & 0o777, 0o600);
    const backup = new DatabaseSync(outcome.backup!, { readOnly: true });
    try {
      assert.equal(backup.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
      assert.equal(backup.prepare('PRAGMA user_version').get()?.user_version, 1);
      assert.equal(backup.prepare("SELECT value FROM counters WHERE name = 'kept'").get()?.value, 42);
    } finally {
      backup.close();
    }
  });
}

test('sqlite: the partial copies of a process still running are left alone', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-backup-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const names = [
    `postern-v1-a.sqlite.partial-${process.pid}`, // another store of this process, copying now
    `postern-v1-b.sqlite.partial-${process.ppid}`, // another process: a migrate beside a starting server
    `postern-v1-c.sqlite.partial-${dead}`,
    `postern-v1-c.sqlite.partial-${dead}-journal`,
    'postern-v1-d.sqlite', // backups, and files that are none of ours
    'notes.partial',
  ];
  for (const name of names) fs.writeFileSync(path.join(dir, name), '');
  assert.deepEqual(removeStalePartials(dir).sort(), names.slice(2, 4).sort());
  assert.deepEqual(fs.readdirSync(dir).sort(), [...names.slice(0, 2), ...names.slice(4)].sort());
  assert.deepEqual(removeStalePartials(path.join(dir, 'missing')), [], 'no backups directory yet: nothing to do');
});
