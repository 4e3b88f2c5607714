// The logger's final flush at exit, in a real child process whose standard output is a real pipe.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { tempDir } from '../support/server.ts';
import { fullPipe } from './full-pipe.ts';

const LOGGER = new URL('../../src/log/logger.ts', import.meta.url).href;

/** Logs `lines` lines to standard output, then calls process.exit(0), as serve's exit timer does. */
const SCRIPT = (lines: number) => `
import { createLogger } from ${JSON.stringify(LOGGER)};
process.stdout.on('error', () => {}); // as src/cli/main.ts does: fd 1 becomes libuv's, non-blocking
const log = createLogger('info', undefined, 'json');
for (let i = 0; i < ${lines}; i++) log.info({ i, pad: 'x'.repeat(100) }, 'a line');
setTimeout(() => process.exit(0), 200);
`;

/** The child's exit, or 'running' after `ms` (then it is killed). */
async function exitWithin(child: ChildProcess, ms: number): Promise<{ code: number | null } | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    new Promise<{ code: number | null }>((resolve) => child.once('exit', (code) => resolve({ code }))),
    new Promise<'running'>((resolve) => {
      timer = setTimeout(() => resolve('running'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (result === 'running') child.kill('SIGKILL');
  return result;
}

test('a pipe no one reads does not keep the process from exiting: the final flush gives up after a while', async (t) => {
  const root = tempDir('postern-exit-flush-');
  const pipe = fullPipe(root);
  t.after(() => {
    pipe.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT(2000)], {
    stdio: ['ignore', pipe.writer, 'inherit'],
  });
  pipe.closeWriter();
  const started = Date.now();
  // sonic-boom retried EAGAIN in its flush at exit forever: the process never ended.
  const result = await exitWithin(child, 15_000);
  assert.deepEqual(result, { code: 0 }, 'exited');
  assert.ok(Date.now() - started < 10_000, `exited after ${Date.now() - started} ms`);
});

test('a reader that is only slow still gets the lines pending at exit', async (t) => {
  // Twice the pipe's 64 KiB, not the 340 KB of 2,000 lines: sonic-boom sleeps 100 ms after each EAGAIN,
  // and on a loaded machine (a CI run) 2,000 lines did not all pass in the 2 s the flush waits.
  const LINES = 800;
  const root = tempDir('postern-exit-flush-');
  const pipe = fullPipe(root);
  t.after(() => {
    pipe.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  // Opened now, read later: opened once the child has gone, it would wait for a writer for ever.
  const late = fs.openSync(pipe.fifo, 'r');
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT(LINES)], {
    stdio: ['ignore', pipe.writer, 'inherit'],
  });
  pipe.closeWriter();
  // The reader wakes up after the child has started its final flush (200 ms), and reads all.
  await new Promise((resolve) => setTimeout(resolve, 700));
  let text = '';
  const read = new Promise<void>((resolve, reject) => {
    fs.createReadStream('', { fd: late, encoding: 'latin1' })
      .on('data', (chunk) => {
        text += chunk;
      })
      .on('end', resolve)
      .on('error', reject);
  });
  const result = await exitWithin(child, 15_000);
  assert.deepEqual(result, { code: 0 });
  await read;
  const seen = text
    .replace(/^x+/, '') // the filler
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { i: number }).i);
  // All that was pending at exit, up to the last line. (Not the chunk sonic-boom's own write held when
  // the pipe filled, line 0 here: its flush at exit leaves that to the write in flight, as it always did.)
  assert.equal(seen.at(-1), LINES - 1, 'the last line');
  const first = seen[0]!;
  assert.ok(first <= 1, `from line ${first}`);
  assert.deepEqual(
    seen,
    Array.from({ length: LINES - first }, (_, k) => first + k),
    'every line after it, once',
  );
});
