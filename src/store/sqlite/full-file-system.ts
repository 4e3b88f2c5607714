/**
 * A full file system, told as such. SQLite says so itself when a write to the database or its WAL
 * meets ENOSPC: SQLITE_FULL, "database or disk is full". It does not when it cannot make or grow the
 * -shm file that a WAL database needs even to be read (https://sqlite.org/walformat.html#shm): that
 * is SQLITE_IOERR_SHMSIZE, "disk I/O error" (https://sqlite.org/rescode.html#ioerr_shmsize), which
 * sends an admin looking for a failing disk. The file system's free space tells the two apart.
 */
import fs from 'node:fs';
import { primaryResultCode, SQLITE_FULL, SQLITE_IOERR } from './result-codes.ts';

/**
 * Below this much free space an I/O error is taken for a full file system. A -shm file grows 32 KiB
 * at a time; a disk that fails with more than a megabyte free fails for another reason.
 */
const NEARLY_FULL_BYTES = 1_048_576;

/**
 * "the file system of DIR is full (12.0 KB free): free space there" when `error` is SQLite's, and a
 * full file system holding `dir` is why; undefined for any other error.
 */
export function fullFileSystem(error: unknown, dir: string): string | undefined {
  const code = primaryResultCode(error);
  if (code !== SQLITE_FULL && code !== SQLITE_IOERR) return undefined;
  let free: number | undefined;
  try {
    const { bavail, bsize } = fs.statfsSync(dir);
    free = bavail * bsize;
  } catch {
    free = undefined;
  }
  if (code === SQLITE_IOERR && (free === undefined || free >= NEARLY_FULL_BYTES)) return undefined;
  // SQLITE_FULL with room to spare: a large message's WAL frames needed more than there was.
  const room = free === undefined ? 'free space unknown' : `${amountOfSpace(free)} free`;
  return `the file system of ${dir} is full (${room}): free space there`;
}

/** SQLite's message, followed by what a full file system means for it when that is the cause. */
export function withFullFileSystem(error: unknown, dir: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const full = fullFileSystem(error, dir);
  return full === undefined ? message : `${message}: ${full}`;
}

/**
 * One decimal, as `postern backup` prints: 1.5 MB needed must not read as "1 MB". Below a megabyte in
 * KB, and below a kilobyte in bytes: 40 KB free, or a small maxMessageSize, must not read as "0.0 MB".
 */
export function amountOfSpace(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1_048_576) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}
