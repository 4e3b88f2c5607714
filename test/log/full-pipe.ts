/** A pipe no one reads, already full: `postern serve | less` left in the background, a stalled journal. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface FullPipe {
  /** The FIFO's path: open it to read what is written. */
  fifo: string;
  /** A writing end for a child's standard output, blocking as a shell's `|` is (the child's Node makes it non-blocking). */
  writer: number;
  /** Closes the test's copy of the writing end, once the child has its own. */
  closeWriter(): void;
  close(): void;
}

/** A FIFO in `dir`, its reading end open and never read, filled until a write would block (EAGAIN). */
export function fullPipe(dir: string): FullPipe {
  const fifo = path.join(dir, 'unread-pipe');
  execFileSync('mkfifo', [fifo]);
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const filler = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const chunk = Buffer.alloc(65_536, 'x');
  try {
    // Bounded: Linux gives a pipe 64 KiB, at most fs.pipe-max-size (1 MiB) unless root raised it.
    for (let i = 0; i < 1024; i++) fs.writeSync(filler, chunk);
    throw new Error('the pipe took 64 MiB and was still not full');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
  } finally {
    fs.closeSync(filler);
  }
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY);
  const open = new Set([writer, reader]);
  const closeOnce = (fd: number) => {
    if (open.delete(fd)) fs.closeSync(fd);
  };
  return {
    fifo,
    writer,
    closeWriter: () => closeOnce(writer),
    close: () => {
      closeOnce(writer);
      closeOnce(reader);
    },
  };
}
