import fs from 'node:fs';

/**
 * Runs `work` with the rights of the data directory's owner when this process is root and the owner is
 * not: the owner can plant a symbolic link in its directory between two of our calls, and root
 * following it would chown, create or overwrite any file on the system (the lock and PID files,
 * serve-lock.ts) or list any directory (the ownership walk, cli/data-dir-owner.ts). Effective IDs
 * only, put back after: the process goes on as root until it gives root up for good (serve, once its
 * ports are bound). An owner who cannot reach its directory (a directory on its path closed to it)
 * is refused, never served by root instead: it may have closed a parent of its own while one of its
 * processes stays inside and plants links (a review reproduced root creating a file through the lock's
 * link that way), and a server run as that user could not work there anyway.
 */
export function asDataDirOwner<T>(dataDir: string, work: () => T): T {
  if (process.geteuid?.() !== 0) return work();
  const { uid, gid } = fs.statSync(dataDir);
  if (uid === 0) return work();
  const groups = process.getgroups!();
  const egid = process.getegid!();
  try {
    // Groups and group before the user: once the effective user is not root, they cannot be changed.
    try {
      process.initgroups!(uid, gid); // the owner's groups, as a login would have them
    } catch {
      process.setgroups!([gid]); // a uid with no account: the directory's group alone
    }
    process.setegid!(gid);
    process.seteuid!(uid);
    if (!reachable(dataDir)) throw new DataDirUnreachableError(dataDir, uid);
    return work();
  } finally {
    if (process.geteuid!() !== 0) process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}

/** The data directory's owner cannot reach it: what root would do there for it is refused. */
export class DataDirUnreachableError extends Error {
  readonly code = 'DATA_DIR_UNREACHABLE';

  constructor(dataDir: string, uid: number) {
    super(
      `the data directory ${dataDir} belongs to uid ${uid}, who cannot reach it (a directory on its path is closed ` +
        'to that user): a server started as root runs as that user; open the path to it (search permission, x)',
    );
  }
}

/** stat(2), not access(2): access checks the real IDs, which are still root's. */
function reachable(dataDir: string): boolean {
  try {
    fs.statSync(dataDir);
    return true;
  } catch {
    return false;
  }
}
