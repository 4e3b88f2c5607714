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
