// One `postern serve` per SQLite data directory: the PID lock under concurrent starters.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireServeLock, LOCK_FILE_NAME } from '../../src/server/serve-lock.ts';

const LOCK_MODULE = fileURLToPath(new URL('../../src/server/serve-lock.ts', import.meta.url));

/** A PID that was a process a moment ago and is no more: a lock left by a crash. */
function deadPid(): number {
  const gone = spawnSync('sh', ['-c', 'echo $$']);
  return Number(gone.stdout.toString().trim());
}

test('eight servers starting at once on a stale lock: exactly one takes it, the others are told who has it', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-lock-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dataDir, LOCK_FILE_NAME), `${deadPid()}\n`);
  // Each starter holds what it took for a second, as a server would; argv says "serve" and "postern".
  const script = `
    const { acquireServeLock } = await import(process.argv[1]);
    try { acquireServeLock(process.argv[2]); console.log('took'); await new Promise((r) => setTimeout(r, 1000)); }
    catch (error) { console.log(error.name + ': ' + error.message); }`;
  const starters = Array.from(
    { length: 8 },
    () =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script, LOCK_MODULE, dataDir, 'serve', 'postern'],
          { timeout: 20_000 },
          (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
        ),
      ),
  );
  const outcomes = await Promise.all(starters);
  assert.equal(outcomes.filter((o) => o === 'took').length, 1, outcomes.join('\n'));
  for (const other of outcomes.filter((o) => o !== 'took')) {
    assert.match(
      other,
      /^ServeLockError: (another postern serve \(pid \d+\) uses the data directory|cannot take the lock)/,
    );
  }
  assert.deepEqual(
    fs.readdirSync(dataDir).filter((name) => name !== LOCK_FILE_NAME),
    [],
    'no temporary or moved-aside files left',
  );
});

test('the lock is a 0600 file holding our pid, released by its owner only', (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-lock-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const lock = acquireServeLock(dataDir);
  assert.equal(fs.readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
  assert.equal(fs.statSync(lock.file).mode & 0o777, 0o600);
  fs.writeFileSync(lock.file, `${deadPid()}\n`); // taken over by another since
  lock.release();
  assert.ok(fs.existsSync(lock.file), 'not ours any more: kept');
  const again = acquireServeLock(dataDir); // the stale one taken over
  assert.equal(fs.readFileSync(again.file, 'utf8'), `${process.pid}\n`);
  again.release();
  assert.equal(fs.existsSync(again.file), false);
});

test('a file system without hard links (link() refused with EPERM) still gets its lock', (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-lock-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const link = fs.linkSync;
  t.after(() => {
    fs.linkSync = link;
  });
  fs.linkSync = () => {
    throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
  };
  const lock = acquireServeLock(dataDir);
  assert.equal(fs.readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
  assert.deepEqual(fs.readdirSync(dataDir), [LOCK_FILE_NAME], 'no temporary file left');
  lock.release();
  assert.equal(fs.existsSync(lock.file), false);
});
