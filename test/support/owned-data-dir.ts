// A data directory owned by an unprivileged user, for tests of what root does to it.
import fs from 'node:fs';
import path from 'node:path';
import { configDir } from './child-server.ts';

export const OWNER = 65534; // nobody

export type Context = { after(fn: () => unknown): void; skip(message?: string): void };

/** A config whose data directory exists and is the unprivileged user's, in a dir that user can traverse. */
export function ownedDir(t: Context, extra: Record<string, unknown> = {}) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  fs.chmodSync(d.root, 0o755);
  const data = path.join(d.root, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.chownSync(data, OWNER, OWNER);
  return { ...d, data };
}

/** What a command or serve run as root says when the owner cannot reach its data directory. */
export function unreachableByOwner(dataDir: string): string {
  return (
    `the data directory ${dataDir} is nobody's, and nobody cannot reach it (a directory on its path is closed to ` +
    'nobody): run as root, postern works there as nobody, as the server runs; give nobody search permission on every ' +
    "directory above it (or a group of nobody's)"
  );
}
