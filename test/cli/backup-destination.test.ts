// Where `postern backup` may write: never directly in the data directory (serve and restore own the
// names there), a name ending in "/" is a directory, and what a stray -journal beside the store does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { addUser, configDir, postern } from '../support/child-server.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context) {
  const d = configDir();
  t.after(() => d.cleanup());
  return { ...d, data: path.join(d.root, 'data'), live: path.join(d.root, 'data', DATABASE_FILE_NAME) };
}

test('backup refuses a destination directly in the data directory, and says where to put it', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  fs.symlinkSync(d.data, path.join(d.root, 'link'));
  const before = fs.readdirSync(d.data).sort();
  // The names serve and restore own, another name beside them, the directory itself, and the
  // directory reached through a link.
  for (const target of [
    `${d.live}-journal`,
    path.join(d.data, 'postern.pid'),
    `${d.live}.restore-1`,
    path.join(d.data, 'mail.sqlite'),
    d.data,
    path.join(d.root, 'link', 'mail.sqlite'),
  ]) {
    const r = await postern(['backup', target, '--config', d.file]);
    assert.equal(r.code, 1, `${target}: ${r.stdout}`);
    assert.match(
      r.stderr,
      /^postern: .* is in the data directory .*\/data, where serve and restore own the file names .*: write the backup to a subdirectory, e\.g\. .*\/data\/backups\/backup-<date>\.sqlite, or elsewhere\n$/,
    );
  }
  assert.deepEqual(fs.readdirSync(d.data).sort(), before, 'nothing was written there');

  // A subdirectory of it is fine: backups/, where the copies before a migration go too.
  fs.mkdirSync(path.join(d.data, 'backups'), { mode: 0o700 });
  const inBackups = await postern(['backup', path.join(d.data, 'backups', 'backup-1.sqlite'), '--config', d.file]);
  assert.equal(inBackups.code, 0, inBackups.stderr);
  assert.match(inBackups.stdout, /backed up the store to .*\/data\/backups\/backup-1\.sqlite: schema version/);
});

test('a stray postern.sqlite-journal beside the store is named as the cause of a failed read', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  // What a backup written under that name left (before backup refused it): a database, not a journal.
  fs.copyFileSync(d.live, `${d.live}-journal`);
  for (const args of [
    ['user', 'list'],
    ['migrate', '--status'],
  ]) {
    const r = await postern([...args, '--config', d.file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /cannot read the SQLite store .*\/postern\.sqlite: .*\/postern\.sqlite-journal beside it is taken for the journal of a write that never finished, which a read-only open cannot roll back: if it is a file put there \(a backup given that name\), move it out of /,
    );
    assert.doesNotMatch(r.stderr, /attempt to write a readonly database/);
  }
  fs.rmSync(`${d.live}-journal`);
  const list = await postern(['user', 'list', '--config', d.file]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /alice@example\.com/);
});

test('backup to a name ending in "/": a directory, which must exist', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const missing = await postern(['backup', `${path.join(d.root, 'nodir')}/`, '--config', d.file]);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(
    missing.stderr,
    /backup: .*\/nodir\/ ends in "\/", so it names a directory, but directory .*\/nodir does not exist: create it first, or name the file to write the backup to/,
  );
  assert.equal(fs.existsSync(path.join(d.root, 'nodir')), false, 'no file named nodir');

  const folder = await postern(['backup', `${d.root}/`, '--config', d.file]);
  assert.equal(folder.code, 1, folder.stdout);
  assert.match(
    folder.stderr,
    /postern-cli-\w+ is a directory: name the file to write the backup to, e\.g\. .*\/postern-<date>\.sqlite/,
  );

  const file = path.join(d.root, 'b.sqlite');
  assert.equal((await postern(['backup', file, '--config', d.file])).code, 0);
  const notDir = await postern(['backup', `${file}/`, '--config', d.file]);
  assert.equal(notDir.code, 1, notDir.stdout);
  assert.match(notDir.stderr, /b\.sqlite\/ ends in "\/", so it names a directory, but .*b\.sqlite is not one/);
});

test('a backup that cannot be written names the file asked for, not its temporary name', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const target = path.join(d.root, 'no/such/dir/b.sqlite');
  const r = await postern(['backup', target, '--config', d.file]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^postern: cannot write the backup .*\/no\/such\/dir\/b\.sqlite: /);
});

test('dataDir/backups a file: migrate, serve and restore say so instead of EEXIST', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backupFile = path.join(d.root, 'b.sqlite');
  assert.equal((await postern(['backup', backupFile, '--config', d.file])).code, 0);
  // A store one schema behind: migrate and serve copy it to backups/ first.
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(d.live);
  db.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION - 1}`);
  db.exec(`DELETE FROM schema_version WHERE version = ${SQLITE_SCHEMA_VERSION}`);
  db.close();
  fs.writeFileSync(path.join(d.data, 'backups'), 'not a directory');
  const expected =
    /.*\/data\/backups is a file where a directory for the copies taken before a migration is needed: move that file elsewhere \(or rename it\)/;
  for (const args of [['migrate'], ['migrate', '--json'], ['serve']]) {
    const r = await postern([...args, '--config', d.file]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, expected);
    assert.doesNotMatch(r.stderr, /EEXIST/);
  }
  const restore = await postern(['restore', backupFile, '--config', d.file]);
  assert.equal(restore.code, 1, restore.stdout);
  assert.match(
    restore.stderr,
    /.*\/data\/backups is a file where a directory for the database a restore replaces is needed: move that file elsewhere/,
  );
});

test('backup into dataDir/backups/ on a fresh install makes backups/ (0700, the data directory owner’s, as restore makes it)', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backups = path.join(d.data, 'backups');
  assert.equal(fs.existsSync(backups), false, 'a fresh install has none');
  const asRoot = process.getuid?.() === 0;
  // The server's user owns the data directory; the admin backs up as root (src/cli/data-dir-owner.ts).
  if (asRoot) {
    fs.chmodSync(d.root, 0o755);
    for (const f of ['', ...fs.readdirSync(d.data)]) fs.chownSync(path.join(d.data, f), 65534, 65534);
  }
  // The name the refusal of a file directly in dataDir suggests, reached through a link too.
  fs.symlinkSync(d.data, path.join(d.root, 'link'));
  const r = await postern(['backup', path.join(d.root, 'link', 'backups', 'backup-1.sqlite'), '--config', d.file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backed up the store to .*\/backups\/backup-1\.sqlite: schema version/);
  assert.equal(fs.statSync(backups).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(backups, 'backup-1.sqlite')).isFile(), true);
  if (asRoot) {
    assert.equal(fs.statSync(backups).uid, 65534, 'backups/ is the server user’s');
    assert.equal(fs.statSync(path.join(backups, 'backup-1.sqlite')).uid, 65534);
  } else {
    t.diagnostic('not root: the ownership half of this test needs root to chown');
  }
  // Only backups/ itself is made: a directory under it, or any other missing one, is the admin's.
  for (const target of [path.join(backups, 'daily', 'b.sqlite'), path.join(d.root, 'nodir', 'b.sqlite')]) {
    const missing = await postern(['backup', target, '--config', d.file]);
    assert.equal(missing.code, 1, missing.stdout);
    assert.equal(
      missing.stderr,
      `postern: cannot write the backup ${target}: directory ${path.dirname(target)} does not exist: create it first\n`,
    );
    assert.equal(fs.existsSync(path.dirname(target)), false);
  }
});
