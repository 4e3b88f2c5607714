/**
 * A consistent copy of a SQLite database in a new file of mode 0600, synced before it is handed back:
 * the pre-migration backups, `postern backup` and `postern restore` all take theirs this way.
 *
 * VACUUM INTO reads in one transaction, so the copy is a snapshot even while a server writes beside
 * it (https://sqlite.org/lang_vacuum.html#vacuuminto), and never restarts the way the online backup
 * API does when another connection writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/**
 * Writes the copy to exactly `file`, which must not exist; removed again if the copy fails. A
 * process killed meanwhile leaves `file` (and its -journal) half written: callers give a temporary
 * name (`postern backup`, `postern restore`) or use copyDatabaseAs.
 */
export function copyDatabase(db: DatabaseSync, file: string): void {
  // VACUUM INTO accepts an empty file: creating it first gives it our mode, not the umask's.
  fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o600));
  try {
    db.prepare('VACUUM INTO ?').run(file);
    syncFile(file);
  } catch (error) {
    // A partial copy is no way back, and each failed attempt (a full disk) would leave another one
    // (and the rollback journal SQLite writes beside it).
    for (const leftover of ['', '-journal']) fs.rmSync(`${file}${leftover}`, { force: true });
    throw error;
  }
}

/** What a copy is written under until it is whole; the PID says whose it is (see removeStalePartials). */
export function partialName(file: string): string {
  return `${file}.partial-${process.pid}`;
}

/**
 * A copy that has `file`'s name only once it is whole and on the disk: written and synced under
 * partialName(file), then linked to `file` (never over an existing file) and the directory synced.
 * A kill, an OOM or a power loss in the middle leaves a `.partial-<pid>` file, never a `file` that
 * looks like a good copy (a pre-migration backup someone would restore).
 */
export function copyDatabaseAs(db: DatabaseSync, file: string): void {
  const partial = partialName(file);
  try {
    copyDatabase(db, partial);
    placeWithoutReplacing(partial, file);
  } finally {
    for (const leftover of ['', '-journal']) fs.rmSync(`${partial}${leftover}`, { force: true });
  }
}

function placeWithoutReplacing(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Some FUSE and network file systems have no hard links: rename, after checking by hand.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    if (fs.existsSync(to)) throw Object.assign(new Error(`${to} exists`), { code: 'EEXIST' });
    fs.renameSync(from, to);
  }
  syncDirectory(to);
}

const PARTIAL_FILE = /\.partial-(\d+)(?:-journal)?$/;

/**
 * Removes from `dir` the copies (`*.partial-<pid>` and their `-journal`) that a killed process left,
 * and returns their names. One whose process still runs is being written (a `postern migrate` beside
 * a starting server), so it stays; a PID reused since only delays the removal to a later start.
 * Best effort: a directory that cannot be read is left for the copy itself to report.
 */
export function removeStalePartials(dir: string): string[] {
  return removeStaleCopies(dir, PARTIAL_FILE);
}

/**
 * Removes from `dir` the files `pattern` matches whose PID (its first group) names no running process,
 * and returns their names: the copies a killed process left (removeStalePartials, and a restore's in
 * sqlite-store.ts). Best effort: what cannot be read or removed is left for a later start.
 */
export function removeStaleCopies(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || processRuns(Number(pid))) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // EACCES, EBUSY: left for the next start
    }
  }
  return removed;
}

function processRuns(pid: number): boolean {
  if (pid === process.pid) return true; // another store of this process may be copying now
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // another user's process
  }
}

export function syncFile(file: string): void {
  const fd = fs.openSync(file, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** After a rename or link: the directory entry must reach the disk too, or a crash can lose the name. */
export function syncDirectory(file: string): void {
  syncFile(path.dirname(file));
}
