// `postern serve` as a process: how it starts, stops and fails, in a real child process.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { fullPipe } from '../log/full-pipe.ts';
import { configDir, MAIN, POSTERN, postern, ROOT } from '../support/child-server.ts';
import { freePort, waitForPort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

type Context = { after(fn: () => unknown): void };

/** A config dir whose SMTP listener is on a port known before the start (its log may be unreadable). */
async function withPort(t: Context, extra: Record<string, unknown> = {}) {
  const port = await freePort();
  const d = configDir({ listen: { smtp: `127.0.0.1:${port}`, submission: null, submissions: null }, ...extra });
  t.after(() => d.cleanup());
  return { ...d, port };
}

/** The child's exit, or 'running' after `ms` (then it is killed, unless `kill` is false). */
async function exitWithin(
  child: ChildProcess,
  ms: number,
  kill = true,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'running'> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    ),
    new Promise<'running'>((resolve) => {
      timer = setTimeout(() => resolve('running'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (result === 'running' && kill) child.kill('SIGKILL');
  return result;
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return () => text;
}

test('serve exits after SIGTERM when nothing reads its standard output (a full pipe, a stalled journal)', async (t) => {
  const { root, file, port } = await withPort(t);
  const pipe = fullPipe(root);
  t.after(() => pipe.close());
  // As `postern serve | sleep 300`: every log line finds the pipe full (EAGAIN), from the first.
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', file], { stdio: ['ignore', pipe.writer, 'pipe'] });
  pipe.closeWriter();
  t.after(() => child.kill('SIGKILL'));
  const stderr = collect(child.stderr);
  await waitForPort(port, 15_000, 'postern serve', () => child.exitCode !== null);
  const sent = Date.now();
  child.kill('SIGTERM');
  // sonic-boom retried EAGAIN in its flush at exit for ever: the server closed its ports and its store,
  // and its process lived on (under systemd, until TimeoutStopSec and SIGKILL).
  const result = await exitWithin(child, 20_000);
  assert.deepEqual(result, { code: 0, signal: null }, stderr());
  // The exit timer (1 s after "stopped"), then at most 2 s for a reader that takes nothing.
  assert.ok(Date.now() - sent < 10_000, `exited ${Date.now() - sent} ms after SIGTERM`);
});

/** Waits until the FIFO's reading end is open (its writing end then opens without blocking), and returns that end. */
async function fifoWriter(fifo: string, child: ChildProcess, stderr: () => string): Promise<number> {
  let writer: number | undefined;
  await waitFor(() => {
    try {
      writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
      assert.equal(child.exitCode, null, `the server exited: ${stderr()}`);
      return false;
    }
  }, 15_000);
  return writer!;
}

/** Sends SIGHUP to a server held in its start, which must live through it; then lets the start go on, and stops it. */
async function survivesHangup(child: ChildProcess, port: number, go: () => void, output: () => string): Promise<void> {
  child.kill('SIGHUP');
  const early = await exitWithin(child, 500, false);
  assert.equal(early, 'running', `a SIGHUP while starting ended the server: ${JSON.stringify(early)}`);
  go();
  await waitForPort(port, 15_000, 'postern serve', () => child.exitCode !== null).catch((error: Error) => {
    throw new Error(`${error.message}\n${output()}`);
  });
  child.kill('SIGTERM');
  assert.deepEqual(await exitWithin(child, 20_000), { code: 0, signal: null }, output());
}

test('a SIGHUP in the first moments of bin/postern.mjs (systemctl reload at once, Type=exec) does not end serve', async (t) => {
  const { root, file, port } = await withPort(t);
  // The start held where bin/postern.mjs loads the CLI, its own first lines run: a module hook stops
  // there, says so through a FIFO the test opens, and waits (15 s at most) for the test's file `go`.
  const reached = path.join(root, 'reached');
  const go = path.join(root, 'go');
  execFileSync('mkfifo', [reached]);
  const hook = `
    import fs from 'node:fs';
    import { registerHooks } from 'node:module';
    registerHooks({
      resolve(specifier, context, next) {
        if (specifier.endsWith('/cli/main.ts')) {
          fs.closeSync(fs.openSync(${JSON.stringify(reached)}, 'r')); // the test opens the other end: we are here
          const pause = new Int32Array(new SharedArrayBuffer(4));
          for (let i = 0; i < 1500 && !fs.existsSync(${JSON.stringify(go)}); i++) Atomics.wait(pause, 0, 0, 10);
        }
        return next(specifier, context);
      },
    });`;
  const child = spawn(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, MAIN, 'serve', '--config', file],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  fs.closeSync(await fifoWriter(reached, child, stderr));
  await survivesHangup(
    child,
    port,
    () => fs.writeFileSync(go, ''),
    () => stdout() + stderr(),
  );
});

test('a SIGHUP while serve starts from src/cli/main.ts (as an installed package does) does not end it', async (t) => {
  const { root, file, port } = await withPort(t);
  // bin/postern runs dist/src/cli/main.js for an installed package, without bin/postern.mjs. The config
  // is a FIFO: the start waits in the middle of reading it, before serve is loaded and its handler in.
  const slow = path.join(root, 'slow.yaml');
  execFileSync('mkfifo', [slow]);
  const child = spawn(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), 'serve', '--config', slow], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const writer = await fifoWriter(slow, child, stderr);
  const go = () => {
    fs.writeSync(writer, fs.readFileSync(file));
    fs.closeSync(writer);
  };
  await survivesHangup(child, port, go, () => stdout() + stderr());
});

test('a data directory that cannot be made is named, with the cause (a link to nowhere on its path)', async (t) => {
  const { root } = await withPort(t);
  fs.symlinkSync(path.join(root, 'nothing'), path.join(root, 'gone'));
  const file = path.join(root, 'gone.yaml');
  fs.writeFileSync(file, stringify({ ...readConfig(root), dataDir: path.join(root, 'gone', 'data') }));
  const r = await postern(['serve', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  // It said "postern: ENOENT: no such file or directory, mkdir '…/gone/data'".
  assert.equal(
    r.stderr,
    `postern: dataDir: ${root}/gone/data does not exist, and it cannot be made in ${root}/gone ` +
      `(ENOENT: ${root}/gone is a symbolic link to ${root}/nothing, which leads nowhere)\n`,
  );
});

test('a data directory on a read-only file system: serve says EROFS and names dataDir, not ENOENT', async (t) => {
  const { root } = await withPort(t);
  const readOnly = path.join(root, 'ro');
  fs.mkdirSync(readOnly);
  const config = path.join(root, 'ro.yaml');
  fs.writeFileSync(config, stringify({ ...readConfig(root), dataDir: path.join(readOnly, 'missing') }));
  // A read-only mount in a mount namespace of its own: as root, or else in a user namespace.
  const mount = 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"';
  const flags = process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'];
  try {
    execFileSync('unshare', [...flags, 'sh', '-c', mount, 'sh', readOnly, 'true'], { stdio: 'ignore' });
  } catch {
    t.skip('no mount namespace here (unshare -m, or -r -m, refused)');
    return;
  }
  const child = spawn('unshare', [...flags, 'sh', '-c', mount, 'sh', readOnly, POSTERN, 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const stderr = collect(child.stderr);
  const result = await exitWithin(child, 20_000);
  if (!child.stderr!.readableEnded) await once(child.stderr!, 'end'); // all it said, after its exit
  const r = { code: result === 'running' ? 'running' : result.code, stderr: stderr() };
  assert.equal(r.code, 1, r.stderr);
  // Node's recursive mkdir said ENOENT for it: "postern: ENOENT: no such file or directory, mkdir '…/ro/missing'".
  assert.match(
    r.stderr,
    new RegExp(
      `^postern: dataDir: ${readOnly}/missing does not exist, and it cannot be made in ${readOnly} \\(EROFS: a read-only file system; .*ReadWritePaths=\\)\\n$`,
    ),
  );
});

function readConfig(root: string): Record<string, unknown> {
  return parse(fs.readFileSync(path.join(root, 'postern.yaml'), 'utf8')) as Record<string, unknown>;
}

test('a SIGTERM the moment serve listens, before its start has ended, still stops it cleanly (exit 0)', async (t) => {
  // The ports open inside the start; the stop handler came after it (and after a store read). A stop in
  // between (systemctl stop right after start) ended the process by Node's default action, ports open.
  for (let round = 0; round < 3; round++) {
    const { file, port } = await withPort(t);
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    const output = collect(child.stdout);
    const errors = collect(child.stderr);
    // Polled every 2 ms (waitForPort's 50 ms would often come after the start had ended).
    const deadline = Date.now() + 15_000;
    while (!(await connects(port))) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not listen: ${errors()}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGTERM');
    assert.deepEqual(await exitWithin(child, 20_000), { code: 0, signal: null }, output() + errors());
  }
});

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
