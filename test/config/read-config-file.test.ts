// A file the config names is read only when it is a regular file: a FIFO had start-up wait in open(2)
// for a writer that never came, SIGTERM unheard.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { NotRegularFileError, readRegularFile, readRegularFileSync } from '../../src/config/read-config-file.ts';
import { tempDir } from '../support/server.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context): string {
  const d = tempDir('postern-read-config-');
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a regular file, and a symbolic link to one, are read whole', async (t) => {
  const d = dir(t);
  const file = path.join(d, 'map');
  fs.writeFileSync(file, 'example.com REJECT\n');
  fs.symlinkSync(file, path.join(d, 'link'));
  for (const at of [file, path.join(d, 'link')]) {
    assert.equal(readRegularFileSync(at).toString(), 'example.com REJECT\n');
    assert.equal((await readRegularFile(at)).toString(), 'example.com REJECT\n');
  }
});

test('a FIFO with no writer is refused at once, read sync or async, through a link too', async (t) => {
  const d = dir(t);
  const fifo = path.join(d, 'fifo');
  execFileSync('mkfifo', [fifo]);
  fs.symlinkSync(fifo, path.join(d, 'link'));
  for (const at of [fifo, path.join(d, 'link')]) {
    const refused = (err: unknown) =>
      err instanceof NotRegularFileError &&
      err.message === 'not a regular file (a FIFO)' &&
      err.file === at &&
      // The loaders show an errno's code when there is one: this error must show its message.
      (err as NodeJS.ErrnoException).code === undefined;
    assert.throws(() => readRegularFileSync(at), refused);
    await assert.rejects(readRegularFile(at), refused);
  }
});

test('a socket, a device and a directory are refused by kind; a missing file keeps its errno', async (t) => {
  const d = dir(t);
  const socket = path.join(d, 'sock');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  const cases: [string, string][] = [
    [socket, 'a socket'],
    ['/dev/null', 'a character device'],
    [d, 'a directory'],
  ];
  for (const [at, kind] of cases) {
    assert.throws(() => readRegularFileSync(at), { message: `not a regular file (${kind})` });
    await assert.rejects(readRegularFile(at), { message: `not a regular file (${kind})` });
  }
  assert.throws(() => readRegularFileSync(path.join(d, 'none')), { code: 'ENOENT' });
  await assert.rejects(readRegularFile(path.join(d, 'none')), { code: 'ENOENT' });
});
