/**
 * The SQLite schema, version 1. All schema creation lives here so that a later change can add
 * versioned migrations (v1 → v2 …) in one place; the PostgreSQL engine keeps the same tables.
 *
 * Times are stored as milliseconds since the epoch (INTEGER); message content is stored once in
 * `messages` and referenced from each mailbox that holds it (`mailbox_messages`).
 */

import type { DatabaseSync } from 'node:sqlite';

export const SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
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

`;

export class SchemaVersionError extends Error {
  readonly code = 'SCHEMA_VERSION';
}

/**
 * Creates the schema in an empty database, or checks that an existing one is the version this
 * code knows. Runs in one IMMEDIATE transaction so two processes opening a new file at once
 * cannot both create it.
 */
export function applySchema(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
    if (version === 0) {
      db.exec(SCHEMA_V1);
      db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION, Date.now());
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    } else if (version !== SCHEMA_VERSION) {
      throw new SchemaVersionError(
        `database schema version ${version} is not supported (this Postern knows version ${SCHEMA_VERSION})`,
      );
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
