/**
 * Is the database file the writer commits to still the one at its path? SQLite keeps writing to the
 * file it opened: after `mv`, a copy renamed over it, `truncate` or a deleted -wal, commits land in a
 * file nobody will read again, and a 250 for them would be a lie. The writer checks before each commit
 * (rolling back) and after it, before any result is posted (stat calls, a few µs per commit, shared by
 * its messages). Not seen: a copy written into the file in place (`cp backup postern.sqlite` keeps the
 * inode and often the size); restore a backup with the server stopped.
 */
import fs from 'node:fs';

interface Seen {
  dev: number;
  ino: number;
  size: number;
}

export class FileIdentity {
  readonly #file: string;
  #database: Seen | undefined;
  #wal: Seen | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  /** What changed under the writer, in words naming the file; undefined while all is as it was. */
  problem(): string | undefined {
    const database = this.#check(this.#file, this.#database, true);
    if (typeof database === 'string') return database;
    this.#database = database;
    const wal = this.#check(`${this.#file}-wal`, this.#wal, false);
    if (typeof wal === 'string') return wal;
    this.#wal = wal;
    return undefined;
  }

  #check(file: string, before: Seen | undefined, sizeMatters: boolean): Seen | string | undefined {
    let now: fs.Stats;
    try {
      now = fs.statSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The -wal exists from the first commit on while our connections are open; before that, nothing to compare.
      if (code === 'ENOENT' && before === undefined) return undefined;
      return `${file} ${code === 'ENOENT' ? 'was removed' : `cannot be checked (${code})`} while the server used it`;
    }
    if (before && (now.dev !== before.dev || now.ino !== before.ino)) {
      return `${file} was replaced by another file while the server used it`;
    }
    // The database never shrinks here (no auto_vacuum, no VACUUM of the live file): smaller is truncated.
    if (sizeMatters && before && now.size < before.size) {
      return `${file} was truncated (from ${before.size} to ${now.size} bytes) while the server used it`;
    }
    return { dev: now.dev, ino: now.ino, size: now.size };
  }
}
