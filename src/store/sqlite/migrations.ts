/**
 * The SQLite schema as an ordered list of migrations (see ../migrations.ts for the rules), and the
 * code that applies them. The PostgreSQL engine has the same versions in its own dialect.
 *
 * Times are stored as milliseconds since the epoch (INTEGER); message content is stored once in
 * `messages` and referenced from each mailbox that holds it (`mailbox_messages`).
 * `PRAGMA user_version` holds the current version; `schema_version` records when each was applied.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import {
  assertMigrationList,
  type Migration,
  type MigrationOutcome,
  pendingMigrations,
  type SchemaStatus,
  schemaStatus,
} from '../migrations.ts';
import { StoreUnavailableError } from '../store.ts';
import { copyDatabaseAs, removeStalePartials } from './database-copy.ts';

interface SqliteMigration extends Migration {
  sql?: string;
  /** Tables remade with a new definition, for a change ALTER TABLE cannot make (see rebuildTables). */
  rebuild?: readonly TableRebuild[];
}

interface TableRebuild {
  table: string;
  /** The new table's columns, in the order the old one has them, and its table constraints. */
  definition: string;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'accounts, mailboxes, messages',
    sql: `
CREATE TABLE schema_version (
  version INTEGER NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;

CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL CHECK (uid_validity > 0),
  uid_next INTEGER NOT NULL CHECK (uid_next > 0),
  highest_modseq INTEGER NOT NULL CHECK (highest_modseq > 0),
  UNIQUE (account_id, name)
) STRICT;

CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  content BLOB NOT NULL,
  size INTEGER NOT NULL,
  header_from TEXT NOT NULL,
  header_subject TEXT NOT NULL,
  header_date INTEGER,
  header_message_id TEXT,
  -- the SMTP envelope it arrived with (RFC 5321 §3.3), kept with the content it belongs to
  mail_from TEXT NOT NULL,
  recipients TEXT NOT NULL, -- JSON array of addresses, as given in RCPT TO
  received_at INTEGER NOT NULL
) STRICT;

CREATE TABLE mailbox_messages (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  modseq INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  internal_date INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;

-- Finds the mailboxes still holding a message when content may become unreferenced.
CREATE INDEX mailbox_messages_by_message ON mailbox_messages(message_id);

`,
  },
  {
    version: 2,
    name: 'shared job queue',
    sql: `
CREATE TABLE queue (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claimed_until INTEGER,
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX queue_by_due ON queue(due_at, id);
`,
  },
  {
    version: 3,
    name: 'greylisting',
    sql: `
-- One row per (client network, sender, recipient) triplet; key built by src/policy/greylist.ts.
CREATE TABLE greylist (
  triplet TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  passed INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- The learning pass-list: client networks and how often they passed greylisting.
CREATE TABLE greylist_clients (
  network TEXT PRIMARY KEY,
  passes INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The sweep of expired rows.
CREATE INDEX greylist_by_last_seen ON greylist(last_seen);
CREATE INDEX greylist_clients_by_last_seen ON greylist_clients(last_seen);
`,
  },
  {
    version: 4,
    name: 'account credentials, aliases, login failures',
    sql: `
-- RFC 5803 SCRAM-SHA-256 credentials, written with the password by the CLI; NULL for accounts
-- created before this version (PLAIN and LOGIN work, SCRAM after "postern user passwd").
ALTER TABLE accounts ADD COLUMN scram TEXT;
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

-- A full address delivering to an account; never the address of an account (checked on write).
CREATE TABLE aliases (
  address TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX aliases_by_account ON aliases(account_id);

-- Failed logins per key (ip:…, account:…), shared by every process on the file.
CREATE TABLE login_failures (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  blocked_until INTEGER
) STRICT, WITHOUT ROWID;

-- The sweep of expired rows.
CREATE INDEX login_failures_by_window ON login_failures(window_start);
`,
  },
  {
    version: 5,
    name: 'special-use mailboxes (Junk)',
    sql: `
-- RFC 6154 §2 attribute of a mailbox ('\\Junk' for the Junk mailbox deliveries create), NULL for
-- none. Existing mailboxes keep NULL, a user-made "Junk" included: the store sets it only on the
-- mailbox it creates. Keywords of a delivery go in mailbox_messages.flags, as since version 1.
ALTER TABLE mailboxes ADD COLUMN special_use TEXT;
`,
  },
  {
    version: 6,
    name: 'DKIM signing keys',
    sql: `
-- RFC 6376 §3.6 signing keys of our domains. private_key (PKCS#8 PEM) is a secret: the file is 0600.
-- Times in ms since the epoch; activated_at is when the key started signing, retire_after when a
-- retiring key (replaced by a rotation, its record still published) becomes retired.
CREATE TABLE dkim_keys (
  id INTEGER PRIMARY KEY,
  domain TEXT NOT NULL,
  selector TEXT NOT NULL,
  algorithm TEXT NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
  bits INTEGER NOT NULL CHECK (bits > 0),
  private_key TEXT NOT NULL,
  public_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retiring', 'retired')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retire_after INTEGER,
  UNIQUE (domain, selector)
) STRICT;
`,
  },
  {
    version: 7,
    name: 'quarantine, sender history',
    sql: `
-- Messages the content filter held back, each with its verdict (JSON, as src/filter wrote it) and
-- the envelope it came with. AUTOINCREMENT: an id is never reused, so one an admin noted names the
-- same message or none. From and Subject are read from the header at write time (src/mime/summary.ts).
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at INTEGER NOT NULL,
  mail_from TEXT NOT NULL,
  recipients TEXT NOT NULL, -- JSON array of addresses, as given in RCPT TO
  header_from TEXT NOT NULL,
  header_subject TEXT NOT NULL,
  size INTEGER NOT NULL,
  score REAL NOT NULL,
  category TEXT NOT NULL,
  reason TEXT NOT NULL,
  verdict TEXT NOT NULL,
  content BLOB NOT NULL
) STRICT;

-- Addresses the organisation has corresponded with (mail from them, mail to them), lower-cased:
-- the phishing detector's "first message from this sender". Times in ms since the epoch.
CREATE TABLE senders (
  address TEXT PRIMARY KEY,
  messages INTEGER NOT NULL CHECK (messages > 0),
  first_seen INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 8,
    name: 'server secrets',
    sql: `
-- Random values every node must share and nobody outside may learn (the key SCRAM's made-up salts
-- for unknown users are derived from), made on first use. The table holds secrets: mode 0600, as the rest.
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 9,
    name: 'quarantine retention',
    sql: `
-- The retention sweep (src/filter/quarantine-expiry.ts) removes the oldest entries first, a batch
-- at a time: read from here, a batch costs its own rows, not a scan of every quarantined message.
CREATE INDEX quarantine_by_received_at ON quarantine (received_at);
`,
  },
  {
    version: 10,
    name: 'account and mailbox ids never reused',
    // Without AUTOINCREMENT SQLite gives a new row the highest id plus one: an account made after the
    // one with the highest id was removed took its id, and mail the server had accepted for the removed
    // address by the id it looked up (and cached) went to the new account. With it, a new id is above
    // every id the table ever held. Same columns, constraints, rows and ids; mailboxes likewise.
    rebuild: [
      {
        table: 'accounts',
        definition: `
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  address TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  scram TEXT,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
`,
      },
      {
        table: 'mailboxes',
        definition: `
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL CHECK (uid_validity > 0),
  uid_next INTEGER NOT NULL CHECK (uid_next > 0),
  highest_modseq INTEGER NOT NULL CHECK (highest_modseq > 0),
  special_use TEXT,
  UNIQUE (account_id, name)
`,
      },
    ],
  },
  {
    version: 11,
    name: 'sender history swept, partners learned from outbound mail',
    sql: `
-- When an address was last recorded, for the sweep of rows unseen for 400 days (sender-tally.ts).
-- Rows already here were last seen at some unknown time: they count from this migration on.
ALTER TABLE senders ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
UPDATE senders SET last_seen = CAST(unixepoch('subsec') * 1000 AS INTEGER);
CREATE INDEX senders_by_last_seen ON senders (last_seen);

-- Recipient domains (registrable, A-label, lower-cased) of the mail our users send, one count per
-- message: the phishing check's learned partners. Only outbound mail: a domain that merely writes
-- to us (a phisher's lookalike) must not become a partner. Starts empty: the senders rows never
-- said which direction they came from.
CREATE TABLE correspondent_domains (
  domain TEXT PRIMARY KEY,
  messages INTEGER NOT NULL CHECK (messages > 0),
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- The relearn reads the most written-to first and stops at its limit; the sweep, the oldest first.
CREATE INDEX correspondent_domains_by_messages ON correspondent_domains (messages DESC, domain);
CREATE INDEX correspondent_domains_by_last_seen ON correspondent_domains (last_seen);
`,
  },
];
assertMigrationList(SQLITE_MIGRATIONS);

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

export interface SqliteMigrateOptions {
  /** Stop at this version (tests build old databases with it); the latest by default. */
  target?: number;
  /** Where to copy a populated database before migrating it; no copy when absent. */
  backupDir?: string;
}

export function currentVersion(db: DatabaseSync): number {
  return Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
}

/**
 * Brings the database to the latest version (or `target`). Each migration of an existing database
 * runs in its own IMMEDIATE transaction, so a failed one leaves the version before it; a new
 * database is made in one, so that no other process ever sees it half made (a CLI command started
 * next to another that was creating the store took the version in between for an old store, and
 * refused it). Two processes opening a new file at once cannot both create it. Refuses a database
 * newer than this code.
 */
export function migrateSqlite(db: DatabaseSync, options: SqliteMigrateOptions = {}): MigrationOutcome {
  const from = currentVersion(db);
  const pending = pendingMigrations(SQLITE_MIGRATIONS, from, options.target);
  const outcome: MigrationOutcome = { from, to: from, applied: [] };
  // A migrate killed while it copied the store left a partial copy: never a backup, only disk used.
  if (options.backupDir) removeStalePartials(options.backupDir);
  if (pending.length === 0) return outcome;
  if (from > 0 && options.backupDir) outcome.backup = backUp(db, options.backupDir, from);
  const steps = from === 0 ? [pending] : pending.map((migration) => [migration]);
  for (const step of steps) {
    // A rebuild drops a table other tables refer to: with enforcement on, the DROP would delete their
    // rows (ON DELETE CASCADE). PRAGMA foreign_keys does nothing inside a transaction, so it is turned
    // off before BEGIN and back on after the end (https://www.sqlite.org/lang_altertable.html §7,
    // steps 1 and 12); rebuildTables checks the keys before the COMMIT instead.
    const enforced = step.some((migration) => migration.rebuild) && foreignKeysEnforced(db);
    if (enforced) db.exec('PRAGMA foreign_keys = OFF');
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const migration of step) {
          // Another process may have applied it while we waited for the lock.
          if (currentVersion(db) >= migration.version) continue;
          if (migration.sql) db.exec(migration.sql);
          if (migration.rebuild) rebuildTables(db, migration.rebuild);
          db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(
            migration.version,
            Date.now(),
          );
          db.exec(`PRAGMA user_version = ${migration.version}`);
          outcome.applied.push({ version: migration.version, name: migration.name });
        }
        db.exec('COMMIT');
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      if (enforced) db.exec('PRAGMA foreign_keys = ON');
    }
  }
  outcome.to = currentVersion(db);
  return outcome;
}

function foreignKeysEnforced(db: DatabaseSync): boolean {
  return Number(db.prepare('PRAGMA foreign_keys').get()?.foreign_keys ?? 0) === 1;
}

/**
 * SQLite's procedure for a change ALTER TABLE cannot make (https://www.sqlite.org/lang_altertable.html
 * §7), steps 3 to 10, inside the caller's transaction and with foreign keys off: each table is copied
 * into a new one made from its new definition, row for row with its ids, then dropped, and the copy
 * takes its name; the table's own indexes and triggers (dropped with it) are made again.
 *
 * An AUTOINCREMENT table's counter starts past every id known to have been given out: the highest the
 * table holds, the highest another table still refers to (rows left by a removal with foreign keys
 * off, as the sqlite3 shell runs by default), and the counter sqlite_sequence already had under the
 * table's name (`postern restore` carries the replaced database's counters into an older copy).
 */
function rebuildTables(db: DatabaseSync, rebuilds: readonly TableRebuild[]): void {
  const tables = rebuilds.map((rebuild) => rebuild.table);
  const before = keyViolations(db, tables);
  // Views, and triggers of other tables, that name the table: the rename below would re-read them while
  // the table is gone and refuse ("error in view …: no such table"). The legacy rename leaves them be;
  // they name the table again once the copy has its name.
  const legacy = Number(db.prepare('PRAGMA legacy_alter_table').get()?.legacy_alter_table ?? 0);
  db.exec('PRAGMA legacy_alter_table = ON');
  try {
    for (const { table, definition } of rebuilds) {
      const copy = `${table}_rebuilt`;
      const own = db
        .prepare(
          "SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        )
        .all(table)
        .map((row) => String(row.sql));
      db.exec(`CREATE TABLE ${copy} (${definition}) STRICT`);
      const columns = columnsOf(db, table);
      const wanted = columnsOf(db, copy);
      if (columns.join() !== wanted.join()) {
        throw new Error(
          `cannot rebuild the ${table} table: it has the columns ${columns.join(', ')}, not ${wanted.join(', ')} (changed by hand?)`,
        );
      }
      const given = highestIdGiven(db, table);
      const list = columns.join(', ');
      db.exec(`INSERT INTO ${copy} (${list}) SELECT ${list} FROM ${table}`);
      db.exec(`DROP TABLE ${table}`);
      db.exec(`ALTER TABLE ${copy} RENAME TO ${table}`);
      // The rename gave the copy's counter the table's name, beside any row kept under that name from
      // before: one row, holding the highest.
      db.prepare('DELETE FROM sqlite_sequence WHERE name = ?').run(table);
      db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, given);
      for (const sql of own) db.exec(sql);
    }
  } finally {
    db.exec(`PRAGMA legacy_alter_table = ${legacy ? 'ON' : 'OFF'}`);
  }
  // Step 10. References that were broken before (see above) stay as they were: only new ones refuse.
  const after = keyViolations(db, tables);
  for (const [key, count] of after) {
    if (count > (before.get(key) ?? 0)) {
      const [child, parent] = key.split(' ');
      throw new Error(`rebuilding ${tables.join(' and ')} broke ${child} rows' references to ${parent}`);
    }
  }
}

function columnsOf(db: DatabaseSync, table: string): string[] {
  return db
    .prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid')
    .all(table)
    .map((column) => String(column.name));
}

/** The columns of other tables (and of `table` itself) that refer to `table`. */
function referencesTo(db: DatabaseSync, table: string): { child: string; column: string }[] {
  return db
    .prepare(
      `SELECT s.name AS child, f."from" AS column FROM sqlite_schema s, pragma_foreign_key_list(s.name) f
       WHERE s.type = 'table' AND lower(f."table") = lower(?)`,
    )
    .all(table)
    .map((row) => ({ child: String(row.child), column: String(row.column) }));
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The highest id `table` is known to have given out; 0 when none is (see rebuildTables). */
function highestIdGiven(db: DatabaseSync, table: string): number {
  const values = [
    db.prepare('SELECT max(seq) AS n FROM sqlite_sequence WHERE name = ?').get(table)?.n,
    db.prepare(`SELECT max(id) AS n FROM ${table}`).get()?.n,
    ...referencesTo(db, table).map(
      ({ child, column }) => db.prepare(`SELECT max(${quoted(column)}) AS n FROM ${quoted(child)}`).get()?.n,
    ),
  ];
  return Math.max(
    0,
    ...values.map((value) => (typeof value === 'number' || typeof value === 'bigint' ? Number(value) : 0)),
  );
}

/**
 * Broken foreign key references, counted by `child parent`, in the tables that refer to `tables`
 * and in those tables themselves.
 */
function keyViolations(db: DatabaseSync, tables: readonly string[]): Map<string, number> {
  const children = new Set(tables);
  for (const table of tables) for (const { child } of referencesTo(db, table)) children.add(child);
  const counts = new Map<string, number>();
  const check = db.prepare(
    'SELECT "table" AS child, parent, count(*) AS n FROM pragma_foreign_key_check(?) GROUP BY parent',
  );
  for (const child of children) {
    for (const row of check.all(child)) counts.set(`${String(row.child)} ${String(row.parent)}`, Number(row.n));
  }
  return counts;
}

/**
 * A consistent copy of the database (VACUUM INTO), mode 0600 like the original, taken before a
 * migration touches it: the way back if an upgrade goes wrong. It gets its name only once whole and
 * synced (copyDatabaseAs): a file named like a backup is one that can be restored.
 */
function backUp(db: DatabaseSync, backupDir: string, version: number): string {
  makeBackupsDirectory(backupDir, 'the copies taken before a migration');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(backupDir, `postern-v${version}-${stamp}.sqlite`);
  try {
    copyDatabaseAs(db, file);
  } catch (error) {
    throw new StoreUnavailableError(
      `cannot back the store up to ${file} before migrating it: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return file;
}

/**
 * `dataDir/backups/`, made if missing. mkdir's own "EEXIST: file already exists" where a file has
 * that name tells an admin neither which file is in the way nor what the directory is for.
 */
export function makeBackupsDirectory(backupDir: string, holds: string): void {
  try {
    fs.mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new StoreUnavailableError(
      `${backupDir} is a file where a directory for ${holds} is needed: move that file elsewhere (or rename it)`,
      { cause: error },
    );
  }
}

export function sqliteSchemaStatus(db: DatabaseSync | undefined, file: string): SchemaStatus {
  const current = db ? currentVersion(db) : 0;
  const rows =
    db && current > 0
      ? (db.prepare('SELECT version, applied_at FROM schema_version ORDER BY version').all() as {
          version: number;
          applied_at: number;
        }[])
      : [];
  return schemaStatus('sqlite', file, SQLITE_MIGRATIONS, current, rows);
}
