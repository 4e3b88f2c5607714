// Commands an admin runs as root on the data directory of the server's user (here `nobody`, uid 65534)
// become that user before they touch it: what they make is the server's, and the server can still write it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { migrateSqlite } from '../../src/store/sqlite/migrations.ts';
import { type CliResult, POSTERN, postern } from '../support/child-server.ts';
import { OWNER, ownedDir, unreachableByOwner } from '../support/owned-data-dir.ts';
import { withTestDatabase } from '../support/postgres.ts';
import { createTestCa } from '../support/test-ca.ts';

const PASSWORD = 'correct horse battery\n';
// Switching to another user needs root. .ci/run runs as root (it installs Debian packages), so these run
// in CI; they skip only on a developer's unprivileged machine, and say so.
const asRoot = process.getuid?.() === 0;

/** bin/postern run as the unprivileged user. */
function asOwner(args: string[], stdin = ''): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'setpriv',
      [`--reuid=${OWNER}`, `--regid=${OWNER}`, '--clear-groups', POSTERN, ...args],
      { cwd: '/', timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end(stdin);
  });
}

/** Every entry under `dir` whose owner is not `uid`. */
function notOwnedBy(dir: string, uid: number): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (fs.lstatSync(path.join(dir, name)).uid !== uid) found.push(name);
  }
  return found;
}

test('as root, user add on the server user’s empty data directory makes the store as that user, who can write it; backup and restore too', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  const added = await postern(['user', 'add', 'alice@example.com', '--password-stdin', '--config', d.file], {
    stdin: PASSWORD,
  });
  assert.equal(added.code, 0, added.stderr);
  assert.doesNotMatch(added.stderr, /became|switch/, 'a switch that works is not worth a line');
  assert.ok(fs.existsSync(path.join(d.data, DATABASE_FILE_NAME)));
  assert.deepEqual(notOwnedBy(d.data, OWNER), []);
  // The server's user goes on writing its store (the old code left postern.sqlite root's: EACCES).
  const more = await asOwner(['user', 'add', 'bob@example.com', '--password-stdin', '--config', d.file], PASSWORD);
  assert.equal(more.code, 0, more.stderr);
  const list = await postern(['user', 'list', '--json', '--config', d.file]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stderr, '', 'scripts read stdout; nothing more is said');
  assert.deepEqual(
    (JSON.parse(list.stdout) as { address: string }[]).map((a) => a.address),
    ['alice@example.com', 'bob@example.com'],
  );
  assert.deepEqual(notOwnedBy(d.data, OWNER), []);

  // restore reads a backup only root may read (as root), then works as the owner (old code: root, then chown).
  const backupDir = fs.mkdtempSync(path.join(d.root, 'root-only-')); // 0700, root's
  const backupFile = path.join(backupDir, 'b.sqlite');
  assert.equal((await postern(['backup', backupFile, '--config', d.file])).code, 0);
  assert.equal(fs.statSync(backupFile).uid, 0, 'backup does not switch: its file is where and whose root chose');
  const restored = await postern(['restore', backupFile, '--config', d.file]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(notOwnedBy(d.data, OWNER), []);
  const after = await asOwner(['user', 'list', '--config', d.file]);
  assert.equal(after.stdout, 'alice@example.com\nbob@example.com\n', after.stderr);
});

test('as root, migrate keeps its copy of the old database in a backups/ directory the server’s user owns', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  const file = path.join(d.data, DATABASE_FILE_NAME);
  const old = new DatabaseSync(file);
  old.exec('PRAGMA journal_mode = WAL');
  migrateSqlite(old, { target: 7 });
  old.close();
  for (const name of fs.readdirSync(d.data)) fs.chownSync(path.join(d.data, name), OWNER, OWNER);
  const run = await postern(['migrate', '--config', d.file]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /migrated from schema version 7/);
  assert.ok(fs.readdirSync(path.join(d.data, 'backups')).length === 1, 'the copy was taken');
  assert.deepEqual(notOwnedBy(d.data, OWNER), [], 'the old code left backups/ and the copy root’s');
});

test('a command refuses, naming the file and the chown, when the server’s files are already root’s', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  // What the old code left: a store made by `postern user list` run as root.
  fs.closeSync(fs.openSync(path.join(d.data, DATABASE_FILE_NAME), 'w', 0o600));
  const list = await postern(['user', 'list', '--config', d.file]);
  assert.equal(list.code, 1);
  assert.equal(
    list.stderr,
    `postern: ${path.join(d.data, DATABASE_FILE_NAME)} is root's, in the data directory ${d.data}: the server, run as nobody, ` +
      `cannot write it (made by a postern command run as root?). Give it back: chown -R nobody:nogroup ${d.data}\n`,
  );
  assert.equal(fs.statSync(path.join(d.data, DATABASE_FILE_NAME)).size, 0, 'nothing was changed');
});

test('a data directory its owner cannot reach: a command run as root says so before it touches anything there', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  fs.chmodSync(d.root, 0o700); // the data directory is nobody's, but only root may reach it
  const list = await postern(['user', 'list', '--config', d.file]);
  assert.equal(list.code, 1);
  assert.equal(list.stderr, `postern: ${unreachableByOwner(d.data)}\n`);
  assert.deepEqual(fs.readdirSync(d.data), [], 'no store made as root');
});

test('check as root tests the data directory for its owner, and names root’s files in it', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  assert.equal((await asOwner(['migrate', '--config', d.file])).code, 0);
  const ok = await postern(['check', '--json', '--config', d.file]);
  assert.equal(ok.code, 0, ok.stdout);
  const report = JSON.parse(ok.stdout) as { errors: string[]; warnings: string[] };
  assert.deepEqual(report.errors, []);
  assert.match(
    report.warnings.join('\n'),
    /run as root, check became nobody, the owner of .*, and checked as that user, as a serve started as root runs once its ports are bound/,
  );

  fs.chmodSync(d.data, 0o500); // root may write it; its owner may not
  const readOnly = await postern(['check', '--config', d.file]);
  assert.equal(readOnly.code, 1, readOnly.stdout);
  assert.match(readOnly.stdout, new RegExp(`^error: dataDir: ${d.data} cannot be written \\(EACCES\\)`, 'm'));
  fs.chmodSync(d.data, 0o700);

  // What `serve` run as root leaves: its TLS directory and key.
  fs.mkdirSync(path.join(d.data, 'tls'), { mode: 0o700 });
  fs.writeFileSync(path.join(d.data, 'tls', 'self-signed.key'), 'key', { mode: 0o600 });
  const found = await postern(['check', '--config', d.file]);
  assert.equal(found.code, 1, found.stdout);
  assert.match(
    found.stdout,
    new RegExp(
      // Looked through with the owner's rights: root's tls/ is named, not entered (its key is not listed).
      `^error: ${path.join(d.data, 'tls')} is root's, in the data directory .*chown -R nobody:nogroup ${d.data}$`,
      'm',
    ),
  );
  const asTheOwner = await asOwner(['check', '--config', d.file]);
  assert.equal(asTheOwner.code, 1, 'run as the owner, check finds them too');
  assert.match(asTheOwner.stdout, /^error: .*tls is root's, .*chown -R nobody:nogroup/m);
});

test('check as root with PostgreSQL checks as the data directory’s owner too: a certificate only root can read is an error', (t) =>
  withTestDatabase(async ({ url }) => {
    if (!asRoot) return t.skip('needs root to switch users');
    const ca = await createTestCa();
    const { cert, key } = await ca.issue(['mx.example.com']);
    const d = ownedDir(t, {
      store: { engine: 'postgres', url },
      tls: { certificates: [{ cert: './cert.pem', key: './key.pem' }] },
    });
    fs.writeFileSync(path.join(d.root, 'cert.pem'), cert);
    fs.writeFileSync(path.join(d.root, 'key.pem'), key, { mode: 0o600 }); // root's: a serve as nobody cannot read it
    const result = await postern(['check', '--config', d.file]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /^warning: run as root, check became nobody, the owner of .*, and checked as that user/m,
    );
    assert.match(result.stdout, /^error: .*key\.pem.*EACCES/m);
    fs.chownSync(path.join(d.root, 'key.pem'), OWNER, OWNER);
    const fixed = await postern(['check', '--config', d.file]);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  }));

test('becoming the owner sets HOME, USER and LOGNAME to the owner’s, as runuser does (pg reads ~/.pgpass from HOME)', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  const becomeOwnerOf = (dataDir: string) => {
    const script = `
      import { becomeOwner, dataDirOwner } from ${JSON.stringify(new URL('../../src/cli/data-dir-owner.ts', import.meta.url).href)};
      becomeOwner(dataDirOwner(${JSON.stringify(dataDir)}), 'serve');
      console.log(JSON.stringify({ uid: process.getuid(), home: process.env.HOME, user: process.env.USER, logname: process.env.LOGNAME }));`;
    return new Promise<unknown>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { env: { ...process.env, HOME: '/root', USER: 'root', LOGNAME: 'root' } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout))),
      ),
    );
  };
  assert.deepEqual(await becomeOwnerOf(d.data), {
    uid: OWNER,
    home: '/nonexistent',
    user: 'nobody',
    logname: 'nobody',
  });
  // A uid no account names: no home, no name, and never root's.
  const bare = path.join(d.root, 'bare');
  fs.mkdirSync(bare, { mode: 0o700 });
  fs.chownSync(bare, 54321, 54321);
  assert.deepEqual(await becomeOwnerOf(bare), { uid: 54321, home: '/', user: '54321', logname: '54321' });
});

test('quickstart as root again after a chown: refused before it resets the password when the owner cannot write the config', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t); // d.root is root's (0755), d.data nobody's
  const site = path.join(d.root, 'site');
  const first = await postern(['quickstart', 'example.org', '--dir', site]);
  assert.equal(first.code, 0, first.stderr);
  // As if that run had stopped before its config, and the admin then gave the data to the server's user.
  fs.rmSync(path.join(site, 'postern.yaml'));
  const data = path.join(site, 'data');
  fs.chmodSync(site, 0o755); // the owner reaches its data (as /etc/postern 0750 root:postern lets postern), writes nothing there
  for (const name of ['', ...(fs.readdirSync(data, { recursive: true }) as string[])]) {
    fs.lchownSync(path.join(data, name), OWNER, OWNER);
  }
  const hash = () => {
    const db = new DatabaseSync(path.join(data, DATABASE_FILE_NAME), { readOnly: true });
    try {
      return (db.prepare('SELECT password_hash FROM accounts').get() as { password_hash: string }).password_hash;
    } finally {
      db.close();
    }
  };
  const before = hash();
  const refusal = (problem: string) =>
    `postern: quickstart: ${data} is nobody's, so quickstart run as root works as nobody there (as the server runs), ` +
    `and ${problem}: remove ${data} to start afresh (it holds what an earlier quickstart made), or use a new --dir\n`;
  const refused = await postern(['quickstart', 'example.org', '--dir', site]);
  assert.equal(refused.code, 1, refused.stdout);
  assert.equal(refused.stderr, refusal(`nobody cannot write ${path.join(site, 'postern.yaml')}`));
  assert.equal(hash(), before, 'the password is not reset');
  assert.deepEqual(fs.readdirSync(site).sort(), ['data'], 'no config');
  // The directory as quickstart makes it, 0750 root's: nobody cannot even reach its data.
  fs.chmodSync(site, 0o750);
  const unreachable = await postern(['quickstart', 'example.org', '--dir', site]);
  assert.equal(unreachable.code, 1, unreachable.stdout);
  assert.equal(unreachable.stderr, refusal(`nobody cannot reach it (${site} is closed to nobody)`));
  assert.equal(hash(), before, 'the password is not reset');
  // Where the owner may write the directory, the run works as it, and its probe file is gone.
  fs.chownSync(site, OWNER, OWNER);
  const again = await postern(['quickstart', 'example.org', '--dir', site]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^Password: \S+$/m);
  assert.notEqual(hash(), before);
  assert.equal(fs.statSync(path.join(site, 'postern.yaml')).uid, OWNER);
  assert.deepEqual(fs.readdirSync(site).sort(), ['data', 'postern.yaml'], 'no probe file left');
});

test('dkim keygen --export-private as root: a refused key reports why, and names the empty file the owner may not remove', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  const made = await postern(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'taken', '--config', d.file]);
  assert.equal(made.code, 0, made.stderr);
  // Root's own directory, which nobody may write: the command is nobody's by the time the key is refused.
  const keyFile = path.join(d.root, 'key.pem');
  const args = ['dkim', 'keygen', '--domain', 'example.com', '--selector', 'taken', '--export-private', keyFile];
  const refused = await postern([...args, '--config', d.file]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    'postern: example.com already has a DKIM key with selector taken (active); choose another with --selector\n' +
      `the empty file ${keyFile} made for the private key is left (EACCES): remove it\n` +
      `postern: note: run as root, this command became nobody, the owner of ${d.data}, before touching the data ` +
      'directory (as the server runs): a file it reads or writes elsewhere must be open to nobody too\n',
  );
  assert.equal(fs.readFileSync(keyFile, 'utf8'), '', 'empty: no key was written');
});
