/**
 * The data directory belongs to the server's user (`postern`, systemd's `User=`). A command an admin
 * runs as root that made a file there would leave it root's, and the server could then not write it
 * (SQLite's "attempt to write a readonly database", EACCES on a TLS key, a `backups/` a later migration
 * cannot write), often only at its next start. So, as Postfix's commands switch to `mail_owner` before
 * they touch the queue, a command run as root on a SQLite data directory another user owns becomes
 * that user before it opens or creates anything there. `serve` started as root on such a directory
 * binds its ports first and then becomes the owner too (cli/commands/serve.ts), whatever the store:
 * as root it would follow links the owner can plant there, and leave files the owner cannot write.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.ts';
import { asDataDirOwner, DataDirUnreachableError } from '../server/data-dir-owner-ids.ts';
import { LOCK_FILE_NAME } from '../server/serve-lock.ts';
import { DATABASE_FILE_NAME } from '../store/sqlite/sqlite-store.ts';
import { CliError } from './errors.ts';
import { groupName, passwdEntry, userName } from './system-accounts.ts';

/** What the server must write at the top of the data directory (and everything under tls/). */
const NEEDED = new Set([
  ...['', '-wal', '-shm', '-journal'].flatMap((suffix) => [DATABASE_FILE_NAME + suffix, LOCK_FILE_NAME + suffix]),
  'tls', // self-signed and ACME keys, certificates and order state
  'backups', // the copy a migration takes, and restore's replaced database
]);

/** Entries looked at, at most: a data directory holds a few dozen; a stranger's tree is not searched. */
const MAX_ENTRIES = 10_000;

export interface DataDirOwner {
  dataDir: string;
  uid: number;
  gid: number;
  user: string;
  group: string;
}

export interface ForeignEntry {
  file: string;
  owner: string;
  /** The server writes it: while it is another user's, the server fails (at once or later). */
  needed: boolean;
}

let switched: { owner: DataDirOwner; by: 'command' | 'serve' } | undefined;

/** The owner of an existing data directory, when it is not root; undefined when it is not there yet or root's. */
export function dataDirOwner(dataDir: string): DataDirOwner | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dataDir);
  } catch {
    return undefined;
  }
  if (!stat.isDirectory() || stat.uid === 0) return undefined;
  return { dataDir, uid: stat.uid, gid: stat.gid, user: userName(stat.uid), group: groupName(stat.gid) };
}

/**
 * Run as root on a SQLite data directory another user owns: refuses when the server's files there are
 * already someone else's (naming them and the chown that fixes it), else becomes that user, with its
 * group and supplementary groups. Run as the owner: the same refusal, no switch. Otherwise nothing.
 * `anyStore`: with PostgreSQL too (`check`, which checks as a serve started as root would run).
 */
export function actAsDataDirOwner(config: Config, options: { anyStore?: boolean } = {}): void {
  const uid = process.getuid?.();
  if (switched || uid === undefined || (config.store.engine !== 'sqlite' && !options.anyStore)) return;
  const owner = dataDirOwner(config.dataDir);
  if (!owner || (uid !== 0 && uid !== owner.uid)) return;
  let entries: ForeignEntry[];
  try {
    entries = foreignEntries(owner) ?? [];
  } catch (error) {
    if (error instanceof DataDirUnreachableError) throw new CliError(unreachableProblem(owner));
    throw error;
  }
  const needed = entries.filter((entry) => entry.needed);
  if (needed.length > 0) throw new CliError(ownershipProblem(owner, needed));
  if (uid !== 0) return;
  becomeOwner(owner, 'command');
}

/**
 * Gives root up for good: the owner's group, its supplementary groups (or only that group when the
 * owner has no passwd entry), then the owner, as login and systemd's User= set them. The real, effective
 * and saved IDs all change, in every thread (glibc applies setuid to the whole process), so nothing
 * can take root back. HOME, USER and LOGNAME become the owner's too, as runuser and User= make them:
 * what reads files from HOME (libpq's ~/.pgpass, through pg) reads the owner's, not root's.
 */
export function becomeOwner(owner: DataDirOwner, by: 'command' | 'serve'): void {
  const account = passwdEntry(owner.uid);
  const gid = account?.gid ?? owner.gid;
  // Group first, then the supplementary groups, then the user: after setuid() nothing else may change.
  // POSIX has all four where getuid() is.
  process.setgid!(gid);
  if (account) process.initgroups!(account.name, gid);
  else process.setgroups!([gid]);
  process.setuid!(owner.uid);
  // A uid with no account has no home and no name: / and the number, never root's.
  process.env.HOME = account?.home || '/';
  process.env.USER = account?.name ?? String(owner.uid);
  process.env.LOGNAME = account?.name ?? String(owner.uid);
  switched = { owner, by };
}

/**
 * A second line for an error that a switch may explain: a file outside the data directory that root
 * could reach and the owner cannot. Undefined when the process did not switch or the error is another.
 */
export function switchNote(error: unknown): string | undefined {
  if (!switched || !permissionError(error)) return undefined;
  const { owner, by } = switched;
  const became =
    by === 'serve'
      ? `started as root, the server became ${owner.user}, the owner of ${owner.dataDir}, once its ports were bound`
      : `run as root, this command became ${owner.user}, the owner of ${owner.dataDir}, before touching the data directory (as the server runs)`;
  return `note: ${became}: a file it reads or writes elsewhere must be open to ${owner.user} too`;
}

/**
 * Entries of the data directory another user than its owner owns, needed ones first; undefined when
 * the directory cannot be read (run as a third user). Run as root, the walk has the owner's rights:
 * the owner could swap a directory for a link between our look and our readdir, and make root list
 * any directory into our output (a review reproduced it); a directory the owner cannot read is named,
 * not entered.
 */
export function foreignEntries(owner: DataDirOwner): ForeignEntry[] | undefined {
  return asDataDirOwner(owner.dataDir, () => walkForeign(owner));
}

function walkForeign(owner: DataDirOwner): ForeignEntry[] | undefined {
  const found: ForeignEntry[] = [];
  let seen = 0;
  const walk = (dir: string, needed: (name: string) => boolean): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (++seen > MAX_ENTRIES) return;
      const file = path.join(dir, entry.name);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(file);
      } catch {
        continue; // gone meanwhile
      }
      const isNeeded = needed(entry.name);
      if (stat.uid !== owner.uid) found.push({ file, owner: userName(stat.uid), needed: isNeeded });
      if (entry.isDirectory()) {
        try {
          walk(file, () => isNeeded && entry.name !== 'backups'); // the backups themselves are only read
        } catch {
          // a directory closed to this user: its owner is named above
        }
      }
    }
  };
  try {
    walk(owner.dataDir, (name) => NEEDED.has(name));
  } catch {
    return undefined;
  }
  return found.sort((a, b) => Number(b.needed) - Number(a.needed));
}

/**
 * What `serve` and `check` say about a data directory another user owns, run as root or as that
 * owner (serve started as root becomes the owner). Errors stop serve: files the server must write that
 * are someone else's. Nothing when the directory is not there yet or is root's.
 */
export function ownershipFindings(
  config: Config,
  command: 'serve' | 'check',
): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const owner = dataDirOwner(config.dataDir);
  const uid = process.getuid?.();
  if (!owner || (uid !== 0 && uid !== owner.uid)) return { errors, warnings };
  if (switched && command === 'check') {
    warnings.push(
      `run as root, check became ${owner.user}, the owner of ${owner.dataDir}, and checked as that user, ` +
        `as a serve started as root runs once its ports are bound`,
    );
  }
  let entries: ForeignEntry[];
  try {
    entries = foreignEntries(owner) ?? [];
  } catch (error) {
    if (!(error instanceof DataDirUnreachableError)) throw error;
    errors.push(unreachableProblem(owner));
    return { errors, warnings };
  }
  const needed = entries.filter((entry) => entry.needed);
  const others = entries.filter((entry) => !entry.needed);
  if (needed.length > 0) errors.push(ownershipProblem(owner, needed));
  if (others.length > 0) warnings.push(ownershipProblem(owner, others));
  return { errors, warnings };
}

/** The data directory is the owner's, but a directory on its path is closed to the owner. */
function unreachableProblem(owner: DataDirOwner): string {
  return (
    `the data directory ${owner.dataDir} is ${owner.user}'s, and ${owner.user} cannot reach it (a directory on its ` +
    `path is closed to ${owner.user}): run as root, postern works there as ${owner.user}, as the server runs; ` +
    `give ${owner.user} search permission on every directory above it (or a group of ${owner.user}'s)`
  );
}

/** One line naming the entries (a few), their owners, and the command that gives them back. */
export function ownershipProblem(owner: DataDirOwner, entries: ForeignEntry[]): string {
  const shown = entries
    .slice(0, 3)
    .map((entry) => `${entry.file} is ${entry.owner}'s`)
    .join(', ');
  const more = entries.length > 3 ? ` (and ${entries.length - 3} more)` : '';
  const them = entries.length === 1 ? 'it' : 'them';
  const harm = entries.some((entry) => entry.needed)
    ? `the server, run as ${owner.user}, cannot write ${them}`
    : `${them === 'it' ? 'it is' : 'they are'} not ${owner.user}'s, who runs the server`;
  return (
    `${shown}${more}, in the data directory ${owner.dataDir}: ${harm} (made by a postern command run as root?). ` +
    `Give ${them} back: chown -R ${owner.user}:${owner.group} ${shellWord(owner.dataDir)}`
  );
}

/** EACCES or EPERM, on the error or its cause, or SQLite's words for a file it may not write. */
function permissionError(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return true;
    if (/\b(EACCES|EPERM)\b|permission denied|readonly database|unable to open database/i.test(e.message)) return true;
  }
  return false;
}

function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
