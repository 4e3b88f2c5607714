/**
 * PostgreSQL failures an admin fixes in configuration, told as such: the driver's own text names
 * neither the cause nor the setting to change. Never a password: none of these texts holds one.
 */

import { isClientTimeout } from './pool.ts';

export const NO_PASSWORD =
  'PostgreSQL asked for a password and none is configured: put it in store.url, PGPASSWORD or ~/.pgpass';

export const TOO_MANY_CONNECTIONS =
  'PostgreSQL refused a connection: too many connections (max_connections); lower store.poolSize on the nodes or raise max_connections';

export const DISK_FULL = "PostgreSQL's disk is full (SQLSTATE 53100 disk_full): free space on the database server";

export const NO_ANSWER =
  'PostgreSQL did not answer in time (is the server or the network hung?); the connection was dropped';

/** The admin's version of `error`, or undefined when the driver's text says it well enough. */
export function explainPostgresError(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  // node-postgres's SCRAM client (pg/lib/crypto/sasl.js) when it has no password, or an empty one.
  if (/^SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a (non-empty )?string$/.test(error.message)) {
    return NO_PASSWORD;
  }
  // SQLSTATE 53300 too_many_connections (PostgreSQL docs, Appendix A): max_connections, the slots
  // reserved for superusers, or a role's or database's CONNECTION LIMIT; the server's text says which.
  if (code === '53300') return `${TOO_MANY_CONNECTIONS} (the server said: ${error.message})`;
  if (isDiskFull(error)) return `${DISK_FULL} (the server said: ${error.message})`;
  if (isClientTimeout(error)) return NO_ANSWER;
  return undefined;
}

/**
 * SQLSTATE 53100 disk_full (PostgreSQL docs, Appendix A): a table, index or WAL file could not grow.
 * Nothing was written; nothing will be until the database server has room again.
 */
export function isDiskFull(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '53100';
}

/** The text to show for a PostgreSQL failure: the explanation, or the driver's message. */
export function postgresErrorText(error: unknown): string {
  return explainPostgresError(error) ?? (error instanceof Error ? error.message : String(error));
}
