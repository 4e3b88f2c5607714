/**
 * `postern backup` and `postern restore` for the SQLite store.
 *
 * A backup is a consistent, compact copy taken while the server runs (database-copy.ts), checked
 * before it is given its name. A restore puts a checked copy of a backup in place of the live
 * database with the server stopped: the database it replaces is moved to `backups/` with its WAL,
 * never deleted, and every mailbox gets a new UIDVALIDITY, because the restored mailboxes have lost
 * the messages delivered since the backup and their UIDs will be given again (RFC 9051 §2.3.1.1:
 * a UID must never refer to another message under the same UIDVALIDITY).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreUnavailableError } from '../store.ts';
import { MAX_UID_VALIDITY, UID_VALIDITY_COUNTER } from './accounts.ts';
import { DEFAULT_BUSY_TIMEOUT_MS } from './connection.ts';
import { copyDatabase, syncDirectory } from './database-copy.ts';
import { currentVersion, SQLITE_SCHEMA_VERSION } from './migrations.ts';
import { DATABASE_FILE_NAME } from './sqlite-store.ts';

export interface DatabaseSummary {
  file: string;
  schemaVersion: number;
  accounts: number;
  /** Stored messages (one copy each, however many mailboxes hold it). */
  messages: number;
  bytes: number;
}

export interface RestoreOutcome {
  restored: DatabaseSummary;
  /** Where the database that was in place went (with its -wal), when there was one. */
  replaced?: string;
  /**
   * The -wal, -shm or -journal files found without a database beside them (it was moved or lost),
   * moved to `backups/`: SQLite would replay them onto the restored database.
   */
  setAside?: string[];
  /** Mailboxes that got a new UIDVALIDITY. */
  mailboxes: number;
}

/**
 * Copies the live database to `destination`, which must not exist: the copy is written under a
 * temporary name beside it, checked, synced and only then linked to its name, so a failed or
 * interrupted backup never leaves a file that looks like a good one.
 */
export function backUpSqliteStore(dataDir: string, destination: string): DatabaseSummary {
  const live = path.join(dataDir, DATABASE_FILE_NAME);
  if (!fs.existsSync(live))
    throw new StoreUnavailableError(`there is no SQLite store to back up: ${live} does not exist`);
  // Said before the copy is made (a large store takes a while); the link at the end checks again.
  if (fs.existsSync(destination))
    throw new StoreUnavailableError(`${destination} exists: a backup never replaces a file`);
  const source = openReadOnly(live, 'the store');
  const partial = `${destination}.partial-${process.pid}`;
  try {
    if (currentVersion(source) === 0) {
      throw new StoreUnavailableError(`the store ${live} is empty (no schema yet): there is nothing to back up`);
    }
    try {
      copyDatabase(source, partial);
    } catch (error) {
      throw new StoreUnavailableError(`cannot write the backup ${partial}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } finally {
    source.close();
  }
  try {
    const summary = checkedSummary(partial, 'quick_check', destination);
    placeWithoutReplacing(partial, destination);
    return { ...summary, file: destination };
  } finally {
    for (const leftover of ['', '-journal']) fs.rmSync(`${partial}${leftover}`, { force: true });
  }
}

/** A backup opened and checked for a restore: read before anything in the data directory is touched. */
export interface BackupToRestore {
  file: string;
  db: DatabaseSync;
}

/**
 * Opens `backupFile` and checks that it is a sound Postern database this Postern can take. The
 * command opens it first, as the user who ran it (root may read a backup the server's user may not),
 * and only then acts as the data directory's owner (src/cli/data-dir-owner.ts).
 */
export function openBackup(backupFile: string): BackupToRestore {
  const backup = openReadOnly(backupFile, 'the backup');
  try {
    const version = currentVersion(backup);
    if (version === 0 || !hasTable(backup, 'mailboxes')) {
      throw new StoreUnavailableError(`${backupFile} is not a Postern database (no Postern schema in it)`);
    }
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new StoreUnavailableError(
        `${backupFile} has schema version ${version}, newer than this Postern knows (${SQLITE_SCHEMA_VERSION}): ` +
          'restore it with the Postern version that made it',
      );
    }
    // A file with a "mailboxes" table and a user_version is not yet ours: the columns restore reads must be there.
    const missing = missingPostern(backup);
    if (missing) throw new StoreUnavailableError(`${backupFile} is not a Postern database (${missing})`);
    const integrity = firstProblem(backup, 'integrity_check');
    if (integrity) throw new StoreUnavailableError(`${backupFile} is damaged (${integrity}): it cannot be restored`);
  } catch (error) {
    backup.close();
    throw error;
  }
  return { file: backupFile, db: backup };
}

/**
 * Puts a copy of an opened backup in place of the live database, and closes the backup. The caller
 * holds the serve lock, so no server runs on `dataDir` meanwhile; another process that has the
 * database open (a CLI command) is detected and the restore refused.
 */
export function restoreSqliteStore(dataDir: string, { db: backup }: BackupToRestore): RestoreOutcome {
  const live = path.join(dataDir, DATABASE_FILE_NAME);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  removeStaleRestores(dataDir);
  const incoming = `${live}.restore-${process.pid}`;
  try {
    let mailboxes: number;
    let restored: DatabaseSummary;
    try {
      try {
        copyDatabase(backup, incoming);
      } finally {
        if (backup.isOpen) backup.close();
      }
      // The live database's UIDVALIDITY values, where it can still be read: the new ones must be above
      // them too, or a client that synchronised with it could take a restored UID for one it knows.
      const floor = Math.max(Math.floor(Date.now() / 1000), liveUidValidityFloor(live));
      mailboxes = renewUidValidity(incoming, floor);
      // Ids "never reused" (quarantine: an admin noted one) stay so across the restore.
      carryIdSequences(live, incoming);
      restored = checkedSummary(incoming, 'quick_check', live);
      setWalMode(incoming); // as the server keeps it; the copy came out in rollback mode
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      // A full disk, an I/O error: nothing was put in place yet.
      throw new StoreUnavailableError(
        `cannot write the restored copy ${incoming}: ${(error as Error).message}; the store in place is unchanged`,
        { cause: error },
      );
    }
    if (fs.existsSync(live)) {
      const replaced = swapIn(live, incoming, dataDir);
      syncDirectory(live);
      return { restored, mailboxes, replaced };
    }
    // No database, but perhaps its WAL: SQLite takes any -wal or hot -journal beside the file for its
    // own and replays it on open, writing the old database's pages over the restored ones.
    const setAside = companionFiles(live).length > 0 ? moveCompanionsAside(live, asideName(dataDir)) : [];
    fs.renameSync(incoming, live);
    syncDirectory(live);
    return { restored, mailboxes, ...(setAside.length > 0 ? { setAside } : {}) };
  } finally {
    for (const leftover of ['', '-journal', '-wal', '-shm']) fs.rmSync(`${incoming}${leftover}`, { force: true });
  }
}

function openReadOnly(file: string, what: string): DatabaseSync {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    throw new StoreUnavailableError(`cannot read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!stat.isFile()) throw new StoreUnavailableError(`cannot read ${what} ${file}: not a file`);
  try {
    const db = new DatabaseSync(file, { readOnly: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
    db.prepare('SELECT count(*) FROM sqlite_schema').get(); // a file that is no database fails here
    return db;
  } catch (error) {
    throw new StoreUnavailableError(`cannot read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** What a database lacks of the tables and columns a restore reads, in words; undefined when it has them all. */
function missingPostern(db: DatabaseSync): string | undefined {
  for (const [table, columns] of [
    ['mailboxes', 'id, uid_validity'],
    ['messages', 'id'],
    ['accounts', 'id'],
    ['counters', 'name, value'],
  ] as const) {
    try {
      db.prepare(`SELECT ${columns} FROM ${table} LIMIT 0`).all();
    } catch (error) {
      return `${table}: ${(error as Error).message}`;
    }
  }
  return undefined;
}

function hasTable(db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The first line of integrity_check / quick_check that is not "ok"; undefined when the file is sound. */
function firstProblem(db: DatabaseSync, check: 'integrity_check' | 'quick_check'): string | undefined {
  const rows = db.prepare(`PRAGMA ${check}(1)`).all() as Record<string, unknown>[];
  const first = rows[0] ? String(Object.values(rows[0])[0]) : 'no answer';
  if (first === 'ok') return undefined;
  // "*** in database main ***\nTree 7 page 7: …": one line for the admin.
  return first
    .replace(/^\*\*\* in database \w+ \*\*\*\s*/, '')
    .split('\n')
    .join('; ');
}

/** Opens a copy just written, checks it page by page and counts what it holds. */
function checkedSummary(file: string, check: 'quick_check', shownAs: string): DatabaseSummary {
  const db = new DatabaseSync(file);
  try {
    const problem = firstProblem(db, check);
    if (problem) throw new StoreUnavailableError(`the copy written for ${shownAs} does not read back (${problem})`);
    const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0);
    return {
      file: shownAs,
      schemaVersion: currentVersion(db),
      accounts: count('accounts'),
      messages: count('messages'),
      bytes: fs.statSync(file).size,
    };
  } finally {
    db.close();
  }
}

/**
 * link() gives the finished copy its name only if nothing has it (a backup never overwrites a
 * file); a file system without hard links gets a rename after the same check.
 */
function placeWithoutReplacing(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new StoreUnavailableError(`${to} exists: a backup never replaces a file`);
    if (!noHardLinks(error)) throw error;
    if (fs.existsSync(to)) throw new StoreUnavailableError(`${to} exists: a backup never replaces a file`);
    fs.renameSync(from, to);
  }
  syncDirectory(to);
}

/** The lowest UIDVALIDITY the restored mailboxes may take: above every one the live database gave. */
function liveUidValidityFloor(live: string): number {
  if (!fs.existsSync(live)) return 0;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(live, { readOnly: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
  } catch {
    return 0; // a database damaged past opening (often why it is restored): the clock alone
  }
  // Each read on its own: a damaged mailboxes table must not lose the counter, nor the reverse.
  const read = (sql: string, ...values: string[]): number => {
    try {
      return Number(Object.values(db.prepare(sql).get(...values) ?? {})[0] ?? 0);
    } catch {
      return 0;
    }
  };
  try {
    const counter = read('SELECT value FROM counters WHERE name = ?', UID_VALIDITY_COUNTER);
    const highest = read('SELECT max(uid_validity) FROM mailboxes');
    return Math.max(counter, highest) + 1;
  } finally {
    db.close();
  }
}

/**
 * The AUTOINCREMENT counters of the live database, where it can still be read, carried into the
 * restored copy when higher: an id given out since the backup (a quarantined message's) is then not
 * given out again for another message.
 */
function carryIdSequences(live: string, incoming: string): void {
  if (!fs.existsSync(live)) return;
  let sequences: { name: string; seq: number }[];
  try {
    const db = new DatabaseSync(live, { readOnly: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
    try {
      sequences = db.prepare('SELECT name, seq FROM sqlite_sequence').all() as { name: string; seq: number }[];
    } finally {
      db.close();
    }
  } catch {
    return; // a database damaged past reading: the backup's own counters stand
  }
  const db = new DatabaseSync(incoming);
  try {
    // A backup older than any AUTOINCREMENT table (schema 6 and before) has no sqlite_sequence yet,
    // and SQLite makes it only with such a table: nothing to carry into.
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").get() === undefined) return;
    const raise = db.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?');
    const add = db.prepare(
      "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?) AND EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)",
    );
    for (const { name, seq } of sequences) {
      // A value SQLite could not count on from (a damaged live database) would stop every insert.
      if (!Number.isSafeInteger(Number(seq)) || Number(seq) < 0) continue;
      raise.run(Number(seq), name);
      add.run(name, Number(seq), name, name);
    }
  } finally {
    db.close();
  }
}

/** Every mailbox of the restored copy gets a UIDVALIDITY of its own from `floor` upwards. */
function renewUidValidity(file: string, floor: number): number {
  const db = new DatabaseSync(file);
  try {
    db.exec('BEGIN IMMEDIATE');
    const ids = (db.prepare('SELECT id FROM mailboxes ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    const own = Number(db.prepare('SELECT value FROM counters WHERE name = ?').get(UID_VALIDITY_COUNTER)?.value ?? 0);
    const highest = Number(db.prepare('SELECT max(uid_validity) AS v FROM mailboxes').get()?.v ?? 0);
    let next = Math.max(floor, own + 1, highest + 1);
    if (next + ids.length > MAX_UID_VALIDITY) throw new StoreUnavailableError('UIDVALIDITY space exhausted');
    const update = db.prepare('UPDATE mailboxes SET uid_validity = ? WHERE id = ?');
    for (const id of ids) update.run(next++, id);
    db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ).run(UID_VALIDITY_COUNTER, next - 1);
    db.exec('COMMIT');
    return ids.length;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  } finally {
    db.close();
  }
}

function setWalMode(file: string): void {
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA journal_mode = WAL');
  } finally {
    db.close();
  }
}

/**
 * Puts `incoming` in the live database's place and keeps the replaced one, with its -wal, in
 * `backups/replaced-<time>.sqlite`. `postern.sqlite` names the old or the new file at every moment
 * (a hard link keeps the old one, then one rename replaces the name), so a crash anywhere leaves a
 * store for serve to open, never none (serve would make an empty one). An exclusive lock first proves
 * that no other process has the database open, and the checkpoint leaves its -wal empty: a WAL
 * beside the restored file would be replayed onto it.
 */
function swapIn(live: string, incoming: string, dataDir: string): string {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(live, { timeout: 0 });
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } catch (error) {
    const message = (error as Error).message;
    if (/locked|busy/i.test(message)) {
      db?.close();
      throw new StoreUnavailableError(
        `another process has the store ${live} open (a postern command, or the sqlite3 shell): let it finish first`,
      );
    }
    // A database too damaged to lock or checkpoint is kept as it is, with its WAL.
  } finally {
    if (db?.isOpen) db.close();
  }
  const aside = asideName(dataDir);
  let linked = true;
  try {
    fs.linkSync(live, aside);
  } catch (error) {
    if (!noHardLinks(error)) throw error;
    linked = false; // no hard links here: moved instead, a moment without postern.sqlite
  }
  // The restored file starts without the old one's WAL, its shared memory or a hot journal of a
  // database too damaged to open (each would be taken for the restored file's own).
  moveCompanionsAside(live, aside);
  if (!linked) fs.renameSync(live, aside);
  fs.renameSync(incoming, live);
  syncDirectory(aside);
  return aside;
}

const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

function companionFiles(database: string): string[] {
  return COMPANION_SUFFIXES.map((suffix) => `${database}${suffix}`).filter((file) => fs.existsSync(file));
}

/** Moves the -wal, -shm and -journal of `database` to the same names beside `aside`; returns where they went. */
function moveCompanionsAside(database: string, aside: string): string[] {
  const moved: string[] = [];
  for (const suffix of COMPANION_SUFFIXES) {
    if (!fs.existsSync(`${database}${suffix}`)) continue;
    fs.renameSync(`${database}${suffix}`, `${aside}${suffix}`);
    moved.push(`${aside}${suffix}`);
  }
  if (moved.length > 0) syncDirectory(aside);
  return moved;
}

/** A new name in `dataDir/backups/` for a replaced database (made here if missing). */
function asideName(dataDir: string): string {
  const backups = path.join(dataDir, 'backups');
  fs.mkdirSync(backups, { recursive: true, mode: 0o700 });
  return path.join(backups, `replaced-${new Date().toISOString().replace(/[:.]/g, '-')}.sqlite`);
}

/** Copies a restore left by a crash (the serve lock is ours, so no restore runs): never a store. */
function removeStaleRestores(dataDir: string): void {
  const prefix = `${DATABASE_FILE_NAME}.restore-`;
  for (const name of fs.readdirSync(dataDir)) {
    if (name.startsWith(prefix)) fs.rmSync(path.join(dataDir, name), { force: true });
  }
}

/** link() refused by a file system without hard links (some FUSE and network mounts). */
function noHardLinks(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS';
}
