// `postern backup` while the server takes mail, and `postern restore` with it stopped: what each keeps,
// what each refuses, and that nothing a refusal touches changes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquireServeLock } from '../../src/server/serve-lock.ts';
import { backUpSqliteStore } from '../../src/store/sqlite/backup.ts';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { migrateSqlite, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { addUser, configDir, postern, spawnServer } from '../support/child-server.ts';
import { type Load, sender } from '../support/smtp-load.ts';

const LOCK_MODULE = fileURLToPath(new URL('../../src/server/serve-lock.ts', import.meta.url));
const STORE_MODULE = fileURLToPath(new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url));

type Context = { after(fn: () => unknown): void };

function dir(t: Context, extra: Record<string, unknown> = {}) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  return { ...d, data: path.join(d.root, 'data'), live: path.join(d.root, 'data', DATABASE_FILE_NAME) };
}

function read<T>(file: string, work: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

const subjects = (file: string) =>
  read(file, (db) => (db.prepare('SELECT header_subject AS s FROM messages').all() as { s: string }[]).map((r) => r.s));
const uidValidities = (file: string) =>
  read(file, (db) => (db.prepare('SELECT uid_validity AS v FROM mailboxes').all() as { v: number }[]).map((r) => r.v));
const integrity = (file: string) => read(file, (db) => ({ ...db.prepare('PRAGMA integrity_check').get() }));
/** How far ids move past a backup's when the replaced store's are not known (docs/deployment.md, Restore). */
const UNKNOWN_IDS_MARGIN = 1_000_000;
/** The AUTOINCREMENT counter of `table`: the last id given out (0 when none was). */
const seqOf = (file: string, table: string) =>
  read(file, (db) => Number(db.prepare('SELECT max(seq) AS n FROM sqlite_sequence WHERE name = ?').get(table)?.n ?? 0));
const maxId = (file: string, table: string) =>
  read(file, (db) => Number(db.prepare(`SELECT max(id) AS n FROM ${table}`).get()?.n ?? 0));
/** Files in the data directory a failed command may have left: partial copies, restores under way. */
const leftovers = (folder: string) => fs.readdirSync(folder).filter((f) => /partial|restore-/.test(f));

test('a backup taken under load holds every message acknowledged before it began; restore brings it back', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const server = await spawnServer(d.file);
  t.after(() => server.stop('SIGKILL'));

  const load: Load = { acked: new Set(), attempted: 0 };
  let counter = 0;
  const options = { max: 400, recipients: () => ['alice@example.com'] };
  const senders = Array.from({ length: 4 }, () => sender(server.port, () => ++counter, load, options));
  while (load.acked.size < 40) await sleep(5); // bounded: the senders stop at 1,600 messages
  const ackedBefore = [...load.acked];
  const backupFile = path.join(d.root, 'mail.backup');
  const backup = await postern(['backup', backupFile, '--config', d.file]);
  await Promise.all(senders);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(
    backup.stdout,
    /^backed up the store to .*mail\.backup: schema version \d+, 1 account, \d+ stored messages/,
  );
  assert.equal(fs.statSync(backupFile).mode & 0o777, 0o600, 'the backup holds password hashes: mode 0600');
  assert.deepEqual(integrity(backupFile), { integrity_check: 'ok' });
  const inBackup = new Set(subjects(backupFile));
  assert.deepEqual(
    ackedBefore.filter((n) => !inBackup.has(`msg-${n}`)),
    [],
    'every message acknowledged before the backup is in it',
  );
  assert.ok(inBackup.size < load.acked.size, 'the load went on after the backup (otherwise the test shows nothing)');
  assert.deepEqual(leftovers(d.root), []);

  assert.equal(await server.stop('SIGTERM'), 0);
  const before = uidValidities(d.live);
  const restore = await postern(['restore', backupFile, '--config', d.file]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, /^restored .*mail\.backup into .*postern\.sqlite: schema version/m);
  assert.match(restore.stdout, /the database it replaced, with its WAL: .*backups\/replaced-.*\.sqlite$/m);
  assert.match(restore.stdout, /the mailbox got a new UIDVALIDITY/);

  assert.deepEqual(new Set(subjects(d.live)), inBackup, 'the restored store holds what the backup held');
  assert.equal(fs.statSync(d.live).mode & 0o777, 0o600);
  const after = uidValidities(d.live);
  assert.ok(Math.min(...after) > Math.max(...before), `new UIDVALIDITY values ${after} above the old ${before}`);
  const replaced = /WAL: (\S+)$/m.exec(restore.stdout)![1]!;
  assert.equal(subjects(replaced).length, load.acked.size, 'the replaced store is kept whole, later mail included');
  assert.deepEqual(leftovers(d.data), []);

  // The server starts on the restored store and takes mail again.
  const again = await spawnServer(d.file);
  t.after(() => again.stop('SIGKILL'));
  const more: Load = { acked: new Set(), attempted: 0 };
  await sender(again.port, () => 1000, more, { max: 1, recipients: () => ['alice@example.com'] });
  assert.equal(more.acked.size, 1);
  assert.equal(await again.stop('SIGTERM'), 0);
  assert.ok(subjects(d.live).includes('msg-1000'));
});

test('restore refuses while a server runs on the data directory, and changes nothing', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backupFile = path.join(d.root, 'b.sqlite');
  assert.equal((await postern(['backup', backupFile, '--config', d.file])).code, 0);
  const server = await spawnServer(d.file);
  t.after(() => server.stop('SIGKILL'));
  const before = uidValidities(d.live);
  const restore = await postern(['restore', backupFile, '--config', d.file]);
  assert.equal(restore.code, 1);
  assert.match(
    restore.stderr,
    /^postern: restore: another postern serve \(pid \d+\) uses the data directory .*stop it first/,
  );
  assert.deepEqual(uidValidities(d.live), before);
  assert.equal(fs.existsSync(path.join(d.data, 'backups')), false, 'nothing moved aside');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('a server does not start while a restore holds the data directory', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  // A process that looks like `postern restore` to the lock (its command line), holding the lock.
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "(await import(process.argv[1])).acquireServeLock(process.argv[2]); console.log('took'); setTimeout(() => {}, 30000)",
      LOCK_MODULE,
      d.data,
      '/opt/postern/bin/postern.mjs',
      'restore',
      'x',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => holder.kill('SIGKILL'));
  const [took] = (await once(holder.stdout!, 'data')) as [Buffer];
  assert.equal(took.toString(), 'took\n');
  const serve = await postern(['serve', '--config', d.file]);
  assert.equal(serve.code, 1, serve.stderr);
  assert.match(serve.stderr, /another postern restore \(pid \d+\) uses the data directory .*let it finish first/);
});

test('restore refuses what is not a sound Postern backup, naming the problem; the live store stays', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const good = path.join(d.root, 'good.sqlite');
  assert.equal((await postern(['backup', good, '--config', d.file])).code, 0);
  const before = uidValidities(d.live);

  const text = path.join(d.root, 'notes.txt');
  fs.writeFileSync(text, 'this is not a database\n'.repeat(100));
  const foreign = path.join(d.root, 'foreign.sqlite');
  // a SQLite file of another program
  const f = new DatabaseSync(foreign);
  f.exec('CREATE TABLE notes (body TEXT)');
  f.close();
  // Another program's file that happens to have a "mailboxes" table and a user_version: it crashed the
  // restore with "no such column: id" (exit 70) before.
  const lookalike = path.join(d.root, 'lookalike.sqlite');
  const l = new DatabaseSync(lookalike);
  l.exec('CREATE TABLE mailboxes (name TEXT); PRAGMA user_version = 3');
  l.close();
  const newer = path.join(d.root, 'newer.sqlite');
  fs.copyFileSync(good, newer);
  const n = new DatabaseSync(newer);
  n.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
  n.close();
  const damaged = path.join(d.root, 'damaged.sqlite');
  fs.copyFileSync(good, damaged);
  const pageSize = read(damaged, (db) => Number(db.prepare('PRAGMA page_size').get()?.page_size));
  const bytes = fs.readFileSync(damaged);
  for (let page = 2; page * pageSize < bytes.length; page++)
    bytes.fill(0xa5, page * pageSize + 8, page * pageSize + 200);
  fs.writeFileSync(damaged, bytes);
  const pageDamaged = path.join(d.root, 'page-damaged.sqlite');
  const pages = fs.readFileSync(good);
  const mailboxesRoot = read(good, (db) =>
    Number(db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'mailboxes'").get()?.rootpage),
  );
  pages.fill(0xa5, (mailboxesRoot - 1) * pageSize, (mailboxesRoot - 1) * pageSize + 16); // one table's page only
  fs.writeFileSync(pageDamaged, pages);
  // The four tables (and columns) restore itself reads, and a user_version: it was restored, and every
  // command then failed with "no such table: schema_version".
  const fourTables = path.join(d.root, 'four-tables.sqlite');
  const four = new DatabaseSync(fourTables);
  four.exec(`CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, uid_validity INTEGER);
    CREATE TABLE messages (id INTEGER PRIMARY KEY); CREATE TABLE accounts (id INTEGER PRIMARY KEY);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER); PRAGMA user_version = 9`);
  four.close();
  // A Postern database with one column gone (changed by hand).
  const columnGone = path.join(d.root, 'column-gone.sqlite');
  fs.copyFileSync(good, columnGone);
  const g = new DatabaseSync(columnGone);
  g.exec('ALTER TABLE dkim_keys DROP COLUMN retire_after');
  g.close();
  // The partial file of a copy interrupted in a write, its hot journal beside it ("attempt to write a
  // readonly database" before).
  const incomplete = path.join(d.root, 'incomplete.sqlite');
  const source = path.join(d.root, 'journalled.sqlite');
  fs.copyFileSync(good, source);
  const w = new DatabaseSync(source);
  w.exec('PRAGMA journal_mode = DELETE; PRAGMA cache_size = 1');
  w.exec(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO counters (name, value) SELECT 'f-' || i || hex(randomblob(64)), i FROM n",
  );
  w.exec('BEGIN');
  w.exec('UPDATE counters SET value = value + 1');
  fs.copyFileSync(source, incomplete);
  fs.copyFileSync(`${source}-journal`, `${incomplete}-journal`);
  w.exec('ROLLBACK');
  w.close();

  const cases: [string, RegExp][] = [
    [path.join(d.root, 'missing.sqlite'), /cannot read the backup .*missing\.sqlite: ENOENT/],
    [d.root, /cannot read the backup .*: not a file/],
    [text, /cannot read the backup .*notes\.txt: file is not a database/],
    [foreign, /foreign\.sqlite is not a Postern database/],
    [
      lookalike,
      /lookalike\.sqlite is not a Postern database of schema version 3 \(it lacks the tables schema_version, counters, .* and the columns mailboxes\.id, mailboxes\.account_id, mailboxes\.uid_validity, /,
    ],
    [
      fourTables,
      /four-tables\.sqlite is not a Postern database of schema version 9 \(it lacks the tables schema_version, mailbox_messages, .*secrets and the columns accounts\.address, /,
    ],
    [
      columnGone,
      /column-gone\.sqlite is not a Postern database of schema version \d+ \(it lacks the column dkim_keys\.retire_after\)/,
    ],
    [
      incomplete,
      /cannot read the backup .*incomplete\.sqlite: it is an incomplete copy \(.*incomplete\.sqlite-journal beside it/,
    ],
    [
      newer,
      new RegExp(`newer\\.sqlite has schema version ${SQLITE_SCHEMA_VERSION + 1}, newer than this Postern knows`),
    ],
    [damaged, /cannot read the backup .*damaged\.sqlite: database disk image is malformed/],
    [pageDamaged, /page-damaged\.sqlite is damaged \(.+\): it cannot be restored/],
  ];
  for (const [file, expected] of cases) {
    const r = await postern(['restore', file, '--config', d.file]);
    assert.equal(r.code, 1, `${file}: ${r.stdout}`);
    assert.match(r.stderr, expected);
    assert.deepEqual(uidValidities(d.live), before, `${file}: the live store is untouched`);
    assert.deepEqual(leftovers(d.data), [], `${file}: no copy left behind`);
  }
  assert.equal(fs.existsSync(path.join(d.data, 'backups')), false, 'nothing moved aside');
  assert.equal(fs.existsSync(path.join(d.data, 'postern.pid')), false, 'the lock is released after a refusal');
  acquireServeLock(d.data).release(); // the kernel's too: taken at once
});

test('restore refuses while another process has the store open', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const good = path.join(d.root, 'good.sqlite');
  assert.equal((await postern(['backup', good, '--config', d.file])).code, 0);
  const before = uidValidities(d.live);
  const open = new DatabaseSync(d.live);
  t.after(() => open.close());
  open.prepare('SELECT count(*) FROM accounts').get();
  const r = await postern(['restore', good, '--config', d.file]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /another process has the store .*postern\.sqlite open/);
  assert.deepEqual(
    (open.prepare('SELECT uid_validity AS v FROM mailboxes').all() as { v: number }[]).map((row) => row.v),
    before,
  );
  assert.deepEqual(leftovers(d.data), []);
});

test('restore into a data directory without a store; backup refusals', async (t) => {
  const source = dir(t);
  await addUser(source.file, 'alice@example.com');
  const backupFile = path.join(source.root, 'b.sqlite');
  assert.equal((await postern(['backup', backupFile, '--config', source.file])).code, 0);

  const again = await postern(['backup', backupFile, '--config', source.file]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /b\.sqlite exists: a backup never replaces a file/);
  const folder = await postern(['backup', source.root, '--config', source.file]);
  assert.equal(folder.code, 1);
  assert.match(
    folder.stderr,
    /postern-cli-\w+ is a directory: name the file to write the backup to, e\.g\. .*\/postern-<date>\.sqlite/,
  );
  const noFolder = await postern(['backup', path.join(source.root, 'no/such/dir/b.sqlite'), '--config', source.file]);
  assert.equal(noFolder.code, 1);
  assert.match(
    noFolder.stderr,
    /^postern: cannot write the backup .*no\/such\/dir\/b\.sqlite: directory .*\/no\/such\/dir does not exist: create it first\n$/,
  );
  assert.equal(fs.existsSync(path.join(source.root, 'no')), false, 'only dataDir/backups is made');
  assert.deepEqual(leftovers(source.root), []);
  const usage = await postern(['backup', '--config', source.file]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /backup: name the file to write the backup to/);

  const fresh = dir(t);
  const nothing = await postern(['backup', path.join(fresh.root, 'x.sqlite'), '--config', fresh.file]);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /there is no SQLite store to back up: .*postern\.sqlite does not exist/);
  const restore = await postern(['restore', backupFile, '--config', fresh.file]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.doesNotMatch(restore.stdout, /replaced/);
  const list = await postern(['user', 'list', '--config', fresh.file]);
  assert.match(list.stdout, /alice@example\.com/);

  const pg = dir(t, { store: { engine: 'postgres', url: 'postgres://postern@127.0.0.1:1/postern' } });
  for (const command of ['backup', 'restore']) {
    const r = await postern([command, path.join(pg.root, 'x.sqlite'), '--config', pg.file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${command} works on the SQLite store; .*pg_dump`));
  }
});

test('restore removes a copy a crashed restore left, and run as root gives what it made to the data directory owner', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backupFile = path.join(d.root, 'b.sqlite');
  assert.equal((await postern(['backup', backupFile, '--config', d.file])).code, 0);
  fs.writeFileSync(path.join(d.data, `${DATABASE_FILE_NAME}.restore-99999`), 'half a copy');
  const asRoot = process.getuid?.() === 0;
  // The server's user owns its data directory (and can reach it); an admin restores as root, and the
  // command becomes that user after reading the backup (src/cli/data-dir-owner.ts).
  if (asRoot) {
    fs.chmodSync(d.root, 0o755);
    for (const f of ['', ...fs.readdirSync(d.data)]) fs.chownSync(path.join(d.data, f), 65534, 65534);
  }
  const r = await postern(['restore', backupFile, '--config', d.file]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers(d.data), [], 'the crashed copy is gone');
  if (asRoot) {
    assert.equal(fs.statSync(d.live).uid, 65534, 'the restored store is the server user’s');
    assert.equal(fs.statSync(path.join(d.data, 'backups')).uid, 65534);
    const replaced = /WAL: (\S+)$/m.exec(r.stdout)![1]!;
    assert.equal(fs.statSync(replaced).uid, 65534, 'the replaced store keeps its owner');
    // The restore made the lock file: the server, as its user, must open it to lock it.
    assert.equal(fs.statSync(path.join(d.data, 'postern.lock')).uid, 65534, 'the lock file is the server user’s');
  } else {
    t.diagnostic('not root: the ownership half of this test needs root to chown');
  }
});

test('restore: a quarantine id given out since the backup is not given out again (ids are never reused)', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backup = path.join(d.root, 'before.sqlite');
  assert.equal((await postern(['backup', backup, '--config', d.file])).code, 0);
  // Since the backup, the live store gave out quarantine ids up to 7 (held messages since released).
  const live = new DatabaseSync(d.live);
  live.exec(
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'quarantine', 7 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'quarantine')",
  );
  live.exec("UPDATE sqlite_sequence SET seq = 7 WHERE name = 'quarantine'");
  live.close();
  const restored = await postern(['restore', backup, '--config', d.file]);
  assert.equal(restored.code, 0, restored.stderr);
  const seq = read(d.live, (db) =>
    Number(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'quarantine'").get()?.seq ?? 0),
  );
  assert.equal(seq, 7, 'the next quarantined message gets id 8, not one an admin may have noted');
});

test('restore where the store is gone but its WAL stayed: the WAL is moved aside, never replayed onto the restored copy', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backup = path.join(d.root, 'before.sqlite');
  assert.equal((await postern(['backup', backup, '--config', d.file])).code, 0);
  // A server killed after commits it had not checkpointed: they are in postern.sqlite-wal only. (A
  // script file, not -e: the store's writer thread would inherit --input-type.)
  const script = path.join(d.root, 'killed-server.ts');
  fs.writeFileSync(
    script,
    `import { openSqliteStore } from ${JSON.stringify(STORE_MODULE)};
const store = await openSqliteStore({ dataDir: ${JSON.stringify(d.data)} });
const account = await store.findAccount('alice@example.com');
for (const subject of ['after the backup 1', 'after the backup 2'])
  await store.deliver({ mailFrom: 'x@example.net', recipients: [{ address: account.address, accountId: account.id }],
    content: new TextEncoder().encode('Subject: ' + subject + '\\r\\n\\r\\nbody\\r\\n'), receivedAt: new Date() });
process.kill(process.pid, 'SIGKILL');
`,
  );
  const killed = spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => killed.kill('SIGKILL'));
  const [, signal] = await once(killed, 'exit');
  assert.equal(signal, 'SIGKILL');
  assert.ok(fs.statSync(`${d.live}-wal`).size > 0, 'the commits are in the WAL (otherwise the test shows nothing)');
  // The admin moves the suspect database away (and forgets its WAL), then restores.
  fs.renameSync(d.live, path.join(d.root, 'suspect.sqlite'));

  const restore = await postern(['restore', backup, '--config', d.file, '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  for (const suffix of ['-wal', '-shm', '-journal']) assert.equal(fs.existsSync(`${d.live}${suffix}`), false, suffix);
  assert.deepEqual(integrity(d.live), { integrity_check: 'ok' });
  assert.deepEqual(subjects(d.live).sort(), subjects(backup).sort(), 'the restored store holds what the backup held');
  const renewed = uidValidities(d.live);
  assert.ok(Math.min(...renewed) > Math.max(...uidValidities(backup)), `renewed UIDVALIDITY ${renewed} kept`);
  // And it stays so once opened for writing (where SQLite would replay a WAL it found).
  const list = await postern(['mail', 'list', 'alice@example.com', '--config', d.file]);
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(list.stdout, /after the backup/);
  assert.deepEqual(uidValidities(d.live), renewed);

  // Kept for whoever wants that mail back: beside the suspect database, it is whole again.
  const outcome = JSON.parse(restore.stdout) as { setAside?: string[]; replaced?: string };
  assert.equal(outcome.replaced, undefined, 'there was no database to replace');
  assert.ok(
    outcome.setAside?.some((f) => /backups\/replaced-.*\.sqlite-wal$/.test(f)),
    restore.stdout,
  );
  for (const file of outcome.setAside ?? []) assert.ok(fs.existsSync(file), `${file} is kept`);
  const recovered = path.join(d.root, 'recovered.sqlite');
  fs.copyFileSync(path.join(d.root, 'suspect.sqlite'), recovered);
  fs.copyFileSync(outcome.setAside!.find((f) => f.endsWith('-wal'))!, `${recovered}-wal`);
  const db = new DatabaseSync(recovered);
  const all = (db.prepare('SELECT header_subject AS s FROM messages').all() as { s: string }[]).map((r) => r.s);
  db.close();
  assert.deepEqual(all.filter((s) => s.startsWith('after the backup')).sort(), [
    'after the backup 1',
    'after the backup 2',
  ]);
});

/**
 * Runs the CLI with a file size limit of `blocks` (512 octets each) standing in for a full disk:
 * SIGXFSZ ignored, a write past the limit fails with EFBIG.
 */
async function posternUnderFileLimit(blocks: number, args: string[]): Promise<{ code: number; stderr: string }> {
  const bin = fileURLToPath(new URL('../../bin/postern', import.meta.url));
  const script = `trap '' XFSZ; ulimit -f ${blocks}; exec "$0" "$@"`;
  const child = spawn('sh', ['-c', script, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stderr };
}

test('a backup that fails for a full disk leaves no partial copy nor its journal', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  // A store of about 2 MB (counters rows), so that the copy fails midway, its rollback journal written.
  const live = new DatabaseSync(d.live);
  live.exec(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO counters (name, value) SELECT 'filler-' || i || '-' || hex(randomblob(32)), i FROM n",
  );
  live.close();
  const destination = path.join(d.root, 'out', 'big.sqlite');
  fs.mkdirSync(path.dirname(destination));
  const { code, stderr } = await posternUnderFileLimit(2000, ['backup', destination, '--config', d.file]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /cannot write the backup/);
  assert.deepEqual(fs.readdirSync(path.dirname(destination)), [], 'nothing left behind');
});

test('restore that fails for a full disk says so in one line, and the store in place is unchanged', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const backup = path.join(d.root, 'before.sqlite');
  assert.equal((await postern(['backup', backup, '--config', d.file])).code, 0);
  const before = uidValidities(d.live);
  const { code, stderr } = await posternUnderFileLimit(8, ['restore', backup, '--config', d.file]);
  // Before: "unexpected error: Error: disk I/O error" with a stack trace, exit 70.
  assert.equal(code, 1, stderr);
  assert.match(stderr, /^postern: cannot write the restored copy .*: .*; the store in place is unchanged\n/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(uidValidities(d.live), before);
  assert.deepEqual(leftovers(d.data), []);
});

test('restore of a backup from an older schema over a newer store: done, migrated when the server starts', async (t) => {
  // A review found the id carry-over refused it ("no such table: sqlite_sequence"): schema 6 had none.
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const old = path.join(d.root, 'v6.sqlite');
  const db = new DatabaseSync(old);
  migrateSqlite(db, { target: 6 });
  db.close();
  const restored = await postern(['restore', old, '--config', d.file]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(
    read(d.live, (r) => Number(r.prepare('PRAGMA user_version').get()?.user_version)),
    6,
  );
  const status = await postern(['migrate', '--config', d.file]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(
    read(d.live, (r) => Number(r.prepare('PRAGMA user_version').get()?.user_version)),
    SQLITE_SCHEMA_VERSION,
  );
});

/** Quarantines a message the plain way the store does: SQLite gives the id (AUTOINCREMENT). */
function quarantineOne(file: string): number {
  const db = new DatabaseSync(file);
  try {
    const row = db
      .prepare(
        `INSERT INTO quarantine (received_at, mail_from, recipients, header_from, header_subject, size, score, category, reason, verdict, content)
         VALUES (0, 'x@example.net', '["alice@example.com"]', '', 'held', 1, 9, 'spam', 'test', '{}', x'00') RETURNING id`,
      )
      .get();
    return Number(row?.id);
  } finally {
    db.close();
  }
}

test('restore where the replaced store is unknown (lost, or another one): ids move past the backup by a margin', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  assert.equal(quarantineOne(d.live), 1);
  const backup = path.join(d.root, 'nightly.sqlite');
  assert.equal((await postern(['backup', backup, '--config', d.file])).code, 0);
  assert.equal(quarantineOne(d.live), 2, 'noted by an admin: id 2 is a phish'); // then the disk is lost

  // A new machine: the data directory is empty. Before, the next held message got id 2 again.
  const fresh = dir(t);
  const restored = await postern(['restore', backup, '--config', fresh.file]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(seqOf(fresh.live, 'quarantine'), 1 + UNKNOWN_IDS_MARGIN);
  assert.equal(seqOf(fresh.live, 'accounts'), 1 + UNKNOWN_IDS_MARGIN);
  assert.equal(seqOf(fresh.live, 'mailboxes'), maxId(backup, 'mailboxes') + UNKNOWN_IDS_MARGIN);
  assert.equal(quarantineOne(fresh.live), 2 + UNKNOWN_IDS_MARGIN);
  await addUser(fresh.file, 'carol@example.com');
  assert.equal(maxId(fresh.live, 'accounts'), 2 + UNKNOWN_IDS_MARGIN, 'a new account takes no id the lost store gave');

  // The same when serve made a new, empty store there first: its counters are not the lost store's.
  const other = dir(t);
  await addUser(other.file, 'bob@example.com');
  const over = await postern(['restore', backup, '--config', other.file]);
  assert.equal(over.code, 0, over.stderr);
  assert.equal(seqOf(other.live, 'quarantine'), 1 + UNKNOWN_IDS_MARGIN);
  assert.equal(seqOf(other.live, 'accounts'), 1 + UNKNOWN_IDS_MARGIN);
});

test('restore of a schema-6 backup: the ids carried (or the margin) survive the migrations serve runs after', async (t) => {
  const d = dir(t);
  // The store as an older Postern made it (schema 6: no quarantine, accounts without AUTOINCREMENT),
  // and the backup taken before the upgrade.
  fs.mkdirSync(d.data, { mode: 0o700 });
  const old = new DatabaseSync(d.live);
  migrateSqlite(old, { target: 6 });
  old.exec("INSERT INTO accounts (address, password_hash, created_at) VALUES ('alice@example.com', 'x', 0)");
  old.close();
  const backup = path.join(d.root, 'before-upgrade.sqlite');
  fs.copyFileSync(d.live, backup);
  // Upgraded; ids given out since: quarantine 1 to 3, account 2 (removed again).
  assert.equal((await postern(['migrate', '--config', d.file])).code, 0);
  for (let i = 0; i < 3; i++) quarantineOne(d.live);
  await addUser(d.file, 'bob@example.com');
  assert.equal((await postern(['user', 'remove', 'bob@example.com', '--config', d.file])).code, 0);
  assert.equal(seqOf(d.live, 'accounts'), 2);

  const restored = await postern(['restore', backup, '--config', d.file]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(
    read(d.live, (db) => Number(db.prepare('PRAGMA user_version').get()?.user_version)),
    6,
  );
  assert.equal((await postern(['migrate', '--config', d.file])).code, 0);
  // Before, the quarantine started again at 1 and account ids at 2.
  assert.equal(quarantineOne(d.live), 4, 'counted on from the replaced store');
  await addUser(d.file, 'carol@example.com');
  assert.equal(maxId(d.live, 'accounts'), 3);

  // A schema-6 file of another store (its counters unknown): the margin, kept through the migrations.
  const stranger = path.join(d.root, 'stranger.sqlite');
  const s6 = new DatabaseSync(stranger);
  migrateSqlite(s6, { target: 6 });
  s6.close();
  const again = await postern(['restore', stranger, '--config', d.file]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await postern(['migrate', '--config', d.file])).code, 0);
  assert.equal(quarantineOne(d.live), UNKNOWN_IDS_MARGIN + 1);
  await addUser(d.file, 'dave@example.com');
  assert.equal(maxId(d.live, 'accounts'), UNKNOWN_IDS_MARGIN + 1, 'past the margin, and past the replaced store');
});

/** A directory on another file system than the test's temporary ones; undefined when there is none. */
function otherFileSystem(t: Context, near: string): string | undefined {
  for (const base of ['/dev/shm', '/run/user', '/run']) {
    try {
      if (fs.statSync(base).dev === fs.statSync(near).dev) continue;
      const folder = fs.mkdtempSync(path.join(base, 'postern-other-'));
      t.after(() => fs.rmSync(folder, { recursive: true, force: true }));
      return folder;
    } catch {}
  }
  return undefined;
}

test('restore where backups/ is on another file system: the replaced database is copied there, whole', async (t) => {
  const d = dir(t);
  const other = otherFileSystem(t, d.root);
  if (!other) {
    t.skip('no second file system to put backups/ on');
    return;
  }
  await addUser(d.file, 'alice@example.com');
  const backup = path.join(d.root, 'b.sqlite');
  assert.equal((await postern(['backup', backup, '--config', d.file])).code, 0);
  await addUser(d.file, 'bob@example.com'); // after the backup: only in the replaced database
  fs.symlinkSync(other, path.join(d.data, 'backups'));

  // Before: "EXDEV: cross-device link not permitted", exit 70.
  const r = await postern(['restore', backup, '--config', d.file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { replaced } = JSON.parse(r.stdout) as { replaced: string };
  assert.equal(fs.realpathSync(path.dirname(replaced)), fs.realpathSync(other));
  const accounts = (file: string) =>
    read(file, (db) =>
      (db.prepare('SELECT address AS a FROM accounts ORDER BY id').all() as { a: string }[]).map((x) => x.a),
    );
  assert.deepEqual(accounts(replaced), ['alice@example.com', 'bob@example.com'], 'the replaced database, whole');
  assert.deepEqual(integrity(replaced), { integrity_check: 'ok' });
  assert.equal(fs.statSync(replaced).mode & 0o777, 0o600);
  assert.deepEqual(accounts(d.live), ['alice@example.com']);
  assert.deepEqual(
    fs.readdirSync(other).filter((f) => /partial/.test(f)),
    [],
  );
  assert.deepEqual(leftovers(d.data), []);

  // A WAL found without its database goes the same way.
  fs.rmSync(d.live);
  fs.writeFileSync(`${d.live}-wal`, 'a WAL of a lost database');
  const r2 = await postern(['restore', backup, '--config', d.file, '--json']);
  assert.equal(r2.code, 0, r2.stderr);
  const { setAside } = JSON.parse(r2.stdout) as { setAside: string[] };
  const wal = setAside.find((f) => f.endsWith('-wal'));
  assert.equal(fs.realpathSync(path.dirname(wal!)), fs.realpathSync(other), setAside.join());
  assert.equal(fs.readFileSync(wal!, 'utf8'), 'a WAL of a lost database');
  assert.equal(fs.existsSync(`${d.live}-wal`), false);
});

test('a backup that would leave the store’s file system below serve’s reserve for mail is refused', async (t) => {
  const d = dir(t, { smtp: { maxMessageSize: 1_000_000 } });
  await addUser(d.file, 'alice@example.com');
  const live = new DatabaseSync(d.live);
  live.exec(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO counters (name, value) SELECT 'filler-' || i || '-' || hex(randomblob(32)), i FROM n",
  );
  live.close();
  const size = fs.statSync(d.live).size;
  assert.ok(size > 500_000, `a store of ${size} octets`);
  // Free: the reserve (1.5 × 1,000,000) and half the store, before the copy.
  const bsize = 4096;
  const statfs = () => ({ bavail: Math.ceil((1_500_000 + size / 2) / bsize), bsize });
  const target = path.join(d.root, 'nightly.sqlite');
  assert.throws(
    () => backUpSqliteStore(d.data, target, { maxMessageSize: 1_000_000, statfs }),
    /the store's file system \(.*data\) has \d\.\d MB free: the backup \(about \d\.\d MB\) would leave \d\.\d MB, less than the 1\.4 MB serve keeps free for mail \(1\.5 × smtp\.maxMessageSize; .*452\): write the backup to another file system/,
  );
  assert.deepEqual(
    fs.readdirSync(d.root).filter((f) => f.startsWith('nightly')),
    [],
    'nothing written',
  );
  // With room for both it is taken; a target on another file system takes nothing from the store's.
  const roomy = () => ({ bavail: Math.ceil((1_500_000 + 2 * size) / bsize), bsize });
  assert.equal(backUpSqliteStore(d.data, target, { maxMessageSize: 1_000_000, statfs: roomy }).file, target);
  const other = otherFileSystem(t, d.root);
  if (other) {
    const away = path.join(other, 'nightly.sqlite');
    assert.equal(backUpSqliteStore(d.data, away, { maxMessageSize: 1_000_000, statfs }).file, away);
  }

  // The command applies the config's smtp.maxMessageSize: here one the file system can never keep free.
  const { bavail, bsize: real } = fs.statfsSync(d.data);
  const huge = dir(t, { smtp: { maxMessageSize: bavail * real } });
  await addUser(huge.file, 'alice@example.com');
  const r = await postern(['backup', path.join(huge.root, 'b.sqlite'), '--config', huge.file]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^postern: the store's file system .* less than the \d+\.\d MB serve keeps free for mail/);
  assert.deepEqual(
    fs.readdirSync(huge.root).filter((f) => f.startsWith('b.sqlite')),
    [],
  );
});

test('restore refuses the live store itself (its path, a hard link, a path through a link): nothing moves, no UIDVALIDITY changes', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  const before = uidValidities(d.live);
  fs.linkSync(d.live, path.join(d.root, 'hard.sqlite'));
  fs.symlinkSync(d.data, path.join(d.root, 'link'));
  for (const [given, named] of [
    [d.live, /is the live store itself/],
    [path.join(d.root, 'hard.sqlite'), /is the live store .*\/data\/postern\.sqlite itself/],
    [path.join(d.root, 'link', DATABASE_FILE_NAME), /is the live store .*\/data\/postern\.sqlite itself/],
  ] as const) {
    const r = await postern(['restore', given, '--config', d.file]);
    assert.equal(r.code, 1, `${given}: ${r.stdout}`);
    assert.match(r.stderr, named, given);
    assert.match(r.stderr, /^postern: \S+ is .*, not a backup of it: restore a file written by postern backup\n$/);
  }
  assert.equal(fs.existsSync(path.join(d.data, 'backups')), false, 'no replaced-… copy was made');
  assert.deepEqual(uidValidities(d.live), before);
  assert.deepEqual(leftovers(d.data), []);
  const list = await postern(['user', 'list', '--config', d.file]);
  assert.match(list.stdout, /alice@example\.com/);
});
