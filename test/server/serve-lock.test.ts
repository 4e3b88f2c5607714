// One `postern serve` per SQLite data directory: the kernel lock under concurrent starters, crashes and
// a PID file that lies.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireServeLock, LOCK_FILE_NAME, ServeLockError } from '../../src/server/serve-lock.ts';

const LOCK_MODULE = fileURLToPath(new URL('../../src/server/serve-lock.ts', import.meta.url));
const PID_FILE = 'postern.pid';

/** A PID that was a process a moment ago and is no more: a PID file left by a crash. */
function deadPid(): number {
  const gone = spawnSync('sh', ['-c', 'echo $$']);
  return Number(gone.stdout.toString().trim());
}

function tempDataDir(t: { after(fn: () => void): void }): string {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-lock-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  return dataDir;
}

/**
 * A starter, for as many rounds as it is told: says "ready", waits for the round's barrier file, takes the
 * lock and says "took" (or the error), holds it until the round's release file appears. With jitter, it
 * stalls up to 2 ms before and after each file operation, as a starter on a loaded machine is descheduled
 * anywhere: the old PID-file lock gave the data directory to several starters in the first round so.
 */
const STARTER = `
  const [module, dataDir, control, rounds, jitter] = process.argv.slice(1);
  const { acquireServeLock } = await import(module);
  const { default: fs } = await import('node:fs');
  const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  if (jitter === 'jitter') {
    for (const name of ['readFileSync', 'writeFileSync', 'renameSync', 'linkSync', 'rmSync', 'openSync']) {
      const real = fs[name];
      fs[name] = (...args) => {
        pause(Math.random() * 2);
        try { return real(...args); } finally { pause(Math.random() * 2); }
      };
    }
  }
  for (let round = 1; round <= Number(rounds); round++) {
    console.log('ready');
    while (!fs.existsSync(control + '/go-' + round)) pause(1);
    try {
      const lock = acquireServeLock(dataDir);
      console.log('took');
      while (!fs.existsSync(control + '/release-' + round)) pause(2);
      lock.release();
    } catch (error) {
      console.log(error.name + ': ' + error.message);
    }
  }`;

interface Starter {
  child: ChildProcess;
  /** The next line the starter prints. */
  line(): Promise<string>;
}

/** argv says "postern" and the command, as the lock reads a holder's command line. */
function starter(dataDir: string, control: string, command: 'serve' | 'restore', rounds = 1, jitter = false): Starter {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      STARTER,
      LOCK_MODULE,
      dataDir,
      control,
      String(rounds),
      jitter ? 'jitter' : 'steady',
      '/opt/postern/bin/postern.mjs',
      command,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    child,
    line: async () => {
      const next = await lines.next();
      if (next.done) throw new Error(`starter ${child.pid} printed nothing more`);
      return next.value;
    },
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

test('eight starters released at once on a stale PID file, ten rounds: exactly one takes the lock each round', async (t) => {
  const dataDir = tempDataDir(t);
  const control = tempDataDir(t);
  const rounds = 10;
  const starters = Array.from({ length: 8 }, () => starter(dataDir, control, 'serve', rounds, true));
  t.after(() => {
    for (const s of starters) s.child.kill('SIGKILL');
  });
  for (let round = 1; round <= rounds; round++) {
    for (const s of starters) assert.equal(await s.line(), 'ready'); // last round's holder has released
    const left = fs.readdirSync(dataDir).filter((name) => name !== LOCK_FILE_NAME);
    assert.deepEqual(left, [], `round ${round}: no PID or temporary file left`);
    fs.writeFileSync(path.join(dataDir, PID_FILE), `${deadPid()}\n`); // left by a crash
    fs.writeFileSync(path.join(control, `go-${round}`), ''); // the barrier: all start now
    const outcomes = await Promise.all(starters.map((s) => s.line()));
    fs.writeFileSync(path.join(control, `release-${round}`), '');
    assert.equal(outcomes.filter((o) => o === 'took').length, 1, `round ${round}:\n${outcomes.join('\n')}`);
    const winner = starters[outcomes.indexOf('took')]!.child.pid;
    for (const other of outcomes.filter((o) => o !== 'took')) {
      assert.match(
        other,
        new RegExp(
          `^ServeLockError: another postern serve \\(pid ${winner}\\) uses the data directory .*stop it first`,
        ),
        `round ${round}`,
      );
    }
  }
  await Promise.all(starters.map((s) => exited(s.child)));
  assert.deepEqual(fs.readdirSync(dataDir), [LOCK_FILE_NAME], 'the lock file only');
});

/** A data directory whose lock a starter process (run as `postern <command>`) has taken and holds. */
async function heldBy(t: { after(fn: () => void): void }, command: 'serve' | 'restore') {
  const dataDir = tempDataDir(t);
  const control = tempDataDir(t);
  fs.writeFileSync(path.join(control, 'go-1'), '');
  const holder = starter(dataDir, control, command);
  t.after(() => holder.child.kill('SIGKILL'));
  assert.equal(await holder.line(), 'ready');
  assert.equal(await holder.line(), 'took');
  return { dataDir, control, holder };
}

test('a holder killed with SIGKILL frees the data directory at once; its PID file left behind is only overwritten', async (t) => {
  const { dataDir, holder } = await heldBy(t, 'serve');
  assert.equal(fs.readFileSync(path.join(dataDir, PID_FILE), 'utf8'), `${holder.child.pid}\n`);
  assert.throws(
    () => acquireServeLock(dataDir),
    new RegExp(`^ServeLockError: another postern serve \\(pid ${holder.child.pid}\\) uses the data directory`),
  );
  const lockInode = fs.statSync(path.join(dataDir, LOCK_FILE_NAME)).ino;
  holder.child.kill('SIGKILL');
  await exited(holder.child);
  assert.equal(fs.readFileSync(path.join(dataDir, PID_FILE), 'utf8'), `${holder.child.pid}\n`, 'left by the crash');
  const started = performance.now();
  const lock = acquireServeLock(dataDir);
  assert.ok(performance.now() - started < 500, 'no waiting on a lock the kernel dropped');
  assert.equal(fs.statSync(lock.lockFile).ino, lockInode, 'the same lock file: nothing taken over or replaced');
  assert.equal(fs.readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
  lock.release();
});

test('a restore holding the lock is named as such; a PID file removed or rewritten does not free the lock', async (t) => {
  const { dataDir, control, holder } = await heldBy(t, 'restore');
  assert.throws(
    () => acquireServeLock(dataDir),
    new RegExp(
      `^ServeLockError: another postern restore \\(pid ${holder.child.pid}\\) uses the data directory .*let it finish first`,
    ),
  );
  // An admin "cleaning up", or a PID file from before a crash: the holder keeps the data directory.
  fs.rmSync(path.join(dataDir, PID_FILE));
  assert.throws(
    () => acquireServeLock(dataDir),
    /^ServeLockError: cannot take the lock .*postern\.lock: another process holds it/,
  );
  fs.writeFileSync(path.join(dataDir, PID_FILE), `${deadPid()}\n`);
  assert.throws(() => acquireServeLock(dataDir), /names no running postern serve or restore/);
  fs.writeFileSync(path.join(control, 'release-1'), '');
  await exited(holder.child);
});

test('the lock file and the PID file are 0600 in a 0700 data directory; release removes only our own PID file', (t) => {
  const dataDir = path.join(tempDataDir(t), 'data');
  const lock = acquireServeLock(dataDir);
  assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
  assert.equal(fs.readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
  assert.equal(fs.statSync(lock.file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(lock.lockFile).mode & 0o777, 0o600);
  assert.equal(fs.statSync(lock.lockFile).size, 0, 'nothing written to the lock file');
  assert.deepEqual(fs.readdirSync(dataDir).sort(), [LOCK_FILE_NAME, PID_FILE], 'no journal beside the lock');
  assert.throws(() => acquireServeLock(dataDir), /this process holds the lock .* already/);
  fs.writeFileSync(`${lock.file}.new`, `${deadPid()}\n`);
  fs.renameSync(`${lock.file}.new`, lock.file); // replaced by someone since
  lock.release();
  assert.ok(fs.existsSync(lock.file), 'not ours: kept');
  lock.release(); // twice is harmless
  const again = acquireServeLock(dataDir);
  assert.equal(fs.readFileSync(again.file, 'utf8'), `${process.pid}\n`);
  again.release();
  assert.deepEqual(fs.readdirSync(dataDir), [LOCK_FILE_NAME], 'the lock file stays: removing it would race');
});

test('a lock file that is not an empty SQLite database is named, with what to do', (t) => {
  const dataDir = tempDataDir(t);
  fs.writeFileSync(path.join(dataDir, LOCK_FILE_NAME), 'not a database, not empty either\n'.repeat(10));
  assert.throws(
    () => acquireServeLock(dataDir),
    /^ServeLockError: the lock file .*postern\.lock is not an empty SQLite database \(file is not a database\): remove it/,
  );
  assert.equal(fs.existsSync(path.join(dataDir, PID_FILE)), false);
});

/**
 * A server of a version before the kernel lock, as after an upgrade made without stopping it: its
 * command line is `… postern serve`, it wrote postern.pid and has the database open, and it holds no lock.
 */
async function olderServer(dataDir: string): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs');
    fs.openSync(process.argv[1], 'a');
    fs.writeFileSync(process.argv[2], process.pid + '\\n', { mode: 0o600 });
    console.log('open');
    setInterval(() => {}, 1000);`;
  const args = ['-e', script, path.join(dataDir, 'postern.sqlite'), path.join(dataDir, PID_FILE)];
  const child = spawn(process.execPath, [...args, '/opt/postern/bin/postern', 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  assert.equal(line, 'open');
  return child;
}

test('a server from before the kernel lock, still running on the data directory, is named; one on another directory is not', async (t) => {
  const dataDir = tempDataDir(t);
  const older = await olderServer(dataDir);
  t.after(() => older.kill('SIGKILL'));
  assert.throws(
    () => acquireServeLock(dataDir),
    new RegExp(
      `^ServeLockError: a postern serve from before this lock \\(pid ${older.pid}\\) uses the data directory .*: it has .*postern\\.sqlite open and holds no postern\\.lock; stop it first`,
    ),
  );
  // The same PID naming a live `postern serve` of another data directory (a second instance, or a PID
  // that a server took after a reboot): not this directory's server, and the refusal above kept no lock.
  const elsewhere = tempDataDir(t);
  const other = await olderServer(elsewhere);
  t.after(() => other.kill('SIGKILL'));
  older.kill('SIGKILL');
  await once(older, 'exit');
  fs.writeFileSync(path.join(dataDir, PID_FILE), `${other.pid}\n`);
  const ours = acquireServeLock(dataDir);
  assert.equal(fs.readFileSync(ours.file, 'utf8'), `${process.pid}\n`);
  ours.release();
});

test('serve as root on a data directory its user owns: the lock and PID files are made with that user’s rights, never through a planted link', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to act as another user'); // .ci/run runs as root: this runs in CI
    return;
  }
  const NOBODY = 65534;
  const root = tempDataDir(t);
  fs.chmodSync(root, 0o755); // the owner must reach its data directory
  const secrets = path.join(root, 'root-only');
  fs.mkdirSync(secrets, { mode: 0o700 });
  const secret = path.join(secrets, 'secret');
  fs.writeFileSync(secret, 'secret\n', { mode: 0o600 });
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.chownSync(dataDir, NOBODY, NOBODY);

  // A fresh lock: the owner's file, and the process is root again after.
  const lock = acquireServeLock(dataDir);
  assert.equal(fs.statSync(lock.lockFile).uid, NOBODY);
  assert.equal(fs.statSync(lock.file).uid, NOBODY);
  assert.equal(process.geteuid?.(), 0);
  lock.release();

  // The owner replaced the lock file with links: to a root-only file, and to a file root could create.
  for (const target of [secret, path.join(secrets, 'created-by-root')]) {
    fs.rmSync(path.join(dataDir, LOCK_FILE_NAME), { force: true });
    fs.symlinkSync(target, path.join(dataDir, LOCK_FILE_NAME));
    assert.throws(() => acquireServeLock(dataDir), /^ServeLockError: cannot open the lock .*postern\.lock/);
    assert.equal(process.geteuid?.(), 0);
  }
  assert.equal(fs.statSync(secret).uid, 0, 'not chowned');
  assert.equal(fs.readFileSync(secret, 'utf8'), 'secret\n', 'not overwritten');
  assert.deepEqual(fs.readdirSync(secrets), ['secret'], 'nothing created through the link');
});

test('a server from before the kernel lock is found through a data directory reached by a link, and as root on its user’s directory', async (t) => {
  const root = tempDataDir(t);
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const link = path.join(root, 'link');
  fs.symlinkSync(dataDir, link);
  // Run as root, the older server wrote its PID file 0600 and its descriptors are root's to read.
  if (process.getuid?.() === 0) fs.chownSync(dataDir, 65534, 65534);
  const older = await olderServer(dataDir);
  t.after(() => older.kill('SIGKILL'));
  assert.throws(() => acquireServeLock(link), /^ServeLockError: a postern serve from before this lock/);
  assert.throws(() => acquireServeLock(dataDir), /^ServeLockError: a postern serve from before this lock/);
});

test('release does not read the PID file: a FIFO put in its place does not hang the shutdown', (t) => {
  const dataDir = tempDataDir(t);
  const script = `
    const { acquireServeLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const { execFileSync } = await import('node:child_process');
    const { rmSync } = await import('node:fs');
    const lock = acquireServeLock(${JSON.stringify(dataDir)});
    rmSync(lock.file);
    execFileSync('mkfifo', [lock.file]);
    lock.release();
    console.log('released');`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 5000, encoding: 'utf8' });
  assert.equal(run.signal, null, 'release hung on the FIFO');
  assert.equal(run.stdout.trim(), 'released', run.stderr);
  assert.ok(fs.lstatSync(path.join(dataDir, PID_FILE)).isFIFO(), 'not ours: left where it is');
});

test('serve as root on its user’s data directory behind a parent closed to that user: refused, root does not take the lock for it', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to act as another user'); // .ci/run runs as root: this runs in CI
    return;
  }
  const closed = tempDataDir(t); // 0700, root's: the owner cannot reach what is inside
  const dataDir = path.join(closed, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.chownSync(dataDir, 65534, 65534);
  // Root doing it instead is what an owner who closed a parent of its own, one of its processes still
  // inside planting links, could use (a review made root create a file through the lock's link so).
  assert.throws(
    () => acquireServeLock(dataDir),
    (error: unknown) =>
      error instanceof ServeLockError &&
      error.message ===
        `the data directory ${dataDir} belongs to uid 65534, who cannot reach it (a directory on its path is closed ` +
          'to that user): a server started as root runs as that user; open the path to it (search permission, x)',
  );
  assert.deepEqual(fs.readdirSync(dataDir), [], 'nothing made');
  assert.equal(process.geteuid?.(), 0, 'root again');
  assert.equal(process.getegid?.(), 0);
});
