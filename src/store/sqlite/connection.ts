/**
 * Opens a SQLite connection with the settings every Postern connection needs.
 * WAL lets the main thread read while the writer thread commits (https://sqlite.org/wal.html);
 * synchronous=FULL makes each commit fsync the WAL, so a resolved write survives power loss.
 */

import { DatabaseSync } from 'node:sqlite';

export interface ConnectionOptions {
  /** How long to wait for another connection (or process, e.g. the CLI) to release its lock. */
  busyTimeoutMs: number;
  /** A reader refuses writes, so that all writes go through the writer thread. */
  role: 'reader' | 'writer';
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export function openConnection(file: string, options: ConnectionOptions): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: options.busyTimeoutMs, enableForeignKeyConstraints: true });
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    if (options.role === 'reader') db.exec('PRAGMA query_only = ON');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
