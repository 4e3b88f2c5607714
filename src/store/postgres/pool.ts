/**
 * Connections to PostgreSQL, the settings every session gets, and how long Postern waits on them.
 *
 * How long: an SMTP client waits 10 minutes for the reply to the final dot (RFC 5321 §4.5.3.2.6,
 * "DATA Termination"), then gives up and keeps the message; if the store commits after that, the
 * message is stored AND sent again (a duplicate). A hung database must therefore turn into a 451
 * (the store rejects with StoreUnavailableError, src/server/inbound.ts) well inside those 10 minutes,
 * with the transaction rolled back. Two bounds do it:
 *
 * - Server side, `statement_timeout` and `lock_timeout` (PostgreSQL docs, "Client Connection
 *   Defaults"): the server cancels the statement and its transaction rolls back, so the failure
 *   and "nothing stored" are one and the same. A healthy delivery batch takes milliseconds; 30 s is
 *   far beyond any, yet small next to 10 minutes. lock_timeout (20 s) fires first when the wait is
 *   for a lock (an admin's LOCK TABLE, another node's long transaction), so the log names the cause.
 * - Client side, `query_timeout` (node-postgres) plus TCP keepalive, for a server that answers
 *   nothing at all (frozen host, network black hole), where no server-side timer can help. It is
 *   5 s past statement_timeout, so a live server always cancels first and the outcome is known; when
 *   it fires, the connection is destroyed (never returned to the pool: its reply may still come).
 *   `client_connection_check_interval` (PostgreSQL 14+, 1 s) makes a backend still running the
 *   statement (waiting on a lock, or back from a freeze) notice the closed socket and roll back
 *   rather than commit unseen; a delivery's statement that reaches the server only after the client
 *   gave up (a network path that stalls and heals) has no COMMIT behind it (delivery-batcher.ts). A
 *   server frozen in the middle of its commit, or a COMMIT held up on the way, may still finish it:
 *   that window no client-side bound can close.
 *
 * Opening a connection, or waiting for a free one, is bounded by connectMs (10 s). Worst case for
 * one delivery: a batch ahead of it in the one-batch-in-flight batcher (10 s + 35 s, times 3
 * attempts after a deadlock), then its own batch (as long): under 5 minutes, so the client hears
 * its 451 before its 10 minutes run out. close() waits for work in flight for closeMs (40 s: 5 s past
 * the client-side bound, by when any statement has ended one way or the other), then destroys the
 * connections.
 *
 * Settings are SET after each connection is made, not sent as the `options` startup parameter:
 * PgBouncer refuses that parameter ("unsupported startup parameter: options"), and its usual
 * workaround (`ignore_startup_parameters = options`) silently drops them. A SET on a session
 * holds through PgBouncer in session mode (docs/scaling.md names that mode).
 */

import pg from 'pg';
import { type PasswordFileTarget, passwordFromFile } from './pgpass.ts';

export interface PostgresTimeouts {
  /** Client side: opening a connection, or waiting for a free one in the pool, ms. */
  connectMs: number;
  /** Server side: statement_timeout of our sessions, ms (0: none). */
  statementMs: number;
  /** Server side: lock_timeout of our sessions, ms (0: none). */
  lockMs: number;
  /** Client side: a statement the server has not answered for this long gives up its connection, ms (0: none). */
  queryMs: number;
  /** close() waits this long for deliveries in flight and connections to end, then destroys them, ms. */
  closeMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<PostgresTimeouts> = {
  connectMs: 10_000,
  statementMs: 30_000,
  lockMs: 20_000,
  queryMs: 35_000,
  closeMs: 40_000,
};

/**
 * Migrations run with no statement or lock bound: DDL on a large table may take long, and a node
 * starting while another migrates waits on the advisory lock for as long as that takes. No SMTP
 * session waits on them (serve opens its listeners after), and `postern migrate` has an admin watching.
 */
export const MIGRATION_TIMEOUTS: Readonly<PostgresTimeouts> = {
  connectMs: DEFAULT_TIMEOUTS.connectMs,
  statementMs: 0,
  lockMs: 0,
  queryMs: 0,
  closeMs: 5_000,
};

/**
 * TCP keepalive starts probing an idle connection after this; the interval and count of the probes
 * are libuv's (1 s, 10 probes, on Linux with the libuv of Node 24) or the OS's.
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** How often the server checks, during a statement, that our side of the connection is still open. */
const CLIENT_CHECK_INTERVAL_MS = 1_000;

export interface PoolOptions {
  url: string;
  poolSize: number;
  applicationName: string;
  timeouts: PostgresTimeouts;
}

/**
 * A pg.Client that closes its socket when the client side fails the connection. node-postgres 8
 * reports an error it raises itself during authentication (no password for SCRAM, pg/lib/client.js
 * `_handleAuthSASLContinue`) but leaves the socket open, so the server holds it until its
 * authentication_timeout (60 s) and the process cannot exit until then.
 */
export class PosternClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    const given = typeof config === 'string' ? { connectionString: config } : { ...config };
    if (given.connectionString) given.connectionString = withQuietSslMode(given.connectionString);
    super(given);
    this.connection.on('error', () => this.destroy());
    // No password in the URL or PGPASSWORD: the password file, read by us (pgpass.ts), not by
    // node-postgres's deprecated reader. A function is what pg asks for when the server wants one.
    const self = this as unknown as { password: unknown };
    if (self.password === null && !Object.hasOwn(process.env, 'PGPASSWORD')) {
      self.password = (target: PasswordFileTarget) => passwordFromFile(target);
    }
  }

  /** Closes the socket at once, without the Terminate message a hung server would never answer. */
  destroy(): void {
    this.connection.stream.destroy();
  }
}

/** The pool of one store (or CLI command); it can close even when the server does not answer. */
export class PostgresPool extends pg.Pool {
  readonly #clients: Set<PosternClient>;
  readonly #allEnded: (() => void)[];

  constructor(options: PoolOptions) {
    const clients = new Set<PosternClient>();
    const allEnded: (() => void)[] = [];
    const { timeouts } = options;
    super({
      connectionString: options.url,
      max: options.poolSize,
      // A startup parameter PgBouncer passes on (it tracks application_name itself).
      application_name: options.applicationName,
      connectionTimeoutMillis: timeouts.connectMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      ...(timeouts.queryMs > 0 ? { query_timeout: timeouts.queryMs } : {}),
      Client: class extends PosternClient {
        constructor(config?: string | pg.ClientConfig) {
          super(config);
          clients.add(this);
          this.once('end', () => {
            clients.delete(this);
            if (clients.size === 0) for (const wake of allEnded.splice(0)) wake();
          });
        }
      },
      // The pool hands the connection out only once this has succeeded: a setting that cannot be
      // made fails the connection instead of being silently missing.
      onConnect: (client) => configureSession(client, timeouts),
    });
    this.#clients = clients;
    this.#allEnded = allEnded;
  }

  /**
   * pool.end(), but bounded, and done only when every socket is closed: pool.end() resolves once idle
   * connections were asked to end, and a server that does not answer their goodbye would keep those
   * sockets (and the process) alive. After `ms` every connection left is destroyed: a checked-out
   * one fails its statement, so its caller sees an error, not a hang.
   */
  async endWithin(ms: number): Promise<void> {
    const ended = this.end().catch(() => {});
    const closed = ended.then(() => this.#everyClientEnded());
    if (await settlesWithin(closed, ms)) return;
    for (const client of this.#clients) client.destroy();
    await settlesWithin(closed, 1_000);
  }

  #everyClientEnded(): Promise<void> {
    if (this.#clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#allEnded.push(resolve));
  }
}

/**
 * The settings of every session of ours, made in one round trip. synchronous_commit: a 250 must mean
 * the commit reached disk (RFC 5321 §6.1), whatever the server's or database's default, so our
 * sessions wait for the WAL flush (and for synchronous standbys, where configured).
 * client_connection_check_interval is PostgreSQL 14+ and not on every platform: tried, not required.
 */
export async function configureSession(client: pg.ClientBase, timeouts: PostgresTimeouts): Promise<void> {
  const ms = (value: number) => String(Math.max(0, Math.floor(value)));
  await client.query(`DO $$
BEGIN
  PERFORM set_config('synchronous_commit', 'on', false);
  PERFORM set_config('statement_timeout', '${ms(timeouts.statementMs)}', false);
  PERFORM set_config('lock_timeout', '${ms(timeouts.lockMs)}', false);
  BEGIN
    PERFORM set_config('client_connection_check_interval', '${CLIENT_CHECK_INTERVAL_MS}', false);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$`);
}

/** True when node-postgres gave up waiting for the server (query_timeout): the connection must go. */
export function isClientTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

/**
 * The URL for node-postgres, with sslmode=prefer, require or verify-ca written as verify-full. pg 8
 * already treats those three as verify-full (certificate and host name checked: pg-connection-string
 * 2.x), and says so in a 9-line SECURITY WARNING on stderr in every process that parses such a URL.
 * Writing verify-full keeps exactly that security and drops the warning. A URL that opted into
 * libpq's weaker meanings (uselibpqcompat=true) is left as written. Only the query is touched: a
 * password may hold "&" and "=" (RFC 3986 §3.2.1 sub-delims), never a raw "?", which starts the
 * query (RFC 3986 §3.4) wherever it first appears before a "#".
 */
export function withQuietSslMode(url: string): string {
  const query = url.indexOf('?');
  const hash = url.indexOf('#');
  if (query === -1 || (hash !== -1 && hash < query)) return url;
  const end = hash === -1 ? url.length : hash;
  const params = url.slice(query + 1, end).split('&');
  if (params.some((param) => /^uselibpqcompat=/i.test(param))) return url;
  const quiet = params.map((param) =>
    /^sslmode=(prefer|require|verify-ca)$/.test(param) ? 'sslmode=verify-full' : param,
  );
  return `${url.slice(0, query + 1)}${quiet.join('&')}${url.slice(end)}`;
}

/** Whether `promise` settles within `ms`. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
