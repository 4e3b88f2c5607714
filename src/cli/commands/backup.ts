/**
 * `postern backup <file>` and `postern restore <file>`: a copy of the SQLite store that can be taken
 * while the server runs, and the way back from one with the server stopped. A PostgreSQL store is
 * backed up as any PostgreSQL database is (pg_dump, base backups): Postern does not wrap those.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.ts';
import { acquireServeLock, ServeLockError } from '../../server/serve-lock.ts';
import {
  backUpSqliteStore,
  type DatabaseSummary,
  inBackupsDirectory,
  openBackup,
  restoreSqliteStore,
} from '../../store/sqlite/backup.ts';
import { actAsDataDirOwner } from '../data-dir-owner.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';

export async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'backup');
  const target = onePath(positionals, 'backup', 'the file to write the backup to');
  const { config } = configFrom(values);
  sqliteOnly(config, 'backup');
  namedDirectoryExists(target);
  // Into dataDir/backups/ (made if missing), as restore and the migrations write there: as the data
  // directory's owner, so that backups/ and what is in it stay the server's (root would also follow a
  // link the owner planted there). Elsewhere the file is where and whose the admin says.
  if (inBackupsDirectory(config.dataDir, target)) actAsDataDirOwner(config);
  const summary = backUpSqliteStore(config.dataDir, path.resolve(target), {
    maxMessageSize: config.smtp.maxMessageSize,
  });
  if (values.json === true) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`backed up the store to ${summary.file}: ${describe(summary)}\n`);
  return 0;
}

export async function restoreCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'restore');
  const source = onePath(positionals, 'restore', 'the backup file to restore');
  const { config } = configFrom(values);
  sqliteOnly(config, 'restore');
  // Read as the user who ran the command (root may read a backup the server's user may not); then,
  // run as root, as the data directory's owner: the lock, the store and backups/ must be the server's.
  const backup = openBackup(path.resolve(source));
  let lock: ReturnType<typeof acquireServeLock>;
  try {
    actAsDataDirOwner(config);
    lock = acquireServeLock(config.dataDir);
  } catch (error) {
    backup.db.close();
    if (error instanceof ServeLockError) throw new CliError(`restore: ${error.message}`);
    throw error;
  }
  try {
    const outcome = restoreSqliteStore(config.dataDir, backup);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
      return 0;
    }
    const lines = [`restored ${path.resolve(source)} into ${outcome.restored.file}: ${describe(outcome.restored)}`];
    if (outcome.replaced) lines.push(`the database it replaced, with its WAL: ${outcome.replaced}`);
    if (outcome.setAside) lines.push(`a WAL left without its database, moved aside: ${outcome.setAside.join(', ')}`);
    lines.push(
      outcome.mailboxes === 1
        ? 'the mailbox got a new UIDVALIDITY: IMAP clients will download it again'
        : `${outcome.mailboxes} mailboxes got a new UIDVALIDITY: IMAP clients will download them again`,
      'mail delivered after the backup was taken is not in the restored store, nor are accounts, aliases, DKIM keys or quarantined messages changed since: check that DKIM signs with a key DNS still publishes (postern dkim list)',
    );
    if (outcome.restored.schemaVersion > 0) lines.push('start "postern serve" (it migrates an older backup first)');
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    if (backup.db.isOpen) backup.db.close();
    lock.release();
  }
}

function onePath(positionals: string[], command: string, what: string): string {
  if (positionals.length === 0) throw usageError(`${command}: name ${what}`);
  if (positionals.length > 1) throw usageError(`${command}: unexpected argument "${positionals[1]}"`);
  const file = positionals[0]!;
  if (file.trim() === '') throw usageError(`${command}: name ${what}`);
  return file;
}

/**
 * A name ending in "/" names a directory, which path.resolve forgets: `backup /srv/nodir/` wrote a
 * file named nodir. An existing one gets backUpSqliteStore's "is a directory" and its hint.
 */
function namedDirectoryExists(target: string): void {
  if (!target.endsWith('/') && !target.endsWith(path.sep)) return;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(target, { throwIfNoEntry: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTDIR') throw new CliError(`backup: cannot read ${target}: ${(error as Error).message}`);
  }
  if (stat?.isDirectory()) return;
  const dir = path.resolve(target);
  throw new CliError(
    stat || fs.existsSync(dir)
      ? `backup: ${target} ends in "/", so it names a directory, but ${dir} is not one: name the file to write the backup to`
      : `backup: ${target} ends in "/", so it names a directory, but directory ${dir} does not exist: create it first, or name the file to write the backup to`,
  );
}

function sqliteOnly(config: Config, command: string): void {
  if (config.store.engine !== 'sqlite') {
    throw new CliError(
      `${command} works on the SQLite store; this config uses PostgreSQL: use pg_dump and pg_restore (docs/scaling.md)`,
    );
  }
}

function describe(summary: DatabaseSummary): string {
  const megabytes = (summary.bytes / 1_048_576).toFixed(1);
  return `schema version ${summary.schemaVersion}, ${count(summary.accounts, 'account')}, ${count(summary.messages, 'stored message')}, ${megabytes} MB`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
