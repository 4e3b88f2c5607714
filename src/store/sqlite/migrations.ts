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
import { copyDatabase } from './database-copy.ts';

interface SqliteMigration extends Migration {
  sql: string;
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
  if (pending.length === 0) return outcome;
  if (from > 0 && options.backupDir) outcome.backup = backUp(db, options.backupDir, from);
  const steps = from === 0 ? [pending] : pending.map((migration) => [migration]);
  for (const step of steps) {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const migration of step) {
        // Another process may have applied it while we waited for the lock.
        if (currentVersion(db) >= migration.version) continue;
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
        db.exec(`PRAGMA user_version = ${migration.version}`);
        outcome.applied.push({ version: migration.version, name: migration.name });
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }
  outcome.to = currentVersion(db);
  return outcome;
}

/**
 * A consistent copy of the database (VACUUM INTO), mode 0600 like the original, taken before a
 * migration touches it: the way back if an upgrade goes wrong.
 */
function backUp(db: DatabaseSync, backupDir: string, version: number): string {
  fs.mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(backupDir, `postern-v${version}-${stamp}.sqlite`);
  try {
    copyDatabase(db, file);
  } catch (error) {
    throw new StoreUnavailableError(
      `cannot back the store up to ${file} before migrating it: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return file;
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
