/**
 * One `postern serve` per SQLite data directory, as Postfix's master refuses a second instance ("the Postfix
 * mail system is already running"): a second server on the same directory would run every timer twice
 * (ACME orders, DKIM rotation, DNS checks) and share a SQLite file that only one process is meant to
 * write (on a network file system, corrupt it). `postern restore` takes the same lock, so that no server
 * starts on a database being replaced. The other commands take no lock: they work beside a server.
 *
 * The lock is the kernel's, as Postfix's master locks `pid/master.pid` and `data_directory/master.lock`
 * (open_lock(), an exclusive non-blocking myflock(); src/master/master.c): the OS drops it when its
 * process dies, however it dies, so there is no stale lock to take over and no PID to guess about. Node has
 * no flock(); node:sqlite has POSIX fcntl() locks (SQLite's unix VFS), taken here on an empty database,
 * `postern.lock`, held in an open EXCLUSIVE transaction for the life of the process. `postern.pid` only
 * says who holds it, for the refusal; it is written once the lock is ours.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  primaryResultCode,
  SQLITE_BUSY,
  SQLITE_IOERR,
  SQLITE_LOCKED,
  SQLITE_NOTADB,
} from '../store/sqlite/result-codes.ts';
import { DATABASE_FILE_NAME } from '../store/sqlite/sqlite-store.ts';
import { asDataDirOwner, DataDirUnreachableError } from './data-dir-owner-ids.ts';

export const LOCK_FILE_NAME = 'postern.lock';
export const PID_FILE_NAME = 'postern.pid';

/** How long a refused starter waits for the holder to write its PID (it took the lock a moment ago). */
const NAME_WAIT_MS = 1000;

const MAX_PID_FILE_BYTES = 32;

export class ServeLockError extends Error {
  override readonly name = 'ServeLockError';
}

export interface ServeLock {
  /** The PID file naming the holder. */
  file: string;
  /** The file the kernel lock is on. */
  lockFile: string;
  release(): void;
}

/**
 * The locks this process holds, by lock file: SQLite refuses a second connection here too, and a
 * connection left to the garbage collector would be closed, and its lock dropped, while the server runs.
 */
const held = new Map<string, { db: DatabaseSync; pid: FileIdentity }>();

/** Which file a name meant when we made it, whatever it names since (an inode is reused at once). */
type FileIdentity = { dev: bigint; ino: bigint; ctimeNs: bigint };

function identityOf(file: string): FileIdentity {
  const { dev, ino, ctimeNs } = fs.lstatSync(file, { bigint: true });
  return { dev, ino, ctimeNs };
}

export function acquireServeLock(dataDir: string): ServeLock {
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // A file where the directory should be: said as `check` says it, not as mkdir's EEXIST.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new ServeLockError(`dataDir: ${path.resolve(dataDir)} is not a directory (or a file stands on its path)`);
    }
    throw new ServeLockError(unmadeDataDir(dataDir, error as NodeJS.ErrnoException));
  }
  const lockFile = path.resolve(dataDir, LOCK_FILE_NAME);
  const pidFile = path.resolve(dataDir, PID_FILE_NAME);
  if (held.has(lockFile)) throw new ServeLockError(`this process holds the lock ${lockFile} already`);
  const deadline = Date.now() + NAME_WAIT_MS;
  const asOwner = <T>(work: () => T): T => {
    try {
      return asDataDirOwner(dataDir, work);
    } catch (error) {
      throw error instanceof DataDirUnreachableError ? new ServeLockError(error.message) : error;
    }
  };
  for (;;) {
    const db = asOwner(() => takeLock(lockFile, dataDir));
    if (db !== undefined) {
      const older = olderServer(pidFile, dataDir);
      if (older !== undefined) {
        db.close();
        throw new ServeLockError(
          `a postern serve from before this lock (pid ${older.pid}) uses the data directory ${dataDir}: it has ` +
            `${older.file} open and holds no ${LOCK_FILE_NAME}; stop it first (systemctl restart postern does)`,
        );
      }
      let pid: FileIdentity;
      try {
        pid = asOwner(() => writePid(pidFile));
      } catch (error) {
        db.close();
        throw error;
      }
      held.set(lockFile, { db, pid });
      return { file: pidFile, lockFile, release: () => release(lockFile, pidFile) };
    }
    // Held. Its holder writes its PID just after taking it: until then the file names a process gone.
    const pid = readPid(pidFile);
    const holder = pid !== undefined ? runningPostern(pid) : undefined;
    if (holder !== undefined) {
      throw new ServeLockError(
        `another postern ${holder} (pid ${pid}) uses the data directory ${dataDir}; ` +
          (holder === 'serve' ? 'stop it first, or give this one its own dataDir' : 'let it finish first') +
          ` (${lockFile})`,
      );
    }
    if (Date.now() >= deadline) {
      throw new ServeLockError(
        `cannot take the lock ${lockFile}: another process holds it and ${pidFile} names no running ` +
          `postern serve or restore; stop the other server on ${dataDir} first (on a file system whose ` +
          'POSIX locks fail, every start finds the lock held: keep dataDir on a local one)',
      );
    }
    sleep(25);
  }
}

/**
 * Why the data directory could not be made, naming it and the real cause. Node's recursive mkdir
 * reports an error it does not expect of a directory as ENOENT ("no such file or directory"): EROFS
 * (a read-only mount, systemd's ProtectSystem=strict), EDQUOT, EMLINK. So the first missing directory
 * is made alone, in the nearest entry there is, and its own error is the one said.
 */
function unmadeDataDir(dataDir: string, error: NodeJS.ErrnoException): string {
  const wanted = path.resolve(dataDir);
  const there = (file: string) => {
    try {
      return fs.lstatSync(file) !== undefined;
    } catch {
      return false; // missing, or not to be seen by this user (EACCES): made or refused below
    }
  };
  const nowhere = (link: string, code: string | undefined) => {
    try {
      const leads = code === 'ENOENT' ? 'leads nowhere' : 'cannot be followed';
      return `${link} is a symbolic link to ${fs.readlinkSync(link)}, which ${leads}`;
    } catch {
      return `${link} is there but cannot be used`;
    }
  };
  // There, yet mkdir failed and not with EEXIST: a link to nothing (ENOENT), a loop of links (ELOOP),
  // a link into a directory this user may not enter (EACCES).
  if (there(wanted)) return `dataDir: ${nowhere(wanted, error.code)} (${error.code})`;
  let missing = wanted;
  // Bounded: each step is one component shorter, and the root is there.
  while (path.dirname(missing) !== missing && !there(path.dirname(missing))) missing = path.dirname(missing);
  const parent = path.dirname(missing);
  let cause = error;
  try {
    fs.mkdirSync(missing, { mode: 0o700 });
    fs.rmdirSync(missing); // it can be made now: what failed has passed, and the original error is said
  } catch (probe) {
    if ((probe as NodeJS.ErrnoException).code !== undefined) cause = probe as NodeJS.ErrnoException;
  }
  const code = cause.code ?? cause.message;
  let why = '';
  if (code === 'EROFS') {
    why =
      ': a read-only file system; under systemd, a data directory elsewhere than /var/lib/postern goes into ReadWritePaths=';
  } else if (code === 'EACCES' || code === 'EPERM') {
    why = `: this user${process.getuid ? ` (uid ${process.getuid()})` : ''} may not make or reach a directory there`;
  } else if (code === 'ENOENT' && !fs.existsSync(parent)) {
    why = `: ${nowhere(parent, code)}`;
  }
  return `dataDir: ${wanted} does not exist, and it cannot be made in ${parent} (${code}${why})`;
}

/**
 * Our connection holding the lock, or undefined when another process holds it. ENOLCK from a file
 * system without locks reads as held as well (SQLite's unix VFS answers SQLITE_BUSY for it).
 */
function takeLock(lockFile: string, dataDir: string): DatabaseSync | undefined {
  createLockFile(lockFile);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(lockFile, { timeout: 0 });
    // Never released before close; the journal in memory leaves no -journal file beside the lock,
    // and nothing is written: the file stays empty.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('PRAGMA journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (error) {
    db?.close(); // SQLite keeps the descriptor open while another connection here holds a lock on it
    const primary = primaryResultCode(error);
    if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) return undefined;
    const reason = (error as Error).message;
    if (primary === SQLITE_NOTADB) {
      throw new ServeLockError(
        `the lock file ${lockFile} is not an empty SQLite database (${reason}): remove it, with no postern serve or restore running`,
      );
    }
    if (primary === SQLITE_IOERR) {
      throw new ServeLockError(
        `cannot lock ${lockFile} (${reason}): the file system of ${dataDir} may not support POSIX (fcntl) locks; keep dataDir on a local one`,
      );
    }
    throw new ServeLockError(`cannot open the lock ${lockFile}: ${reason}`);
  }
}

/**
 * Created 0600 here rather than by SQLite (0644 less the umask). Never removed, even on release: a
 * starter that opened the old file would lock it while the next one locked a new file. Opened
 * exclusively (EEXIST otherwise) so that it is never a descriptor of a lock file held here: closing
 * one would drop this process's fcntl locks on the file.
 */
function createLockFile(lockFile: string): void {
  let fd: number;
  try {
    fd = fs.openSync(lockFile, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new ServeLockError(`cannot create the lock ${lockFile}: ${(error as Error).message}`);
  }
  fs.closeSync(fd); // made by the data directory's owner (asDataDirOwner), so its server can open it too
}

/**
 * Written whole under a name of our own, then renamed into place, so that a refused starter never reads
 * it half written. The lock is ours: no other starter writes one now, and a temporary file left by a
 * crash is removed.
 */
function writePid(pidFile: string): FileIdentity {
  const dir = path.dirname(pidFile);
  const prefix = `${path.basename(pidFile)}.`;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
  const mine = `${pidFile}.${process.pid}`;
  try {
    fs.writeFileSync(mine, `${process.pid}\n`, { mode: 0o600, flag: 'wx' }); // never through a link planted there
    fs.renameSync(mine, pidFile);
  } catch (error) {
    fs.rmSync(mine, { force: true });
    // Node's text ("ENOSPC: no space left on device, write") names neither the file nor the fix.
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? `the file system is full (${code}): free space there`
        : (error as Error).message;
    throw new ServeLockError(`cannot write the PID file ${pidFile}: ${why}`, { cause: error });
  }
  return identityOf(pidFile);
}

function release(lockFile: string, pidFile: string): void {
  const lock = held.get(lockFile);
  if (lock === undefined) return;
  // The PID file first, while the lock is still ours: after it, it may be the next holder's. Only the
  // file we made is removed (one an admin replaced stays), known by its inode, not read: as root, a
  // FIFO or a link to /dev/zero put in its place by the directory's owner would hang the shutdown.
  try {
    const now = identityOf(pidFile);
    const ours = now.dev === lock.pid.dev && now.ino === lock.pid.ino && now.ctimeNs === lock.pid.ctimeNs;
    if (ours) fs.rmSync(pidFile, { force: true });
  } catch {
    // gone already
  }
  held.delete(lockFile);
  lock.db.close();
}

/**
 * A server of a version before the kernel lock (it wrote only postern.pid) that still runs on this data
 * directory, as after an upgrade made without stopping it: it holds no lock here, so only the PID file
 * names it, and only its open database says it is this directory's server and not a process that
 * took the PID after a reboot, or a server of another data directory. /proc unreadable: not seen.
 */
function olderServer(pidFile: string, dataDir: string): { pid: number; file: string } | undefined {
  const pid = readPid(pidFile);
  if (pid === undefined || pid === process.pid || runningPostern(pid) === undefined) return undefined;
  // Compared by device and inode: /proc names the file by its real path, and dataDir may be a link.
  const database = path.resolve(dataDir, DATABASE_FILE_NAME);
  const ours = new Map<string, string>();
  for (const file of [database, `${database}-wal`]) {
    try {
      const { dev, ino } = fs.statSync(file);
      ours.set(`${dev}:${ino}`, file);
    } catch {
      // not there: nothing of it can be open
    }
  }
  if (ours.size === 0) return undefined;
  let descriptors: string[];
  try {
    descriptors = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of descriptors) {
    try {
      const { dev, ino } = fs.statSync(`/proc/${pid}/fd/${fd}`);
      const file = ours.get(`${dev}:${ino}`);
      if (file !== undefined) return { pid, file };
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

/**
 * The PID in a PID file, read without following a link or waiting on a FIFO, and only from a small
 * regular file: run as root, this reads a file in a directory another user can write.
 */
function readPid(file: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_PID_FILE_BYTES) return undefined;
    const buffer = Buffer.alloc(MAX_PID_FILE_BYTES);
    const text = buffer.toString('latin1', 0, fs.readSync(fd, buffer, 0, MAX_PID_FILE_BYTES, 0));
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The command of a live `postern serve` or `postern restore` with this PID, undefined when there is
 * none. Only names the holder of a lock held: a PID file left by a crash may name any process since,
 * another user's included (kill answers EPERM then).
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
