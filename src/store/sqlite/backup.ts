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
import { copyDatabase, syncDirectory, syncFile } from './database-copy.ts';
import { currentVersion, makeBackupsDirectory, migrateSqlite, SQLITE_SCHEMA_VERSION } from './migrations.ts';
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

export interface BackupOptions {
  /**
   * serve's smtp.maxMessageSize. serve answers MAIL FROM with 452 while the store's file system has
   * less than 1.5 × it free (src/server/free-space.ts): a backup written there must leave that much.
   */
  maxMessageSize?: number;
  /** fs.statfsSync by default; tests give the free space they need. */
  statfs?: (dir: string) => { bavail: number; bsize: number };
}

/**
 * Copies the live database to `destination`, which must not exist: the copy is written under a
 * temporary name beside it, checked, synced and only then linked to its name, so a failed or
 * interrupted backup never leaves a file that looks like a good one.
 */
export function backUpSqliteStore(dataDir: string, destination: string, options: BackupOptions = {}): DatabaseSummary {
  const live = path.join(dataDir, DATABASE_FILE_NAME);
  if (!fs.existsSync(live))
    throw new StoreUnavailableError(`there is no SQLite store to back up: ${live} does not exist`);
  refuseInDataDir(dataDir, destination);
  // Said before the copy is made (a large store takes a while); the link at the end checks again.
  if (statOrUndefined(destination)?.isDirectory()) {
    throw new StoreUnavailableError(
      `${destination} is a directory: name the file to write the backup to, e.g. ${path.join(destination, 'postern-<date>.sqlite')}`,
    );
  }
  if (fs.existsSync(destination))
    throw new StoreUnavailableError(`${destination} exists: a backup never replaces a file`);
  parentDirectory(dataDir, destination);
  const reserve = sharedReserve(dataDir, destination, options);
  const source = openReadOnly(live, 'the store');
  const partial = `${destination}.partial-${process.pid}`;
  try {
    if (currentVersion(source) === 0) {
      throw new StoreUnavailableError(`the store ${live} is empty (no schema yet): there is nothing to back up`);
    }
    // Asked before the copy (the pages in use: about what VACUUM INTO writes), and again once it is on the disk.
    reserve?.(estimatedCopySize(source), false);
    try {
      copyDatabase(source, partial);
    } catch (error) {
      // The name asked for first: the temporary one is only where the copy was being written.
      throw new StoreUnavailableError(
        `cannot write the backup ${destination}: ${(error as Error).message} (writing it as ${partial})`,
        { cause: error },
      );
    }
  } finally {
    source.close();
  }
  try {
    reserve?.(fs.statSync(partial).size, true);
    const summary = checkedSummary(partial, 'quick_check', destination);
    placeWithoutReplacing(partial, destination);
    return { ...summary, file: destination };
  } finally {
    for (const leftover of ['', '-journal']) fs.rmSync(`${partial}${leftover}`, { force: true });
  }
}

/**
 * The data directory's own names belong to serve and restore, which delete or overwrite them: a
 * backup named postern.sqlite-journal is taken for a hot journal (the CLI's read-only opens fail on it
 * and serve deletes it), postern.pid is rewritten by serve, postern.sqlite.restore-* removed by
 * restore. So nothing is written directly in it; a directory under it (backups/) is fine.
 */
function refuseInDataDir(dataDir: string, destination: string): void {
  const store = realOrResolved(dataDir);
  const asked = path.resolve(destination);
  if (realOrResolved(asked) !== store && realOrResolved(path.dirname(asked)) !== store) return;
  const suggested = path.join(dataDir, 'backups', 'backup-<date>.sqlite');
  throw new StoreUnavailableError(
    `${destination} is in the data directory ${dataDir}, where serve and restore own the file names ` +
      '(the store, its -journal, -wal and -shm, postern.pid, postern.lock, restore copies) and may delete or ' +
      `overwrite a file there: write the backup to a subdirectory, e.g. ${suggested}, or elsewhere`,
  );
}

/**
 * Whether `destination` goes directly in `dataDir/backups/`: the place the refusal above suggests,
 * which a fresh install does not have yet. The command acts as the data directory's owner for it.
 */
export function inBackupsDirectory(dataDir: string, destination: string): boolean {
  const parent = path.dirname(path.resolve(destination));
  return path.basename(parent) === 'backups' && realOrResolved(path.dirname(parent)) === realOrResolved(dataDir);
}

/**
 * The destination's directory, made when it is `dataDir/backups` (mode 0700, as restore and the
 * migrations make it); any other missing one is the admin's to create, said before a copy is taken
 * (the copy itself would fail naming its temporary file).
 */
function parentDirectory(dataDir: string, destination: string): void {
  const parent = path.dirname(path.resolve(destination));
  let missing: boolean;
  try {
    missing = fs.statSync(parent, { throwIfNoEntry: false }) === undefined;
  } catch {
    return; // EACCES, ENOTDIR: the copy itself says what is wrong
  }
  if (!missing) return;
  if (inBackupsDirectory(dataDir, destination)) {
    makeBackupsDirectory(parent, 'backups');
    return;
  }
  throw new StoreUnavailableError(
    `cannot write the backup ${destination}: directory ${parent} does not exist: create it first`,
  );
}

function realOrResolved(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined; // EACCES, ENOTDIR: the copy itself says what is wrong
  }
}

/** The octets in use in the database: what VACUUM INTO writes, give or take partly filled pages. */
function estimatedCopySize(db: DatabaseSync): number {
  const pragma = (name: string) => Number(Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
  return Math.max(0, pragma('page_count') - pragma('freelist_count')) * pragma('page_size');
}

/**
 * When the backup goes to the store's own file system (a target elsewhere takes nothing from it): a
 * check that refuses a copy of `size` octets that would leave less than serve's reserve for mail.
 * `written`: the copy is on the disk already, so the free space counted has it taken off.
 */
function sharedReserve(
  dataDir: string,
  destination: string,
  { maxMessageSize, statfs = fs.statfsSync }: BackupOptions,
): ((size: number, written: boolean) => void) | undefined {
  if (maxMessageSize === undefined) return undefined;
  const store = statOrUndefined(dataDir);
  const target = statOrUndefined(path.dirname(destination));
  if (!store || !target || store.dev !== target.dev) return undefined;
  const needed = Math.ceil(1.5 * maxMessageSize); // as src/server/free-space.ts
  return (size, written) => {
    let free: number;
    try {
      const { bavail, bsize } = statfs(dataDir);
      free = bavail * bsize;
    } catch {
      return; // as serve: a file system that cannot be asked refuses nothing
    }
    const before = written ? free + size : free;
    if (before - size >= needed) return;
    const mb = (octets: number) => `${(Math.max(0, octets) / 1_048_576).toFixed(1)} MB`;
    throw new StoreUnavailableError(
      `the store's file system (${dataDir}) has ${mb(before)} free: the backup (${written ? '' : 'about '}${mb(size)}) ` +
        `would leave ${mb(before - size)}, less than the ${mb(needed)} serve keeps free for mail (1.5 × ` +
        'smtp.maxMessageSize; with less it answers every MAIL FROM with 452): write the backup to another file ' +
        'system, or make room first',
    );
  };
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
    // A file with a "mailboxes" table and a user_version is not yet ours: every table and column the
    // migrations up to that version make must be there, or serve and every command fail on it later.
    const missing = missingPostern(backup, version);
    if (missing)
      throw new StoreUnavailableError(
        `${backupFile} is not a Postern database of schema version ${version} (${missing})`,
      );
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
export function restoreSqliteStore(dataDir: string, { file, db: backup }: BackupToRestore): RestoreOutcome {
  const live = path.join(dataDir, DATABASE_FILE_NAME);
  if (sameFile(file, live)) {
    backup.close();
    // Restored over itself, the live store would be moved to backups/ and come back with every
    // mailbox's UIDVALIDITY changed (RFC 9051 §2.3.1.1): every client downloads it all, nothing restored.
    const store = path.resolve(file) === path.resolve(live) ? 'the live store' : `the live store ${live}`;
    throw new StoreUnavailableError(
      `${file} is ${store} itself, not a backup of it: restore a file written by postern backup`,
    );
  }
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

/** One file under two names (a link, a path through a symbolic link, `..`): the same device and inode. */
function sameFile(a: string, b: string): boolean {
  const first = statOrUndefined(a);
  const second = statOrUndefined(b);
  return first !== undefined && second !== undefined && first.dev === second.dev && first.ino === second.ino;
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
    const message = (error as Error).message;
    // A read-only connection cannot roll a hot journal back, and SQLite will not read without doing so.
    // Beside a backup it is the mark of a copy interrupted while it was written (the partial file of a
    // backup that did not finish, a cp of a database in the middle of a write).
    if (what === 'the backup' && /readonly/i.test(message) && fs.existsSync(`${file}-journal`)) {
      throw new StoreUnavailableError(
        `cannot read ${what} ${file}: it is an incomplete copy (${file}-journal beside it holds a write that never finished): restore a complete backup`,
        { cause: error },
      );
    }
    throw new StoreUnavailableError(`cannot read ${what} ${file}: ${message}`, { cause: error });
  }
}

/** Each table's columns, lower-cased (SQLite names are not case-sensitive); SQLite's own tables left out. */
function tableColumns(db: DatabaseSync): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  const rows = db
    .prepare(
      `SELECT lower(s.name) AS t, lower(c.name) AS c FROM sqlite_schema s, pragma_table_info(s.name) c
       WHERE s.type = 'table' AND substr(s.name, 1, 7) <> 'sqlite_'`,
    )
    .all();
  for (const row of rows) {
    const table = String(row.t);
    if (!tables.has(table)) tables.set(table, new Set());
    tables.get(table)!.add(String(row.c));
  }
  return tables;
}

interface Schema {
  tables: Map<string, Set<string>>;
  /** Tables whose ids are never given out again (INTEGER PRIMARY KEY AUTOINCREMENT). */
  autoincrement: string[];
}

const schemas = new Map<number, Schema>();

/** What the migrations up to `version` make, read from a database they are run into in memory. */
function schemaAt(version: number): Schema {
  let schema = schemas.get(version);
  if (!schema) {
    const db = new DatabaseSync(':memory:');
    try {
      migrateSqlite(db, { target: version });
      const autoincrement = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%' ORDER BY name")
        .all()
        .map((row) => String(row.name));
      schema = { tables: tableColumns(db), autoincrement };
    } finally {
      db.close();
    }
    schemas.set(version, schema);
  }
  return schema;
}

/**
 * What a database lacks of the tables and columns the migrations up to `version` make, in words;
 * undefined when it has them all. More (a table an admin added) is not refused.
 */
function missingPostern(db: DatabaseSync, version: number): string | undefined {
  let theirs: Map<string, Set<string>>;
  try {
    theirs = tableColumns(db);
  } catch (error) {
    return (error as Error).message;
  }
  const tables: string[] = [];
  const columns: string[] = [];
  for (const [table, wanted] of schemaAt(version).tables) {
    const have = theirs.get(table);
    if (!have) tables.push(table);
    else for (const column of wanted) if (!have.has(column)) columns.push(`${table}.${column}`);
  }
  const lacks = [
    ...(tables.length > 0 ? [`the table${tables.length === 1 ? '' : 's'} ${tables.join(', ')}`] : []),
    ...(columns.length > 0 ? [`the column${columns.length === 1 ? '' : 's'} ${columns.join(', ')}`] : []),
  ];
  return lacks.length > 0 ? `it lacks ${lacks.join(' and ')}` : undefined;
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
 * How far past the backup's own counters an id sequence is moved when the replaced store's counter is
 * not known (no store, one that cannot be read, or another store's): as docs/scaling.md does for a
 * PostgreSQL restore, more ids than a store gives out between two backups.
 */
export const UNKNOWN_IDS_MARGIN = 1_000_000;

/** A store's ids given out per AUTOINCREMENT table; `absent`: the store has neither the table nor its counter. */
type IdsGiven = Map<string, number | 'absent'>;

/**
 * The AUTOINCREMENT counters ("never reused": a quarantine id an admin noted, an account id the
 * server looked up and cached) set in the restored copy so that no id the replaced store gave out is
 * given again: the replaced store's, where it can be read and is the backup's own store, later on;
 * otherwise the backup's own plus UNKNOWN_IDS_MARGIN (and past the replaced store's, if readable).
 *
 * A backup older than a table's AUTOINCREMENT (the quarantine before schema 7, accounts and mailboxes
 * before 10) gets the counter under the table's name all the same: the migration that makes the
 * quarantine table leaves the row be and SQLite counts on from it, and the one that rebuilds accounts
 * and mailboxes starts them past it (migrations.ts, rebuildTables). serve runs them after the restore.
 */
function carryIdSequences(live: string, incoming: string): void {
  const tables = schemaAt(SQLITE_SCHEMA_VERSION).autoincrement;
  const replaced = fs.existsSync(live) ? readReplaced(live, tables) : undefined;
  const db = new DatabaseSync(incoming);
  try {
    const own = idsGiven(db, tables);
    // A store's first schema_version row is when it was made: a copy of it, and every store restored
    // from such a copy, keeps it. Another value is another store (made new after a loss, say), whose
    // counters say nothing of what the backup's store gave out after the backup.
    const birth = storeBirth(db);
    const sameStore = replaced !== undefined && birth !== undefined && replaced.birth === birth;
    const wanted = new Map<string, number>();
    for (const table of tables) {
      const ours = own.get(table) ?? 'absent';
      const theirs = replaced?.given.get(table);
      const given = ours === 'absent' ? 0 : ours;
      let seq: number;
      if (sameStore && typeof theirs === 'number') seq = Math.max(given, theirs);
      else if (sameStore && theirs === 'absent' && ours === 'absent')
        seq = 0; // neither has had the table
      else seq = Math.max(given + UNKNOWN_IDS_MARGIN, typeof theirs === 'number' ? theirs : 0);
      if (seq > 0) wanted.set(table, seq);
    }
    if (wanted.size === 0) return;
    db.exec('BEGIN IMMEDIATE');
    try {
      if (!hasTable(db, 'sqlite_sequence')) {
        // SQLite makes sqlite_sequence with the first AUTOINCREMENT table and refuses to have it made
        // otherwise; it stays when that table goes.
        db.exec('CREATE TABLE postern_restore_sequence (id INTEGER PRIMARY KEY AUTOINCREMENT)');
        db.exec('DROP TABLE postern_restore_sequence');
      }
      const remove = db.prepare('DELETE FROM sqlite_sequence WHERE name = ?');
      const add = db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)');
      for (const [table, seq] of wanted) {
        remove.run(table);
        add.run(table, seq);
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  } finally {
    db.close();
  }
}

/** The replaced database's birth and ids given, as far as it can be read; undefined when it cannot be opened. */
function readReplaced(live: string, tables: readonly string[]): { birth?: number; given: IdsGiven } | undefined {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(live, { readOnly: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
  } catch {
    return undefined; // a database damaged past opening (often why it is restored)
  }
  try {
    const birth = storeBirth(db);
    return { ...(birth !== undefined ? { birth } : {}), given: idsGiven(db, tables) };
  } finally {
    db.close();
  }
}

function storeBirth(db: DatabaseSync): number | undefined {
  try {
    const value = db.prepare('SELECT min(applied_at) AS t FROM schema_version WHERE version = 1').get()?.t;
    return typeof value === 'number' || typeof value === 'bigint' ? Number(value) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For each table, the highest id it is known to have given out: its counter or its highest id,
 * whichever is more. A table that cannot be read (a damaged database) is left out: not known.
 */
function idsGiven(db: DatabaseSync, tables: readonly string[]): IdsGiven {
  const given: IdsGiven = new Map();
  let sequences = false;
  try {
    sequences = hasTable(db, 'sqlite_sequence');
  } catch {
    return given;
  }
  for (const table of tables) {
    try {
      const counter = sequences
        ? db.prepare('SELECT max(seq) AS n FROM sqlite_sequence WHERE name = ?').get(table)?.n
        : undefined;
      const highest = hasTable(db, table) ? db.prepare(`SELECT max(id) AS n FROM "${table}"`).get()?.n : undefined;
      if (counter == null && highest === undefined) {
        given.set(table, 'absent');
        continue;
      }
      const value = Math.max(0, Number(counter ?? 0), Number(highest ?? 0));
      // A value SQLite could not count on from (a damaged database) would stop every insert.
      if (Number.isSafeInteger(value)) given.set(table, value);
    } catch {
      // not known
    }
  }
  return given;
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
 * (a hard link keeps the old one, or a synced copy where `backups/` is on another file system, then
 * one rename replaces the name), so a crash anywhere leaves a store for serve to open, never none
 * (serve would make an empty one). An exclusive lock first proves that no other process has the
 * database open, and the checkpoint leaves its -wal empty: a WAL beside the restored file would be
 * replayed onto it.
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
  try {
    let kept = true;
    try {
      fs.linkSync(live, aside);
    } catch (error) {
      if (crossDevice(error)) copyDurably(live, aside);
      else if (noHardLinks(error))
        kept = false; // moved below: a moment without postern.sqlite
      else throw error;
    }
    // The restored file starts without the old one's WAL, its shared memory or a hot journal of a
    // database too damaged to open (each would be taken for the restored file's own).
    moveCompanionsAside(live, aside);
    if (!kept) moveFile(live, aside);
  } catch (error) {
    // postern.sqlite is still the replaced database: at most its (checkpointed) -wal went aside already.
    throw new StoreUnavailableError(
      `cannot keep the database the restore replaces as ${aside}: ${(error as Error).message}; the store in place is unchanged`,
      { cause: error },
    );
  }
  fs.renameSync(incoming, live);
  syncDirectory(aside);
  return aside;
}

/**
 * rename(), or where `to` is on another file system (backups/ a link to another disk): a synced copy
 * under a temporary name that then takes `to`, and only then `from` removed.
 */
function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if (!crossDevice(error)) throw error;
    copyDurably(from, to);
    fs.rmSync(from);
  }
}

/** A copy of `from` as `to`, which must not exist, whole and synced or not there at all. */
function copyDurably(from: string, to: string): void {
  const partial = `${to}.partial-${process.pid}`;
  try {
    fs.copyFileSync(from, partial, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(partial, fs.statSync(from).mode & 0o777);
    syncFile(partial);
    try {
      fs.linkSync(partial, to); // never over a file of that name
    } catch (error) {
      if (!noHardLinks(error) || fs.existsSync(to)) throw error;
      fs.renameSync(partial, to);
    }
  } finally {
    fs.rmSync(partial, { force: true });
  }
  syncDirectory(to);
}

/** rename() and link() refuse to cross file systems. */
function crossDevice(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EXDEV';
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
    moveFile(`${database}${suffix}`, `${aside}${suffix}`);
    moved.push(`${aside}${suffix}`);
  }
  if (moved.length > 0) syncDirectory(aside);
  return moved;
}

/** A new name in `dataDir/backups/` for a replaced database (made here if missing). */
function asideName(dataDir: string): string {
  const backups = path.join(dataDir, 'backups');
  makeBackupsDirectory(backups, 'the database a restore replaces');
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
