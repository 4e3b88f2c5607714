/**
 * What `serve` warns about at start: a data directory others can read (it holds the mail store and
 * TLS keys), and a config file others can read when it holds the store's password. Postern never
 * loosens modes it set; these are directories and files the admin made, so it says what to run
 * rather than change them behind the admin's back.
 */
import fs from 'node:fs';
import type { Config } from './schema.ts';

export function permissionWarnings(config: Config, file: string | undefined): string[] {
  const warnings: string[] = [];
  const dataMode = modeOf(config.dataDir);
  if (dataMode !== undefined && (dataMode & 0o077) !== 0) {
    warnings.push(
      `dataDir ${config.dataDir} is open to other users (mode ${octal(dataMode)}); it holds the mail and the TLS keys: chmod 700 ${config.dataDir}`,
    );
  }
  const fileMode = file === undefined ? undefined : modeOf(file);
  if (file !== undefined && fileMode !== undefined && (fileMode & 0o044) !== 0 && holdsPassword(config)) {
    warnings.push(
      `${file} holds the store password and other users can read it (mode ${octal(fileMode)}): chmod 600 ${file}, or move the password to PGPASSWORD or ~/.pgpass`,
    );
  }
  return warnings;
}

/**
 * A secret in the store URL: a password in its user information (postgres://user:password@host/db) or
 * its query, or `sslpassword=`, the passphrase of the client's TLS key (libpq), which redact-url.ts
 * hides from the log for the same reason.
 */
function holdsPassword(config: Config): boolean {
  if (config.store.engine !== 'postgres') return false;
  return (
    /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^@]*@/i.test(config.store.url) || /[?&](?:ssl)?password=/i.test(config.store.url)
  );
}

function modeOf(target: string): number | undefined {
  try {
    return fs.statSync(target).mode & 0o777;
  } catch {
    return undefined; // not there yet: Postern creates it with its own modes
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
