/**
 * The PostgreSQL store engine: several Postern nodes share one database. Nothing a node needs to
 * agree on with the others lives outside it: accounts, mailboxes and their UID counters, messages,
 * the job queue. Deliveries are group-committed (delivery-batcher.ts); changes reach every node by
 * LISTEN/NOTIFY (change-channel.ts); queue claims use FOR UPDATE SKIP LOCKED.
 */

import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { summarize } from '../../mime/summary.ts';
import { counterEntries } from '../counters.ts';
import { checkDelivery } from '../delivery-targets.ts';
import { checkLoginFailureOptions } from '../login-failures.ts';
import type { MigrationOutcome, SchemaStatus } from '../migrations.ts';
import { DEFAULT_QUARANTINE_LIMIT } from '../quarantine-rows.ts';
import {
  JOB_COLUMNS,
  jobFromRow,
  MAILBOX_COLUMNS,
  mailboxFromRow,
  mailboxMessageFromRow,
  POSTGRES_JOB_SUMMARY_COLUMNS,
} from '../rows.ts';
import { SenderTally } from '../sender-tally.ts';
import {
  type Account,
  type AccountId,
  type Alias,
  type ClaimOptions,
  type CorrespondentDomain,
  checkCounterText,
  checkDeliveryText,
  checkDkimKeyText,
  checkGreylistText,
  checkLimit,
  checkQuarantineText,
  checkQueueJobText,
  checkSenderText,
  checkText,
  type DeleteJobOptions,
  type Delivery,
  type DeliveryReceipt,
  type DkimKey,
  type DkimKeyState,
  type GreylistRequest,
  type GreylistResult,
  isStorableText,
  type JobDeletion,
  type ListJobsOptions,
  type LoginFailureOptions,
  type LoginFailureRecord,
  type Mailbox,
  type MailboxChange,
  type MailboxId,
  type MailboxMessage,
  type NewDkimKey,
  type NewQuarantined,
  type NewQueueJob,
  NoSuchAccountError,
  type Quarantined,
  type QuarantinedSummary,
  type QuarantineRelease,
  type QueueJob,
  type ReleasedQuarantine,
  SECRET_BYTES,
  type SenderHistory,
  type Store,
  StoreClosedError,
  StoreError,
  type StoreStats,
  StoreUnavailableError,
} from '../store.ts';
import { PostgresAccounts } from './accounts.ts';
import { ChangeChannel } from './change-channel.ts';
import { addPostgresCounters, readPostgresCounters } from './counters.ts';
import { DeliveryBatcher } from './delivery-batcher.ts';
import { PostgresDkimKeys } from './dkim-keys.ts';
import { explainPostgresError } from './errors.ts';
import { PostgresGreylist } from './greylist.ts';
import { PostgresLoginFailures } from './login-failures.ts';
import { migratePostgres, postgresSchemaStatus } from './migrations.ts';
import {
  DEFAULT_TIMEOUTS,
  isClientTimeout,
  KEEPALIVE_IDLE_MS,
  MIGRATION_TIMEOUTS,
  PosternClient,
  PostgresPool,
  type PostgresTimeouts,
  settlesWithin,
} from './pool.ts';
import { PostgresQuarantine, releaseWith } from './quarantine.ts';
import { insertQueueJob } from './queue.ts';
import { redactUrl } from './url.ts';

export interface PostgresStoreOptions {
  url: string;
  /** Connections this node opens for its work (one more listens for changes). */
  poolSize?: number;
  /** Shown in pg_stat_activity, so an admin sees which node holds a connection. */
  applicationName?: string;
  /** Errors on idle or listening connections, which no caller is waiting for. */
  onError?: (error: Error) => void;
  /** How long to wait on the server (pool.ts says why the defaults are what they are); tests shorten them. */
  timeouts?: Partial<PostgresTimeouts>;
}

export const DEFAULT_POOL_SIZE = 10;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  // The migrations on a connection of their own, without the store's statement bounds (pool.ts).
  const migration = await migratePostgresStore(options);
  return new PostgresStore(createPool(options), options, migration);
}

/** `postern migrate` on PostgreSQL: the migrations alone. */
export async function migratePostgresStore(options: PostgresStoreOptions): Promise<MigrationOutcome> {
  const pool = createPool({ ...options, poolSize: 1 }, MIGRATION_TIMEOUTS);
  try {
    return await migratePostgres(pool);
  } catch (error) {
    throw wrapConnectionError(error, options.url);
  } finally {
    await pool.endWithin(MIGRATION_TIMEOUTS.closeMs);
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
    await pool.endWithin(resolveTimeouts(options).closeMs);
  }
}

export function resolveTimeouts(options: PostgresStoreOptions): PostgresTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...options.timeouts };
}

/**
 * The pool: synchronous_commit=on, statement_timeout and lock_timeout are SET on each new
 * connection, and a server that answers nothing costs a bounded wait (pool.ts).
 */
export function createPool(
  options: PostgresStoreOptions,
  timeouts: PostgresTimeouts = resolveTimeouts(options),
): PostgresPool {
  const pool = new PostgresPool({
    url: options.url,
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    applicationName: options.applicationName ?? 'postern',
    timeouts,
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}

/** A connection failure names the server (not the password) and what to check. */
export function wrapConnectionError(error: unknown, url: string): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  const explained = explainPostgresError(error);
  if (explained) return new StoreUnavailableError(`${explained} (PostgreSQL at ${redactUrl(url)})`, { cause: error });
  // 08P01 is a protocol violation: the server (or a pooler in front of it) answered, and refused.
  const unreachable = code.startsWith('08') && code !== '08P01';
  if (unreachable || ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code)) {
    return new StoreUnavailableError(
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${message} (is the server running, and store.url right?)`,
      { cause: error },
    );
  }
  return new StoreUnavailableError(`PostgreSQL at ${redactUrl(url)}: ${message}`, { cause: error });
}

export class PostgresStore implements Store {
  readonly #pool: PostgresPool;
  readonly #timeouts: PostgresTimeouts;
  readonly #onError: (error: Error) => void;
  readonly #batcher: DeliveryBatcher;
  readonly #changes: ChangeChannel;
  readonly #greylist: PostgresGreylist;
  readonly #accounts: PostgresAccounts;
  readonly #loginFailures: PostgresLoginFailures;
  readonly #dkimKeys: PostgresDkimKeys;
  readonly #quarantine: PostgresQuarantine;
  /** recordSenders() calls of one turn, and those made while a tally commits, go as one upsert. */
  readonly #senders: SenderTally;
  readonly migration: MigrationOutcome;
  #closing: Promise<void> | undefined;

  constructor(pool: PostgresPool, options: PostgresStoreOptions, migration: MigrationOutcome) {
    this.#pool = pool;
    this.#timeouts = resolveTimeouts(options);
    this.#onError = (error) => options.onError?.(error);
    this.migration = migration;
    // One batch commits at a time per node, as on SQLite: the next batch gathers everything that
    // arrives meanwhile. Measured against 2 and 5 in flight (docs/benchmarks.md), this gave the
    // largest batches and the highest rate; more batches in flight only split the load into smaller
    // transactions that queue on the same mailbox locks. Other connections serve reads.
    this.#batcher = new DeliveryBatcher(pool, { maxInFlight: 1, onError: (error) => options.onError?.(error) });
    this.#changes = new ChangeChannel(
      {
        connectionString: options.url,
        application_name: `${options.applicationName ?? 'postern'} (changes)`,
        connectionTimeoutMillis: this.#timeouts.connectMs,
        // An idle listener on a dead network is noticed (and reconnected) by the keepalive probes.
        keepAlive: true,
        keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
        ...(this.#timeouts.queryMs > 0 ? { query_timeout: this.#timeouts.queryMs } : {}),
      },
      (error) => options.onError?.(error),
    );
    const query = (text: string, values?: unknown[]) => this.#query(text, values);
    const onError = (error: Error) => options.onError?.(error);
    this.#greylist = new PostgresGreylist(query, onError);
    this.#accounts = new PostgresAccounts(query, (work) => this.#transaction(work));
    this.#loginFailures = new PostgresLoginFailures(query, onError);
    this.#dkimKeys = new PostgresDkimKeys(query, (work) => this.#transaction(work));
    this.#quarantine = new PostgresQuarantine(query);
    // Not through #query: a tally recorded before close() still commits while the store closes.
    const tallies = new PostgresQuarantine((text, values) => this.#pool.query(text, values).catch(rethrowAsStoreError));
    this.#senders = new SenderTally((batch) => tallies.countSenders(batch));
  }

  stats(): StoreStats {
    return this.#batcher.stats;
  }

  async createAccount(address: string, passwordHash: string, scram: string | null = null): Promise<Account> {
    this.#assertOpen();
    checkText('the account address', address);
    checkText('the password hash', passwordHash);
    checkText('the SCRAM credentials', scram);
    return this.#accounts.create(address, passwordHash, scram);
  }

  async findAccount(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (!isStorableText(address)) return undefined;
    return this.#accounts.find(address);
  }

  async listAccounts(): Promise<Account[]> {
    return this.#accounts.list();
  }

  async hasAccounts(): Promise<boolean> {
    return this.#accounts.any();
  }

  async removeAccount(address: string): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(address)) return false;
    return this.#accounts.remove(address);
  }

  async setPassword(address: string, passwordHash: string, scram: string | null): Promise<boolean> {
    this.#assertOpen();
    checkText('the password hash', passwordHash);
    checkText('the SCRAM credentials', scram);
    if (!isStorableText(address)) return false;
    return this.#accounts.setPassword(address, passwordHash, scram);
  }

  async setDisabled(address: string, disabled: boolean): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(address)) return false;
    return this.#accounts.setDisabled(address, disabled);
  }

  async addAlias(alias: string, accountAddress: string): Promise<void> {
    this.#assertOpen();
    checkText('the alias', alias);
    if (!isStorableText(accountAddress)) throw new NoSuchAccountError(`no account ${JSON.stringify(accountAddress)}`);
    return this.#accounts.addAlias(alias, accountAddress);
  }

  async removeAlias(alias: string): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(alias)) return false;
    return this.#accounts.removeAlias(alias);
  }

  async listAliases(accountAddress?: string): Promise<Alias[]> {
    this.#assertOpen();
    if (accountAddress !== undefined && !isStorableText(accountAddress)) return [];
    return this.#accounts.listAliases(accountAddress);
  }

  async resolveAddress(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (!isStorableText(address)) return undefined;
    return this.#accounts.resolve(address);
  }

  async recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
    this.#assertOpen();
    checkLoginFailureOptions(options);
    checkText('the login failure key', key);
    return this.#loginFailures.record(key, options);
  }

  async loginBlockedUntil(key: string, now: Date): Promise<Date | null> {
    this.#assertOpen();
    if (!isStorableText(key)) return null;
    return this.#loginFailures.blockedUntil(key, now);
  }

  async clearLoginFailures(key: string): Promise<void> {
    this.#assertOpen();
    if (!isStorableText(key)) return;
    return this.#loginFailures.clear(key);
  }

  async deliver(delivery: Delivery): Promise<DeliveryReceipt> {
    this.#assertOpen();
    const checked = checkDelivery(delivery);
    checkDeliveryText(delivery);
    return this.#batcher.deliver(delivery, summarize(delivery.content), checked);
  }

  async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | undefined> {
    this.#assertOpen();
    if (!isStorableText(name)) return undefined;
    const { rows } = await this.#query(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = $1 AND name = $2`, [
      accountId,
      name,
    ]);
    return rows[0] ? mailboxFromRow(rows[0]) : undefined;
  }

  /** Sorted bytewise (COLLATE "C"), as SQLite sorts. */
  async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    const { rows } = await this.#query(
      `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = $1 ORDER BY name <> 'INBOX', name COLLATE "C"`,
      [accountId],
    );
    return rows.map(mailboxFromRow);
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

  async addDkimKey(key: NewDkimKey): Promise<DkimKey> {
    this.#assertOpen();
    checkDkimKeyText(key);
    return this.#dkimKeys.add(key);
  }

  async listDkimKeys(domain?: string): Promise<DkimKey[]> {
    this.#assertOpen();
    if (domain !== undefined && !isStorableText(domain)) return [];
    return this.#dkimKeys.list(domain);
  }

  async setDkimKeyState(
    id: number,
    state: DkimKeyState,
    options: { retireAfter?: Date; now?: Date; from?: DkimKeyState } = {},
  ): Promise<boolean> {
    return this.#dkimKeys.setState(id, state, options.now ?? new Date(), options.retireAfter, options.from);
  }

  async activateDkimKey(id: number, options: { now: Date; retireAfter: Date }): Promise<string[] | undefined> {
    return this.#dkimKeys.activate(id, options.now, options.retireAfter);
  }

  async removeDkimKey(id: number): Promise<boolean> {
    return this.#dkimKeys.remove(id);
  }

  async enqueueJob(job: NewQueueJob): Promise<QueueJob> {
    this.#assertOpen();
    checkQueueJobText(job);
    return insertQueueJob((text, values) => this.#query(text, values), job);
  }

  /**
   * FOR UPDATE SKIP LOCKED (PostgreSQL docs, "The Locking Clause"): rows another node is claiming
   * right now are skipped, not waited for; a row claimed and committed meanwhile is re-checked
   * against the WHERE clause under READ COMMITTED, so its new lease excludes it. No double claims.
   */
  async listJobs(options: ListJobsOptions = {}): Promise<QueueJob[]> {
    checkLimit('listJobs', options.limit ?? 1000);
    this.#assertOpen();
    if (options.kind !== undefined && !isStorableText(options.kind)) return [];
    const columns = (options.withContent ?? true) ? JOB_COLUMNS : POSTGRES_JOB_SUMMARY_COLUMNS;
    const { rows } = await this.#query(
      `SELECT ${columns} FROM queue WHERE ($1::text IS NULL OR kind = $1) ORDER BY due_at, id LIMIT $2`,
      [options.kind ?? null, options.limit ?? 1000],
    );
    return rows.map(jobFromRow);
  }

  async claimJobs(options: ClaimOptions): Promise<QueueJob[]> {
    checkLimit('claimJobs', options.limit);
    this.#assertOpen();
    checkText('the claimant', options.claimant);
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
    this.#assertOpen();
    if (!isStorableText(claimant)) return false;
    const result = await this.#query('DELETE FROM queue WHERE id = $1 AND claimed_by = $2 AND claimed_until > $3', [
      id,
      claimant,
      Date.now(),
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async getJob(id: number): Promise<QueueJob | undefined> {
    this.#assertOpen();
    // The id column is bigint: a number it cannot hold names no job, rather than a database error.
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.#query(`SELECT ${JOB_COLUMNS} FROM queue WHERE id = $1`, [id]);
    return rows[0] ? jobFromRow(rows[0]) : undefined;
  }

  async countJobs(kind?: string): Promise<number> {
    this.#assertOpen();
    if (kind !== undefined && !isStorableText(kind)) return 0;
    const { rows } = await this.#query('SELECT count(*) AS n FROM queue WHERE ($1::text IS NULL OR kind = $1)', [
      kind ?? null,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * The DELETE's condition is the lease check: a claim committed meanwhile makes PostgreSQL re-check
   * the row's new version against it under READ COMMITTED (as claimJobs relies on), so a job claimed
   * while this runs is never removed without `force`. The SELECT after only says why nothing went.
   */
  async deleteJob(id: number, options: DeleteJobOptions = {}): Promise<JobDeletion> {
    this.#assertOpen();
    if (!Number.isSafeInteger(id)) return { outcome: 'missing' };
    if (options.kind !== undefined && !isStorableText(options.kind)) return { outcome: 'missing' };
    const now = (options.now ?? new Date()).getTime();
    const kind = options.kind ?? null;
    const deleted = await this.#query(
      `DELETE FROM queue WHERE id = $1 AND ($2::text IS NULL OR kind = $2)
         AND ($3 OR claimed_until IS NULL OR claimed_until <= $4)`,
      [id, kind, options.force === true, now],
    );
    if ((deleted.rowCount ?? 0) > 0) return { outcome: 'deleted' };
    const { rows } = await this.#query(
      'SELECT claimed_by, claimed_until FROM queue WHERE id = $1 AND ($2::text IS NULL OR kind = $2)',
      [id, kind],
    );
    const row = rows[0];
    if (!row) return { outcome: 'missing' };
    return {
      outcome: 'leased',
      claimedBy: row.claimed_by == null ? null : String(row.claimed_by),
      claimedUntil: new Date(Number(row.claimed_until)),
    };
  }

  async rescheduleJob(id: number, claimant: string, dueAt: Date): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(claimant)) return false;
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
    checkCounterText(deltas);
    await addPostgresCounters((text, values) => this.#query(text, values), counterEntries(deltas));
  }

  async readCounters(prefix: string): Promise<Record<string, number>> {
    this.#assertOpen();
    if (!isStorableText(prefix)) return {};
    return readPostgresCounters((text, values) => this.#query(text, values), prefix);
  }

  async greylist(request: GreylistRequest): Promise<GreylistResult> {
    this.#assertOpen();
    checkGreylistText(request);
    return this.#greylist.decide(request);
  }

  async secret(name: string): Promise<Buffer> {
    this.#assertOpen();
    checkText('the secret name', name);
    // One statement: the first node's value is kept, every later one (at once or later) reads it.
    const rows = await this.#query(
      `WITH made AS (
         INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value
       )
       SELECT value FROM made UNION ALL SELECT value FROM secrets WHERE name = $1 LIMIT 1`,
      [name, randomBytes(SECRET_BYTES)],
    );
    // Another node inserting at the same moment: ON CONFLICT waited for its commit, but this
    // statement's snapshot predates it; a new statement sees its row.
    const row = rows.rows[0] ?? (await this.#query('SELECT value FROM secrets WHERE name = $1', [name])).rows[0];
    return Buffer.from(row!.value as Uint8Array);
  }

  async quarantine(message: NewQuarantined): Promise<QuarantinedSummary> {
    this.#assertOpen();
    checkQuarantineText(message);
    const { from, subject } = summarize(message.content);
    return this.#quarantine.add(message, { from, subject });
  }

  async listQuarantine(options: { limit?: number; before?: number } = {}): Promise<QuarantinedSummary[]> {
    checkLimit('listQuarantine', options.limit ?? DEFAULT_QUARANTINE_LIMIT);
    return this.#quarantine.list(options.limit ?? DEFAULT_QUARANTINE_LIMIT, options.before);
  }

  async readQuarantined(id: number): Promise<Quarantined | undefined> {
    return this.#quarantine.read(id);
  }

  async removeQuarantined(id: number): Promise<boolean> {
    return this.#quarantine.remove(id);
  }

  async expireQuarantine(before: Date, limit: number): Promise<number> {
    checkLimit('expireQuarantine', limit);
    return this.#quarantine.expire(before, limit);
  }

  async releaseQuarantined(id: number, release: QuarantineRelease): Promise<ReleasedQuarantine | undefined> {
    this.#assertOpen();
    const { delivery, job } = release;
    if (delivery) checkDeliveryText(delivery);
    if (job) checkQueueJobText(job);
    const deliver = delivery && { delivery, summary: summarize(delivery.content), checked: checkDelivery(delivery) };
    const outcome = await this.#transaction((client) => releaseWith(client, id, { deliver, job }));
    if (outcome === undefined) return undefined;
    this.#batcher.announce(outcome.rows);
    return { ...(outcome.receipt ? { receipt: outcome.receipt } : {}), ...(outcome.job ? { job: outcome.job } : {}) };
  }

  async senderHistory(address: string): Promise<SenderHistory> {
    this.#assertOpen();
    if (!isStorableText(address)) return { messages: 0, firstSeen: null };
    return this.#quarantine.senderHistory(address);
  }

  async recordSenders(addresses: string[], at: Date): Promise<void> {
    this.#assertOpen();
    checkSenderText(addresses);
    return this.#senders.record(addresses, at);
  }

  async recordCorrespondentDomains(domains: string[], at: Date): Promise<void> {
    this.#assertOpen();
    checkSenderText(domains);
    return this.#senders.recordDomains(domains, at);
  }

  async frequentCorrespondents(options: {
    minMessages: number;
    limit: number;
    seenSince: Date;
  }): Promise<CorrespondentDomain[]> {
    this.#assertOpen();
    return this.#quarantine.frequentCorrespondents(options.minMessages, options.limit, options.seenSince);
  }

  /**
   * Refuses new calls at once, lets deliveries and sender tallies already asked for commit, then
   * closes the pool; all within `timeouts.closeMs` (pool.ts), even when the server hangs. Past it,
   * the connections are destroyed: work still in flight fails (its sessions answer 451), and the
   * server rolls it back when it notices the closed connection (client_connection_check_interval).
   */
  close(): Promise<void> {
    if (this.#closing) return Promise.reject(new StoreClosedError('the store is closed'));
    const { closeMs } = this.#timeouts;
    const deadline = Date.now() + closeMs;
    const left = () => Math.max(0, deadline - Date.now());
    this.#closing = (async () => {
      const inFlight = (async () => {
        await this.#batcher.drained();
        await this.#senders.drain();
      })();
      if (!(await settlesWithin(inFlight, left()))) {
        this.#onError(
          new StoreUnavailableError(
            `PostgreSQL did not finish the work in flight within ${closeMs / 1000} s of closing the store: its connections are destroyed, and that work fails`,
          ),
        );
      }
      await this.#changes.close(left());
      await this.#pool.endWithin(left());
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
      client.release();
      return result;
    } catch (error) {
      if (isClientTimeout(error)) {
        // The server has not answered: a ROLLBACK would wait as long again. Closing the connection
        // rolls the transaction back (whenever the server notices), and the pool gets a new one.
        if (client instanceof PosternClient) client.destroy();
        client.release(error as Error);
      } else {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        client.release(rolledBack ? undefined : (error as Error));
      }
      throw asStoreError(error);
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreClosedError('the store is closed');
  }
}

function rethrowAsStoreError(error: unknown): never {
  throw asStoreError(error);
}

function asStoreError(error: unknown): Error {
  if (error instanceof StoreError) return error;
  const explained = explainPostgresError(error);
  if (explained) return new StoreUnavailableError(explained, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`PostgreSQL: ${message}`, { cause: error });
}
