/**
 * SQLite's primary result codes (https://sqlite.org/rescode.html) that Postern acts on. node:sqlite
 * puts the extended code on its errors (`errcode`); an extended code keeps its primary in the low byte.
 */
export const SQLITE_BUSY = 5;
export const SQLITE_LOCKED = 6;
export const SQLITE_IOERR = 10;
export const SQLITE_CORRUPT = 11;
export const SQLITE_FULL = 13;
export const SQLITE_NOTADB = 26;

/** The primary result code of a node:sqlite error; undefined for any other error. */
export function primaryResultCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}
