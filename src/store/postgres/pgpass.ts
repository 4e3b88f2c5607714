/**
 * The password file (~/.pgpass, or the file PGPASSFILE names), read here as libpq reads it (PostgreSQL
 * docs, libpq "The Password File"). node-postgres 8 reads it too, but prints "pgpass support is
 * deprecated" on every process that uses it, and will not read it in pg 9; docs/scaling.md and the
 * README tell admins to keep the password there, so Postern hands node-postgres the password itself.
 */

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PasswordFileTarget {
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
  user?: string | undefined;
}

/** libpq's DEF_PGPORT. */
const DEFAULT_PORT = '5432';
/**
 * The socket directories libpq builds use by default (upstream /tmp, Debian's and Red Hat's
 * /var/run/postgresql): a connection through one of them is "localhost" to the password file.
 */
const DEFAULT_SOCKET_DIRS = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

const warned = new Set<string>();

/** The file libpq would read, in the environment of this process. */
export function passwordFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  if (process.platform === 'win32') return path.join(env.APPDATA ?? '.', 'postgresql', 'pgpass.conf');
  return path.join(os.homedir(), '.pgpass');
}

/**
 * The password of the first line of the password file that matches `target`, or undefined: no file,
 * no line, an empty password, or a file libpq would refuse (not a plain file; any group or world
 * access on Unix, which libpq warns of and ignores: said once on stderr, as libpq does).
 */
export async function passwordFromFile(
  target: PasswordFileTarget,
  file: string = passwordFilePath(),
): Promise<string | undefined> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return refuse(file, 'is not a plain file');
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      return refuse(file, 'has group or world access; permissions should be u=rw (0600) or less');
    }
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined; // no file (the usual case) or none we may read: as libpq, no password from it
  }
  const wanted = [
    hostForFile(target.host),
    String(target.port || DEFAULT_PORT),
    target.database ?? '',
    target.user ?? '',
  ];
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = splitFields(trimmed);
    if (fields.length < 5) continue;
    if (!wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) continue;
    // libpq: an empty password from the file counts as none.
    return fields[4] === '' ? undefined : fields[4];
  }
  return undefined;
}

/** libpq matches a connection over the default socket directory (or no host at all) as "localhost". */
function hostForFile(host: string | undefined): string {
  if (!host || DEFAULT_SOCKET_DIRS.has(host.replace(/\/+$/, ''))) return 'localhost';
  return host;
}

/** Fields split at each ":" not escaped; a backslash escapes the character after it ("\:" and "\\"). */
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
    } else if (c === ':') {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields;
}

function refuse(file: string, why: string): undefined {
  if (!warned.has(file)) {
    warned.add(file);
    process.stderr.write(`WARNING: password file "${file}" ${why}; it is not read\n`);
  }
  return undefined;
}
