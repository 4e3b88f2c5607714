/**
 * The PostgreSQL store engine: several Postern nodes share one database. Nothing a node needs to
 * agree on with the others lives outside it: accounts, mailboxes and their UID counters, messages,
 * the job queue. Deliveries are group-committed (delivery-batcher.ts); changes reach every node by
 * LISTEN/NOTIFY (change-channel.ts); queue claims use FOR UPDATE SKIP LOCKED.
 */

import pg from 'pg';
import { summarize } from '../../mime/summary.ts';
import { counterEntries } from '../counters.ts';
import type { MigrationOutcome, SchemaStatus } from '../migrations.ts';
import { accountFromRow, JOB_COLUMNS, jobFromRow, mailboxFromRow, mailboxMessageFromRow } from '../rows.ts';
import {
  type Account,
  AccountExistsError,
  type AccountId,
  type ClaimOptions,
  type Delivery,
  type DeliveryReceipt,
  type GreylistRequest,
  type GreylistResult,
  type Mailbox,
  type MailboxChange,
  type MailboxId,
  type MailboxMessage,
  type NewQueueJob,
  type QueueJob,
  type Store,
  StoreClosedError,
  StoreError,
  type StoreStats,
  StoreUnavailableError,
} from '../store.ts';
import { ChangeChannel } from './change-channel.ts';
import { addPostgresCounters, readPostgresCounters } from './counters.ts';
import { DeliveryBatcher } from './delivery-batcher.ts';
import { PostgresGreylist } from './greylist.ts';
import { migratePostgres, postgresSchemaStatus } from './migrations.ts';
import { redactUrl } from './url.ts';

export interface PostgresStoreOptions {
  url: string;
  /** Connections this node opens for its work (one more listens for changes). */
  poolSize?: number;
  /** Shown in pg_stat_activity, so an admin sees which node holds a connection. */
  applicationName?: string;
  /** Errors on idle or listening connections, which no caller is waiting for. */
  onError?: (error: Error) => void;
}

export const DEFAULT_POOL_SIZE = 10;
const UID_VALIDITY_COUNTER = 'uid_validity';
const MAX_UID_VALIDITY = 0xffff_ffff; // a 32-bit nz-number, RFC 9051 §2.3.1.1

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const pool = createPool(options);
  try {
    const migration = await migratePostgres(pool);
    return new PostgresStore(pool, options, migration);
  } catch (error) {
    await pool.end().catch(() => {});
    throw wrapConnectionError(error, options.url);
  }
}

/** `postern migrate` on PostgreSQL: the migrations alone. */
export async function migratePostgresStore(options: PostgresStoreOptions): Promise<MigrationOutcome> {
  const pool = createPool({ ...options, poolSize: 1 });
  try {
    return await migratePostgres(pool);
  } catch (error) {
    throw wrapConnectionError(error, options.url);
  } finally {
    await pool.end().catch(() => {});
  }
}

/** `postern migrate --status` on PostgreSQL; reads only. */
export async function postgresStoreStatus(options: PostgresStoreOptions): Promise<SchemaStatus> {
  const pool = createPool({ ...options, poolSize: 1 });
  try {
    return await postgresSchemaStatus(pool, redactUrl(options.url));
  } catch (error) {
    throw wrapConnectionError(error, options.url);
  } finally {
    await pool.end().catch(() => {});
  }
}

export function createPool(options: PostgresStoreOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    application_name: options.applicationName ?? 'postern',
    connectionTimeoutMillis: 10_000,
    // A 250 must mean the commit reached disk (RFC 5321 §6.1): whatever the server's default, our
    // sessions wait for the WAL flush (and for synchronous standbys, where configured).
    options: '-c synchronous_commit=on',
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}

/** A connection failure names the server (not the password) and what to check. */
export function wrapConnectionError(error: unknown, url: string): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (code.startsWith('08') || ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code)) {
    return new StoreUnavailableError(
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${message} (is the server running, and store.url right?)`,
      { cause: error },
    );
  }
  return new StoreUnavailableError(`PostgreSQL at ${redactUrl(url)}: ${message}`, { cause: error });
}

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #batcher: DeliveryBatcher;
  readonly #changes: ChangeChannel;
  readonly #greylist: PostgresGreylist;
  readonly migration: MigrationOutcome;
  #closing: Promise<void> | undefined;

  constructor(pool: pg.Pool, options: PostgresStoreOptions, migration: MigrationOutcome) {
    this.#pool = pool;
    this.migration = migration;
    // One batch commits at a time per node, as on SQLite: the next batch gathers everything that
    // arrives meanwhile. Measured against 2 and 5 in flight (docs/benchmarks.md), this gave the
    // largest batches and the highest rate; more batches in flight only split the load into smaller
    // transactions that queue on the same mailbox locks. Other connections serve reads.
    this.#batcher = new DeliveryBatcher(pool, { maxInFlight: 1, onError: (error) => options.onError?.(error) });
    this.#changes = new ChangeChannel(
      { connectionString: options.url, application_name: `${options.applicationName ?? 'postern'} (changes)` },
      (error) => options.onError?.(error),
    );
    this.#greylist = new PostgresGreylist(
      (text, values) => this.#query(text, values),
      (error) => options.onError?.(error),
    );
  }

  stats(): StoreStats {
    return this.#batcher.stats;
  }

  async createAccount(address: string, passwordHash: string): Promise<Account> {
    return this.#transaction(async (client) => {
      const createdAt = new Date();
      let row: pg.QueryResultRow | undefined;
      try {
        row = (
          await client.query(
            'INSERT INTO accounts (address, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id',
            [address, passwordHash, createdAt.getTime()],
          )
        ).rows[0];
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new AccountExistsError(`an account for ${address} already exists`);
        }
        throw error;
      }
      const id = Number(row?.id);
      await client.query(
        "INSERT INTO mailboxes (account_id, name, uid_validity, uid_next, highest_modseq) VALUES ($1, 'INBOX', $2, 1, 1)",
        [id, await nextUidValidity(client)],
      );
      return { id, address, passwordHash, createdAt };
    });
  }

  async findAccount(address: string): Promise<Account | undefined> {
    const { rows } = await this.#query(
      'SELECT id, address, password_hash, created_at FROM accounts WHERE address = $1',
      [address],
    );
    return rows[0] ? accountFromRow(rows[0]) : undefined;
  }

  async listAccounts(): Promise<Account[]> {
    const { rows } = await this.#query('SELECT id, address, password_hash, created_at FROM accounts ORDER BY address');
    return rows.map(accountFromRow);
  }

  async removeAccount(address: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const { rows } = await client.query('SELECT id FROM accounts WHERE address = $1 FOR UPDATE', [address]);
      if (!rows[0]) return false;
      const accountId = Number(rows[0].id);
      // Content held only by this account goes; content other accounts still hold stays.
      await client.query(
        `DELETE FROM messages WHERE id IN (
           SELECT mm.message_id FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id
           WHERE mb.account_id = $1)
         AND NOT EXISTS (
           SELECT 1 FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id
           WHERE mm.message_id = messages.id AND mb.account_id <> $1)`,
        [accountId],
      );
      await client.query('DELETE FROM accounts WHERE id = $1', [accountId]); // mailboxes go by CASCADE
      return true;
    });
  }

  async deliver(delivery: Delivery): Promise<DeliveryReceipt> {
    this.#assertOpen();
    if (delivery.recipients.length === 0) throw new StoreError('a delivery needs at least one recipient');
    return this.#batcher.deliver(delivery, summarize(delivery.content));
  }

  async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | undefined> {
    const { rows } = await this.#query(
      `SELECT id, account_id, name, uid_validity, uid_next, highest_modseq,
         (SELECT count(*) FROM mailbox_messages WHERE mailbox_id = mailboxes.id) AS message_count
       FROM mailboxes WHERE account_id = $1 AND name = $2`,
      [accountId, name],
    );
    return rows[0] ? mailboxFromRow(rows[0]) : undefined;
  }

  async listMessages(mailboxId: MailboxId): Promise<MailboxMessage[]> {
    const { rows } = await this.#query(
      `SELECT mm.uid, mm.modseq, mm.flags, mm.internal_date, m.size,
         m.header_from, m.header_subject, m.header_date, m.header_message_id
       FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = $1 ORDER BY mm.uid`,
      [mailboxId],
    );
    return rows.map(mailboxMessageFromRow);
  }

  async readMessage(mailboxId: MailboxId, uid: number): Promise<Uint8Array | undefined> {
    const { rows } = await this.#query(
      `SELECT m.content FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = $1 AND mm.uid = $2`,
      [mailboxId, uid],
    );
    const content = rows[0]?.content as Buffer | undefined;
    return content ? new Uint8Array(content) : undefined; // a plain Uint8Array, like the SQLite engine's
  }

  async enqueueJob(job: NewQueueJob): Promise<QueueJob> {
    const now = Date.now();
    const { rows } = await this.#query(
      `INSERT INTO queue (kind, payload, due_at, attempts, created_at) VALUES ($1, $2, $3, 0, $4)
       RETURNING ${JOB_COLUMNS}`,
      [job.kind, job.payload, job.dueAt?.getTime() ?? now, now],
    );
    return jobFromRow(rows[0] ?? {});
  }

  /**
   * FOR UPDATE SKIP LOCKED (PostgreSQL docs, "The Locking Clause"): rows another node is claiming
   * right now are skipped, not waited for; a row claimed and committed meanwhile is re-checked
   * against the WHERE clause under READ COMMITTED, so its new lease excludes it. No double claims.
   */
  async claimJobs(options: ClaimOptions): Promise<QueueJob[]> {
    const now = (options.now ?? new Date()).getTime();
    const { rows } = await this.#query(
      `UPDATE queue SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM queue
         WHERE due_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
         ORDER BY due_at, id LIMIT $4
         FOR UPDATE SKIP LOCKED)
       RETURNING ${JOB_COLUMNS}`,
      [options.claimant, now + options.leaseMs, now, options.limit],
    );
    return rows.map(jobFromRow).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.id - b.id);
  }

  async completeJob(id: number, claimant: string): Promise<boolean> {
    const result = await this.#query('DELETE FROM queue WHERE id = $1 AND claimed_by = $2 AND claimed_until > $3', [
      id,
      claimant,
      Date.now(),
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async rescheduleJob(id: number, claimant: string, dueAt: Date): Promise<boolean> {
    const result = await this.#query(
      `UPDATE queue SET due_at = $1, claimed_by = NULL, claimed_until = NULL
       WHERE id = $2 AND claimed_by = $3 AND claimed_until > $4`,
      [dueAt.getTime(), id, claimant, Date.now()],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async watchChanges(listener: (change: MailboxChange) => void): Promise<() => void> {
    this.#assertOpen();
    try {
      return await this.#changes.subscribe(listener);
    } catch (error) {
      throw wrapConnectionError(error, '(change notifications)');
    }
  }

  async addCounters(deltas: Readonly<Record<string, number>>): Promise<void> {
    this.#assertOpen();
    await addPostgresCounters((text, values) => this.#query(text, values), counterEntries(deltas));
  }

  async readCounters(prefix: string): Promise<Record<string, number>> {
    return readPostgresCounters((text, values) => this.#query(text, values), prefix);
  }

  async greylist(request: GreylistRequest): Promise<GreylistResult> {
    return this.#greylist.decide(request);
  }

  /** Refuses new calls at once, lets deliveries already asked for commit, then closes the pool. */
  close(): Promise<void> {
    if (this.#closing) return Promise.reject(new StoreClosedError('the store is closed'));
    this.#closing = (async () => {
      await this.#batcher.drained();
      await this.#changes.close();
      await this.#pool.end();
    })();
    return this.#closing;
  }

  async #query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    this.#assertOpen();
    try {
      return await this.#pool.query(text, values);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw asStoreError(error);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw asStoreError(error);
    } finally {
      client.release();
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreClosedError('the store is closed');
  }
}

/**
 * RFC 9051 §2.3.1.1: a mailbox re-created under the same name needs a new UIDVALIDITY. The counter
 * row is locked by the upsert, so two nodes creating accounts at once get distinct values.
 */
async function nextUidValidity(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query(
    `INSERT INTO counters (name, value) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value + 1, excluded.value)
     RETURNING value`,
    [UID_VALIDITY_COUNTER, Math.floor(Date.now() / 1000)],
  );
  const value = Number(rows[0]?.value);
  if (value > MAX_UID_VALIDITY) throw new StoreError('UIDVALIDITY space exhausted');
  return value;
}

function asStoreError(error: unknown): Error {
  if (error instanceof StoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`PostgreSQL: ${message}`, { cause: error });
}
