/**
 * Reading a file the config names (an access map, a rule table, a certificate, a CA file) at start or
 * reload. Only a regular file is read: open(2) of a FIFO for reading waits for a writer, for ever if
 * none comes, and a device or socket is no table or PEM file either. A FIFO left at a map's path had
 * `check` and `serve` hang in open(), serve's main thread so deep in the system call that SIGTERM did
 * nothing (systemctl stop waited for its timeout); the asynchronous reads held a thread of libuv's pool
 * each, four of them stalling every later file call and DNS lookup.
 */
import fs from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** No `code`: the loaders show an errno's code, else this message, after the key and the path. */
export class NotRegularFileError extends Error {
  readonly file: string;
  constructor(file: string, kind: string) {
    super(`not a regular file (${kind})`);
    this.name = 'NotRegularFileError';
    this.file = file;
  }
}

// stat first, then open with O_NONBLOCK and fstat what was opened. stat alone leaves a race (the path
// swapped for a FIFO between the two calls) and open alone opens a device, which can have effects
// (a tape rewinds, a serial line waits for carrier); O_NONBLOCK makes open(2) of a FIFO return at once
// (fifo(7)), and has no effect on reading a regular file (open(2): "has no effect for regular files").
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

function refuseIrregular(file: string, stats: fs.Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isFIFO()
    ? 'a FIFO'
    : stats.isSocket()
      ? 'a socket'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : stats.isDirectory()
            ? 'a directory'
            : 'not a file';
  throw new NotRegularFileError(file, kind);
}

/** The file's content; a symbolic link is followed. Throws NotRegularFileError, or the errno error. */
export function readRegularFileSync(file: string): Buffer {
  refuseIrregular(file, fs.statSync(file));
  const fd = fs.openSync(file, FLAGS);
  try {
    refuseIrregular(file, fs.fstatSync(fd));
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** readRegularFileSync, without blocking the event loop. */
export async function readRegularFile(file: string): Promise<Buffer> {
  refuseIrregular(file, await stat(file));
  const handle = await open(file, FLAGS);
  try {
    refuseIrregular(file, await handle.stat());
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
