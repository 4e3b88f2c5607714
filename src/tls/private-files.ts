/**
 * Files that hold private keys: a directory only the server's user can enter (0700), keys it alone can
 * read (0600), and writes that are atomic (temporary file, fsync, rename) so a crash or a concurrent
 * reader never sees half a key or a certificate without its key.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * What keeps serve from making or keeping its TLS directory (in dataDir), said with the key, the
 * path and what to do: Node's "EEXIST: file already exists, mkdir …" named neither the setting nor
 * the fix. `cause` holds the system error (the root-switch note looks for EACCES there).
 */
export class PrivateDirError extends Error {
  readonly code = 'TLS_PRIVATE_DIR';
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700); // mkdir's mode is masked by umask and ignored for an existing directory
  } catch (error) {
    throw (await privateDirProblem(dir, error)) ?? error;
  }
}

async function privateDirProblem(dir: string, error: unknown): Promise<PrivateDirError | undefined> {
  const { code, syscall, path: failed = dir } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string') return undefined;
  const user = userName(process.getuid?.() ?? -1);
  const problem = (message: string) => new PrivateDirError(`dataDir: ${message}`, { cause: error });
  // mkdir -p fails with EEXIST on a file at the directory's place, ENOTDIR on one further up: the
  // nearest thing that exists is the file to name.
  const blocker = await nearestExisting(dir);
  if (blocker !== undefined && !blocker.stats.isDirectory()) {
    return problem(
      `${blocker.path} is not a directory; serve keeps its TLS keys and certificates there: move it away, and serve makes the directory`,
    );
  }
  if ((code === 'EACCES' || code === 'EPERM') && syscall === 'mkdir' && blocker !== undefined) {
    const { mode, uid } = blocker.stats;
    const owner = userName(uid);
    const fix = uid === process.getuid?.() ? `chmod 700 ${blocker.path}` : `chown ${user} ${blocker.path}`;
    return problem(
      `${blocker.path} cannot be written by ${user} (owner ${owner}, mode 0${(mode & 0o777).toString(8)}): serve cannot make ${failed} for its TLS keys and certificates; ${fix}`,
    );
  }
  // chmod(2) is the owner's: a directory of another user's, or a link to one, cannot be made private.
  if (code === 'EPERM' && syscall === 'chmod' && blocker !== undefined) {
    const owner = userName(blocker.stats.uid);
    const link = await lstat(dir).then(
      (stats) => stats.isSymbolicLink(),
      () => false,
    );
    return problem(
      link
        ? `${dir} is a symbolic link to ${await realpath(dir).catch(() => 'a directory')}, which belongs to ${owner}: ${user} cannot make it private (chmod 700) for the TLS keys kept there; replace the link with a directory of ${user}'s`
        : `${dir} belongs to ${owner}: ${user} cannot make it private (chmod 700) for the TLS keys kept there; chown ${user} ${dir}`,
    );
  }
  return problem(`serve cannot set up ${dir} for its TLS keys and certificates: ${syscall ?? 'mkdir'} fails (${code})`);
}

/** `dir` or its nearest ancestor that exists, as stat sees it (links followed). */
async function nearestExisting(dir: string): Promise<{ path: string; stats: Stats } | undefined> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      return { path: at, stats: await stat(at) };
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException;
      // ENOTDIR: a file further up, which the next round finds.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || at === path.dirname(at)) return undefined;
    }
  }
}

function userName(uid: number): string {
  if (uid === 0) return 'root';
  try {
    if (uid === process.getuid?.()) return os.userInfo().username;
  } catch {
    // no passwd entry for the process's uid (a container's arbitrary uid)
  }
  return `uid ${uid}`;
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or the file system widened it
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temp, file);
}

/** The file's text, or undefined when it does not exist; other errors (permissions) are thrown. */
/**
 * A private key of ours (a self-signed or ACME key, the ACME account's key), read, and made 0600 again
 * when it is open to others (a restore with another umask, a `chmod -R` by hand): the keys serve makes
 * are its alone, as the database is (store/sqlite), where a key named in tls.certificates is the admin's
 * and only warned about.
 */
export async function readPrivateKey(file: string): Promise<string | undefined> {
  const key = await readIfExists(file);
  if (key !== undefined) {
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) await chmod(file, 0o600);
  }
  return key;
}

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
