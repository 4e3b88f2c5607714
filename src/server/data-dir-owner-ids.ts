import fs from 'node:fs';

/**
 * Runs `work` with the rights of the data directory's owner when this process is root and the owner is
 * not: the owner can plant a symbolic link in its directory between two of our calls, and root
 * following it would chown, create or overwrite any file on the system (the lock and PID files,
 * serve-lock.ts) or list any directory (the ownership walk, cli/data-dir-owner.ts). Effective IDs
 * only, put back after: the process goes on as root until it gives root up for good (serve, once its
 * ports are bound). An owner who cannot reach its directory (a parent closed to it) cannot plant
 * anything there: root does the work.
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
    if (reachable(dataDir)) return work();
  } finally {
    if (process.geteuid!() !== 0) process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
  return work();
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
