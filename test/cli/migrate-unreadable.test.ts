// `postern migrate` on a store it cannot read: the one line the other commands give, exit 1, never
// "unexpected error" with a stack trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { addUser, configDir, postern } from '../support/child-server.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context) {
  const d = configDir();
  t.after(() => d.cleanup());
  const data = path.join(d.root, 'data');
  return { ...d, data, live: path.join(data, DATABASE_FILE_NAME) };
}

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /unexpected error|\n\s+at /);
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
}

test('migrate on a file that is not a database, or a truncated one: one line, exit 1', async (t) => {
  const d = dir(t);
  fs.mkdirSync(d.data, { mode: 0o700 });
  fs.writeFileSync(d.live, 'not a db\n', { mode: 0o600 });
  for (const args of [['migrate'], ['migrate', '--json']]) {
    const r = await postern([...args, '--config', d.file]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assertOneLine(
      r.stderr,
      /^postern: cannot read the SQLite store .*\/data\/postern\.sqlite: file is not a database$/m,
    );
  }

  const whole = dir(t);
  await addUser(whole.file, 'alice@example.com');
  const bytes = fs.readFileSync(whole.live);
  // Its first page (the schema's root) and no more: the tables it names are past the end.
  fs.writeFileSync(whole.live, bytes.subarray(0, 4096));
  fs.rmSync(`${whole.live}-wal`, { force: true });
  fs.rmSync(`${whole.live}-shm`, { force: true });
  const truncated = await postern(['migrate', '--json', '--config', whole.file]);
  assert.equal(truncated.code, 1, truncated.stderr);
  assertOneLine(truncated.stderr, /^postern: cannot (read|migrate) the SQLite store .*\/data\/postern\.sqlite: .+$/m);
});

test('migrate on a store another process holds locked past the busy timeout: says so, exit 1', async (t) => {
  const d = dir(t);
  await addUser(d.file, 'alice@example.com');
  // An exclusive lock in WAL mode (locking_mode EXCLUSIVE) keeps every other connection out, readers too.
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const { DatabaseSync } = require('node:sqlite');
       const db = new DatabaseSync(${JSON.stringify(d.live)});
       db.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE');
       process.stdout.write('locked\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => holder.kill('SIGKILL'));
  await once(holder.stdout!, 'data');
  const r = await postern(['migrate', '--config', d.file]);
  assert.equal(r.code, 1, r.stderr);
  assertOneLine(
    r.stderr,
    /^postern: cannot (read|migrate) the SQLite store .*\/data\/postern\.sqlite: database is locked: it is locked by another process \(a postern serve, a postern command or a sqlite3 shell\) for longer than 5 s: let it finish, then try again$/m,
  );
});
