/**
 * User and group names for numeric ids, from /etc/passwd and /etc/group (where `useradd --system` and
 * systemd-sysusers put a service's account). An id with no entry there (LDAP, a bare number) has none:
 * callers then name it by number, as `ls -n` does.
 */
import fs from 'node:fs';

export interface PasswdEntry {
  name: string;
  uid: number;
  /** The user's own group, as login, runuser and systemd's User= give it. */
  gid: number;
  /** The home directory field (may be empty, or a directory that does not exist: /nonexistent). */
  home: string;
}

export function passwdEntry(uid: number, file = '/etc/passwd'): PasswdEntry | undefined {
  for (const fields of entries(file)) {
    if (Number(fields[2]) === uid && fields[3] !== undefined && fields[3] !== '') {
      return { name: fields[0]!, uid, gid: Number(fields[3]), home: fields[5] ?? '' };
    }
  }
  return undefined;
}

/** The user's name, else the number as text. */
export function userName(uid: number): string {
  return passwdEntry(uid)?.name ?? String(uid);
}

/** The group's name, else the number as text. */
export function groupName(gid: number, file = '/etc/group'): string {
  return entries(file).find((fields) => Number(fields[2]) === gid && fields[0] !== '')?.[0] ?? String(gid);
}

function entries(file: string): string[][] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('+') && !line.startsWith('-'))
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 4 && fields[2] !== '' && Number.isSafeInteger(Number(fields[2])));
}
