/**
 * One `postern serve` per SQLite data directory, as Postfix's master refuses a second instance ("the Postfix
 * mail system is already running"): a second server on the same directory would run every timer twice
 * (ACME orders, DKIM rotation, DNS checks) and share a SQLite file that only one process is meant to
 * write (on a network file system, corrupt it). The lock is a PID file: a stale one (the process gone,
 * after a crash or SIGKILL) is taken over. `postern restore` takes the same lock, so that no server starts
 * on a database being replaced. The other commands take no lock: they work beside a server.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LOCK_FILE_NAME = 'postern.pid';

export class ServeLockError extends Error {
  override readonly name = 'ServeLockError';
}

export interface ServeLock {
  file: string;
  release(): void;
}

export function acquireServeLock(dataDir: string): ServeLock {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, LOCK_FILE_NAME);
  // Written whole under a name of our own, then linked into place: link() is atomic and fails when the
  // lock exists, so no starter ever reads a lock file half written (an empty one would look stale).
  const mine = `${file}.${process.pid}`;
  fs.writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        placeLock(mine, file);
        return {
          file,
          release: () => {
            // Only our own: a server that took over a lock it found stale must keep its file.
            if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const pid = readPid(file);
      const holder = pid !== undefined && pid !== process.pid ? runningPostern(pid) : undefined;
      if (holder !== undefined) {
        throw new ServeLockError(
          `another postern ${holder} (pid ${pid}) uses the data directory ${dataDir}; ` +
            (holder === 'serve' ? 'stop it first, or give this one its own dataDir' : 'let it finish first') +
            ` (${file})`,
        );
      }
      takeOverStale(file, pid);
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  throw new ServeLockError(`cannot take the lock ${file}: another server is starting on ${dataDir} at the same time`);
}

/**
 * link() puts the whole file in place or fails when one is there. A file system without hard links
 * (some FUSE and network mounts, EPERM or ENOTSUP) gets an exclusive create and one write instead, a
 * few microseconds in which another starter could read it empty.
 */
function placeLock(mine: string, file: string): void {
  try {
    fs.linkSync(mine, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
    try {
      fs.writeSync(fd, fs.readFileSync(mine));
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Moves a stale lock aside, atomically: of two starters that both found it stale, one rename finds it
 * gone. If what was moved is not the stale file read (another starter's fresh lock), it goes back.
 */
function takeOverStale(file: string, stalePid: number | undefined): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it: try again
    throw error;
  }
  if (readPid(aside) !== stalePid) {
    try {
      fs.linkSync(aside, file); // its owner keeps it; our next link fails and reads it
    } catch {
      // a third starter took the place meanwhile: its lock stands, the moved one is lost to its owner
    }
  }
  fs.rmSync(aside, { force: true });
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The command of a live `postern serve` or `postern restore` with this PID, undefined when there is
 * none: after a crash and a reboot the PID may belong to any other process, another user's included
 * (kill answers EPERM then), and that lock is stale.
 */
function runningPostern(pid: number): 'serve' | 'restore' | undefined {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // gone
  }
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return 'serve'; // no /proc: alive is all we can know
  }
  // `postern mail list` or an editor on postern.yaml holds no lock.
  if (!args.some((arg) => /(^|\/)(postern|postern\.mjs|main\.js)$/.test(arg))) return undefined;
  if (args.includes('serve')) return 'serve';
  return args.includes('restore') ? 'restore' : undefined;
}
