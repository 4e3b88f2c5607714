/**
 * The embedded store engine: one SQLite file, `<dataDir>/postern.sqlite`, in WAL mode.
 *
 * Writes go to a writer thread (writer-worker.ts) that group-commits them with synchronous=FULL;
 * reads use a connection on the calling thread. Another process (the CLI adding a user) may write
 * the same file at the same time: SQLite's locks and busy_timeout serialize the two.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { summarize } from '../../mime/summary.ts';
import type { Collection } from '../../runtime/memory-reducer.ts';
import { ChangeListeners } from '../change-listeners.ts';
import { counterEntries } from '../counters.ts';
import { checkDelivery } from '../delivery-targets.ts';
import { checkLoginFailureOptions } from '../login-failures.ts';
import type { MigrationOutcome, SchemaStatus } from '../migrations.ts';
import { DEFAULT_QUARANTINE_LIMIT } from '../quarantine-rows.ts';
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
  StoreFullError,
  type StoreStats,
  StoreUnavailableError,
} from '../store.ts';
import { DEFAULT_BUSY_TIMEOUT_MS, openConnection } from './connection.ts';
import { removeStaleCopies } from './database-copy.ts';
import { fullFileSystem, withFullFileSystem } from './full-file-system.ts';
import { migrateSqlite, sqliteSchemaStatus } from './migrations.ts';
import { receiptOf, type StoredDelivery, storedDelivery } from './protocol.ts';
import { SqliteQuarantineReads } from './quarantine.ts';
import { SqliteReader } from './reads.ts';
import { primaryResultCode, SQLITE_BUSY, SQLITE_LOCKED } from './result-codes.ts';
import { type WriteCommand, WriterClient, type WriteSuccess } from './writer-client.ts';

export const DATABASE_FILE_NAME = 'postern.sqlite';

export interface SqliteStoreOptions {
  dataDir: string;
  /** How long a write waits for another process's lock before failing; default 5 s. */
  busyTimeoutMs?: number;
  /** Told once when the store can take no more writes while open (see WriterClient.onFatal). */
  onFatal?: (error: StoreUnavailableError) => void;
  /** Told when the writer thread went quiet and gave memory back (src/runtime/memory-reducer.ts). */
  onMemoryCollected?: (collection: Collection) => void;
  /** Messages removeAccount deletes per transaction; tests make it small. */
  removalBatch?: number;
}

/** Messages a removal deletes per transaction: about 0.1 s of the write lock at a time. */
const REMOVAL_BATCH = 5000;
/** Between a removal's transactions: longer than the 100 ms a waiting writer's busy handler sleeps at most. */
const REMOVAL_PAUSE_MS = 120;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const file = path.join(options.dataDir, DATABASE_FILE_NAME);
  prepareFiles(options.dataDir, file);
  const staleRestores = removeStaleRestores(options.dataDir);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  // The writer creates the schema, so the reader opens only once the tables exist.
  const backupDir = path.join(options.dataDir, 'backups');
  const writer = await WriterClient.start({ file, busyTimeoutMs, backupDir });
  if (options.onFatal) writer.onFatal(options.onFatal);
  if (options.onMemoryCollected) writer.onMemory(options.onMemoryCollected);
  let reader: DatabaseSync;
  try {
    reader = openConnection(file, { busyTimeoutMs, role: 'reader' });
  } catch (error) {
    await writer.close();
    const full = fullFileSystem(error, options.dataDir);
    if (full !== undefined) throw new StoreFullError(`cannot read the SQLite store ${file}: ${full}`, { cause: error });
    throw error;
  }
  const store = new SqliteStore(writer, reader, options.removalBatch ?? REMOVAL_BATCH);
  store.staleRestoresRemoved = staleRestores;
  return store;
}

/** As restore names its copy (backup.ts): DATABASE_FILE_NAME`.restore-<pid>`, and SQLite's files beside it. */
const RESTORE_COPY = /^postern\.sqlite\.restore-(\d+)(?:-journal|-wal|-shm)?$/;

/**
 * The copies (`postern.sqlite.restore-<pid>`, a store's size, and its -journal) that a restore killed
 * midway left; restore removes them under the serve lock, but a server started instead would keep
 * them for good. One whose restore still runs is being written, so it stays (a command other than
 * serve opens the store beside a restore too). Best effort; returns the names removed.
 */
function removeStaleRestores(dataDir: string): string[] {
  return removeStaleCopies(dataDir, RESTORE_COPY);
}

/** `postern migrate` on SQLite: the migrations alone, with the same backup a start would take. */
export function migrateSqliteStore(dataDir: string): MigrationOutcome {
  const file = path.join(dataDir, DATABASE_FILE_NAME);
  prepareFiles(dataDir, file);
  let db: DatabaseSync;
  try {
    db = openConnection(file, { busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS, role: 'writer' });
  } catch (err) {
    throw unreadableStore(err, file, dataDir);
  }
  try {
    return migrateSqlite(db, { backupDir: path.join(dataDir, 'backups') });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreUnavailableError(`cannot migrate the SQLite store ${file}: ${sqliteReason(err, file, dataDir)}`, {
      cause: err,
    });
  } finally {
    db.close();
  }
}

/** `postern migrate --status` on SQLite; reads only, and creates nothing where no database is yet. */
export function sqliteStoreStatus(dataDir: string): SchemaStatus {
  const file = path.join(dataDir, DATABASE_FILE_NAME);
  // Nothing there is a new database only where a directory could hold one; anything else is an error.
  const dir = statOrMissing(dataDir);
  if (dir && !dir.isDirectory()) throw unusableDataDir(dataDir, 'not a directory');
  // Only a file that is not there is "no database yet": one we may not read is an error, not an empty store.
  const stat = statOrMissing(file);
  if (!stat) return sqliteSchemaStatus(undefined, file);
  if (!stat.isFile()) throw new StoreUnavailableError(`cannot read the SQLite store ${file}: not a file`);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
    return sqliteSchemaStatus(db, file);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw unreadableStore(err, file, dataDir);
  } finally {
    db?.close();
  }
}

/** A store that does not open or read: one line for the admin, naming the file, never a stack trace. */
function unreadableStore(err: unknown, file: string, dataDir: string): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreUnavailableError(`cannot read the SQLite store ${file}: ${sqliteReason(err, file, dataDir)}`, {
    cause: err,
  });
}

/**
 * SQLite's own words ("file is not a database", "unable to open database file"), with what they mean
 * where they would mislead: a lock held past the busy timeout, a full file system, and a -journal
 * beside the store. SQLite takes any non-empty -journal beside a database that no connection is
 * writing for a write that never finished (https://sqlite.org/fileformat2.html#hotjrnl) and must
 * roll it back before reading; a read-only connection cannot, and says "attempt to write a readonly
 * database". The store runs in WAL mode and makes no such file: a copy was given that name.
 */
/** https://sqlite.org/rescode.html#readonly (SQLITE_READONLY_ROLLBACK is an extended code of it). */
const SQLITE_READONLY = 8;

function sqliteReason(err: unknown, file: string, dataDir: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = primaryResultCode(err);
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return `${message}: it is locked by another process (a postern serve, a postern command or a sqlite3 shell) for longer than ${DEFAULT_BUSY_TIMEOUT_MS / 1000} s: let it finish, then try again`;
  }
  if (code === SQLITE_READONLY && fs.existsSync(`${file}-journal`)) {
    return (
      `${file}-journal beside it is taken for the journal of a write that never finished, which a read-only ` +
      `open cannot roll back: if it is a file put there (a backup given that name), move it out of ${dataDir}; ` +
      'if a program writing the store in rollback mode was killed, leave it for postern serve to roll back'
    );
  }
  return withFullFileSystem(err, dataDir);
}

/** The file's stat, or undefined when it does not exist; any other failure (EACCES) is an error naming it. */
function statOrMissing(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreUnavailableError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Mail is private: the directory is 0700 and the database 0600. SQLite gives its -wal and -shm
 * files the database file's mode, so creating the file ourselves, before SQLite does, covers them.
 */
function prepareFiles(dataDir: string, file: string): void {
  try {
    if (!fs.existsSync(dataDir)) fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (!fs.statSync(dataDir).isDirectory()) throw unusableDataDir(dataDir, 'not a directory');
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_RDWR, 0o600));
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw unusableDataDir(dataDir, (err as Error).message);
  }
  fs.chmodSync(file, 0o600); // the umask may have removed bits we need, or the file predates us
  // -wal and -shm left by another program (the sqlite3 shell) keep their own modes: they hold mail too.
  for (const companion of [`${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(companion, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The data directory cannot hold the database: one line for the admin, naming dataDir. */
function unusableDataDir(dataDir: string, reason: string): StoreError {
  return new StoreUnavailableError(`dataDir ${dataDir} cannot hold the SQLite store: ${reason}`);
}

export class SqliteStore implements Store {
  readonly #writer: WriterClient;
  readonly #readConnection: DatabaseSync;
  readonly #reads: SqliteReader;
  readonly #quarantineReads: SqliteQuarantineReads;
  readonly #changes = new ChangeListeners();
  /** Sender tallies of one turn become one request, written in the commit of the deliveries beside them. */
  readonly #senders: SenderTally;
  #closing: Promise<void> | undefined;
  readonly #removalBatch: number;
  /** Copies a killed restore left in the data directory, removed by this open (for serve to log). */
  staleRestoresRemoved: string[] = [];

  constructor(writer: WriterClient, readConnection: DatabaseSync, removalBatch = REMOVAL_BATCH) {
    this.#removalBatch = removalBatch;
    this.#writer = writer;
    this.#readConnection = readConnection;
    this.#reads = new SqliteReader(readConnection);
    this.#quarantineReads = new SqliteQuarantineReads(readConnection);
    this.#senders = new SenderTally(async (batch) => {
      // The writer itself, not #write: a tally recorded before close() still commits.
      const result = await this.#writer.write({ kind: 'recordSenders', batch });
      if (result.kind !== 'recordSenders') throw unexpected(result);
      return result.swept;
    });
  }

  /** Commits and deliveries so far; concurrent deliveries share commits, so commits ≤ deliveries. */
  stats(): StoreStats {
    return this.#writer.stats;
  }

  /** What opening the store migrated (logged at start). */
  get migration(): MigrationOutcome {
    return this.#writer.migration;
  }

  async createAccount(address: string, passwordHash: string, scram: string | null = null): Promise<Account> {
    this.#assertOpen();
    checkText('the account address', address);
    checkText('the password hash', passwordHash);
    checkText('the SCRAM credentials', scram);
    const result = await this.#write({ kind: 'createAccount', address, passwordHash, scram, createdAt: new Date() });
    if (result.kind !== 'createAccount') throw unexpected(result);
    return result.account;
  }

  async findAccount(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (!isStorableText(address)) return undefined;
    return this.#reads.findAccount(address);
  }

  async hasAccounts(): Promise<boolean> {
    this.#assertOpen();
    return this.#reads.hasAccounts();
  }

  async listAccounts(): Promise<Account[]> {
    this.#assertOpen();
    return this.#reads.listAccounts();
  }

  async removeAccount(address: string): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(address)) return false;
    // A large mailbox goes in batches, each its own short transaction, with a pause between them for
    // a server waiting on the lock (its busy handler sleeps up to 100 ms at a time): 600,000 messages
    // removed in one transaction held the write lock for 11 s, past the server's 5 s busy timeout, and
    // the mail arriving meanwhile got 451. The account itself goes last, with what came in meanwhile.
    // A small mailbox is one request, as any other write. Bounded: each round deletes a full batch, or
    // it is the last.
    for (let round = 0; ; round++) {
      const result = await this.#write({ kind: 'removeAccount', address, limit: this.#removalBatch });
      if (result.kind !== 'removeAccount') throw unexpected(result);
      if (result.done || round >= 100_000) return result.removed;
      await new Promise((resolve) => setTimeout(resolve, REMOVAL_PAUSE_MS));
    }
  }

  async setPassword(address: string, passwordHash: string, scram: string | null): Promise<boolean> {
    this.#assertOpen();
    checkText('the password hash', passwordHash);
    checkText('the SCRAM credentials', scram);
    if (!isStorableText(address)) return false;
    const result = await this.#write({ kind: 'setPassword', address, passwordHash, scram });
    if (result.kind !== 'setPassword') throw unexpected(result);
    return result.done;
  }

  async setDisabled(address: string, disabled: boolean): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(address)) return false;
    const result = await this.#write({ kind: 'setDisabled', address, disabled });
    if (result.kind !== 'setDisabled') throw unexpected(result);
    return result.done;
  }

  async addAlias(alias: string, accountAddress: string): Promise<void> {
    this.#assertOpen();
    checkText('the alias', alias);
    if (!isStorableText(accountAddress)) throw new NoSuchAccountError(`no account ${JSON.stringify(accountAddress)}`);
    const result = await this.#write({ kind: 'addAlias', alias, account: accountAddress, createdAt: new Date() });
    if (result.kind !== 'addAlias') throw unexpected(result);
  }

  async removeAlias(alias: string): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(alias)) return false;
    const result = await this.#write({ kind: 'removeAlias', alias });
    if (result.kind !== 'removeAlias') throw unexpected(result);
    return result.done;
  }

  async listAliases(accountAddress?: string): Promise<Alias[]> {
    this.#assertOpen();
    if (accountAddress !== undefined && !isStorableText(accountAddress)) return [];
    return this.#reads.listAliases(accountAddress);
  }

  async resolveAddress(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (!isStorableText(address)) return undefined;
    return this.#reads.resolveAddress(address);
  }

  async recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
    this.#assertOpen();
    checkLoginFailureOptions(options);
    checkText('the login failure key', key);
    const result = await this.#write({ kind: 'recordLoginFailure', key, options });
    if (result.kind !== 'recordLoginFailure') throw unexpected(result);
    return result.record;
  }

  async loginBlockedUntil(key: string, now: Date): Promise<Date | null> {
    this.#assertOpen();
    if (!isStorableText(key)) return null;
    return this.#reads.loginBlockedUntil(key, now);
  }

  async secret(name: string): Promise<Buffer> {
    this.#assertOpen();
    checkText('the secret name', name);
    const result = await this.#write({ kind: 'secret', name, candidate: randomBytes(SECRET_BYTES) });
    if (result.kind !== 'secret') throw unexpected(result);
    return Buffer.from(result.value);
  }

  async clearLoginFailures(key: string): Promise<void> {
    this.#assertOpen();
    if (!isStorableText(key)) return;
    const result = await this.#write({ kind: 'clearLoginFailures', key });
    if (result.kind !== 'clearLoginFailures') throw unexpected(result);
  }

  async deliver(delivery: Delivery): Promise<DeliveryReceipt> {
    this.#assertOpen();
    const stored = this.#stored(delivery);
    // A large message moves to the writer thread rather than being copied there and back out of a
    // serialization buffer: two copies of a 20 MB message less in memory while it is stored.
    const move = delivery.handOver === true && stored.content === delivery.content && stored.content.length >= MOVE_AT;
    const result = await this.#writer.deliver(stored, move);
    if (result.kind !== 'deliver') throw unexpected(result);
    return this.#announce(receiptOf(result, stored));
  }

  transactionsUnderWay(count: number): void {
    this.#writer.transactionsUnderWay(count);
  }

  /**
   * Checked, summarized (here rather than on the writer thread: every commit waits for the writer,
   * so it does only what must happen inside the transaction) and flattened for the hand-over.
   */
  #stored(delivery: Delivery): StoredDelivery {
    const content = exactBytes(delivery.content);
    const checked = checkDelivery(delivery);
    checkDeliveryText(delivery);
    return storedDelivery({ ...delivery, content }, summarize(content), checked);
  }

  /** One process writes this file's mail (the CLI does not deliver), so in-process is every node. */
  #announce(receipt: DeliveryReceipt): DeliveryReceipt {
    for (const { accountId, mailboxId, uid } of receipt.placements) {
      this.#changes.emit({ kind: 'message-added', accountId, mailboxId, uid });
    }
    return receipt;
  }

  async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | undefined> {
    this.#assertOpen();
    if (!isStorableText(name)) return undefined;
    return this.#reads.getMailbox(accountId, name);
  }

  async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    this.#assertOpen();
    return this.#reads.listMailboxes(accountId);
  }

  async listMessages(mailboxId: MailboxId): Promise<MailboxMessage[]> {
    this.#assertOpen();
    return this.#reads.listMessages(mailboxId);
  }

  async readMessage(mailboxId: MailboxId, uid: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    return this.#reads.readMessage(mailboxId, uid);
  }

  async addDkimKey(key: NewDkimKey): Promise<DkimKey> {
    this.#assertOpen();
    checkDkimKeyText(key);
    const { createdAt = new Date(), ...fields } = key;
    const result = await this.#write({ kind: 'addDkimKey', key: fields, createdAt });
    if (result.kind !== 'addDkimKey') throw unexpected(result);
    return result.key;
  }

  async listDkimKeys(domain?: string): Promise<DkimKey[]> {
    this.#assertOpen();
    if (domain !== undefined && !isStorableText(domain)) return [];
    return this.#reads.listDkimKeys(domain);
  }

  async setDkimKeyState(
    id: number,
    state: DkimKeyState,
    options: { retireAfter?: Date; now?: Date; from?: DkimKeyState } = {},
  ): Promise<boolean> {
    const now = options.now ?? new Date();
    const result = await this.#write({
      kind: 'setDkimKeyState',
      keyId: id,
      state,
      now,
      retireAfter: options.retireAfter,
      from: options.from,
    });
    if (result.kind !== 'setDkimKeyState') throw unexpected(result);
    return result.done;
  }

  async activateDkimKey(id: number, options: { now: Date; retireAfter: Date }): Promise<string[] | undefined> {
    const result = await this.#write({ kind: 'activateDkimKey', keyId: id, ...options });
    if (result.kind !== 'activateDkimKey') throw unexpected(result);
    return result.retiring ?? undefined;
  }

  async removeDkimKey(id: number): Promise<boolean> {
    const result = await this.#write({ kind: 'removeDkimKey', keyId: id });
    if (result.kind !== 'removeDkimKey') throw unexpected(result);
    return result.done;
  }

  async enqueueJob(job: NewQueueJob): Promise<QueueJob> {
    this.#assertOpen();
    checkQueueJobText(job);
    const result = await this.#write({ kind: 'enqueueJob', job, now: new Date() });
    if (result.kind !== 'enqueueJob') throw unexpected(result);
    return result.job;
  }

  async listJobs(options: ListJobsOptions = {}): Promise<QueueJob[]> {
    this.#assertOpen();
    checkLimit('listJobs', options.limit ?? 1000);
    if (options.kind !== undefined && !isStorableText(options.kind)) return [];
    return this.#reads.listJobs(options.kind, options.limit ?? 1000, options.withContent ?? true);
  }

  async claimJobs(options: ClaimOptions): Promise<QueueJob[]> {
    checkLimit('claimJobs', options.limit);
    this.#assertOpen();
    checkText('the claimant', options.claimant);
    const result = await this.#write({ kind: 'claimJobs', options: { ...options, now: options.now ?? new Date() } });
    if (result.kind !== 'claimJobs') throw unexpected(result);
    return result.jobs;
  }

  async completeJob(id: number, claimant: string): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(claimant)) return false;
    const result = await this.#write({ kind: 'completeJob', jobId: id, claimant });
    if (result.kind !== 'completeJob') throw unexpected(result);
    return result.done;
  }

  async rescheduleJob(id: number, claimant: string, dueAt: Date): Promise<boolean> {
    this.#assertOpen();
    if (!isStorableText(claimant)) return false;
    const result = await this.#write({ kind: 'rescheduleJob', jobId: id, claimant, dueAt });
    if (result.kind !== 'rescheduleJob') throw unexpected(result);
    return result.done;
  }

  async getJob(id: number): Promise<QueueJob | undefined> {
    this.#assertOpen();
    return this.#reads.getJob(id);
  }

  async countJobs(kind?: string): Promise<number> {
    this.#assertOpen();
    if (kind !== undefined && !isStorableText(kind)) return 0;
    return this.#reads.countJobs(kind);
  }

  async deleteJob(id: number, options: DeleteJobOptions = {}): Promise<JobDeletion> {
    this.#assertOpen();
    if (options.kind !== undefined && !isStorableText(options.kind)) return { outcome: 'missing' };
    const now = options.now ?? new Date();
    const force = options.force === true;
    const result = await this.#write({ kind: 'deleteJob', jobId: id, jobKind: options.kind ?? null, force, now });
    if (result.kind !== 'deleteJob') throw unexpected(result);
    return result.deletion;
  }

  async watchChanges(listener: (change: MailboxChange) => void): Promise<() => void> {
    this.#assertOpen();
    return this.#changes.add(listener);
  }

  async addCounters(deltas: Readonly<Record<string, number>>): Promise<void> {
    this.#assertOpen();
    checkCounterText(deltas);
    const entries = counterEntries(deltas);
    if (entries.length === 0) return;
    const result = await this.#write({ kind: 'addCounters', entries });
    if (result.kind !== 'addCounters') throw unexpected(result);
  }

  async readCounters(prefix: string): Promise<Record<string, number>> {
    this.#assertOpen();
    if (!isStorableText(prefix)) return {};
    return this.#reads.readCounters(prefix);
  }

  async greylist(request: GreylistRequest): Promise<GreylistResult> {
    this.#assertOpen();
    checkGreylistText(request);
    const result = await this.#write({ kind: 'greylist', request });
    if (result.kind !== 'greylist') throw unexpected(result);
    return result.result;
  }

  async quarantine(message: NewQuarantined): Promise<QuarantinedSummary> {
    this.#assertOpen();
    checkQuarantineText(message);
    // Read here, as deliver() does: the writer thread does only what must happen in the transaction.
    const { from, subject } = summarize(message.content);
    const result = await this.#write({
      kind: 'quarantine',
      message: { ...message, content: exactBytes(message.content) },
      header: { from, subject },
    });
    if (result.kind !== 'quarantine') throw unexpected(result);
    return result.summary;
  }

  async listQuarantine(options: { limit?: number; before?: number } = {}): Promise<QuarantinedSummary[]> {
    this.#assertOpen();
    checkLimit('listQuarantine', options.limit ?? DEFAULT_QUARANTINE_LIMIT);
    return this.#quarantineReads.list(options.limit ?? DEFAULT_QUARANTINE_LIMIT, options.before);
  }

  async readQuarantined(id: number): Promise<Quarantined | undefined> {
    this.#assertOpen();
    return this.#quarantineReads.read(id);
  }

  async removeQuarantined(id: number): Promise<boolean> {
    const result = await this.#write({ kind: 'removeQuarantined', quarantineId: id });
    if (result.kind !== 'removeQuarantined') throw unexpected(result);
    return result.done;
  }

  async expireQuarantine(before: Date, limit: number): Promise<number> {
    this.#assertOpen();
    checkLimit('expireQuarantine', limit);
    const result = await this.#write({ kind: 'expireQuarantine', before, limit });
    if (result.kind !== 'expireQuarantine') throw unexpected(result);
    return result.removed;
  }

  async releaseQuarantined(id: number, release: QuarantineRelease): Promise<ReleasedQuarantine | undefined> {
    this.#assertOpen();
    const { delivery, job } = release;
    if (job) checkQueueJobText(job);
    const deliver = delivery && this.#stored(delivery);
    const result = await this.#write({
      kind: 'releaseQuarantined',
      quarantineId: id,
      ...(deliver ? { deliver } : {}),
      ...(job ? { job } : {}),
      now: new Date(),
    });
    if (result.kind !== 'releaseQuarantined') throw unexpected(result);
    if (!result.released) return undefined;
    const receipt = result.stored && deliver && this.#announce(receiptOf(result.stored, deliver));
    return { ...(receipt ? { receipt } : {}), ...(result.job ? { job: result.job } : {}) };
  }

  async senderHistory(address: string): Promise<SenderHistory> {
    this.#assertOpen();
    if (!isStorableText(address)) return { messages: 0, firstSeen: null };
    return this.#quarantineReads.senderHistory(address);
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
    return this.#quarantineReads.frequentCorrespondents(options.minMessages, options.limit, options.seenSince);
  }

  /** Refuses new calls at once, lets every write already asked for commit, then closes. */
  close(): Promise<void> {
    if (this.#closing) return Promise.reject(new StoreClosedError('the store is closed'));
    this.#closing = this.#senders
      .drain()
      .then(() => this.#writer.close())
      .finally(() => this.#readConnection.close());
    return this.#closing;
  }

  /** Kills the writer thread as a crash would; pending and later writes reject. For failure tests. */
  simulateWriterCrash(): Promise<void> {
    return this.#writer.crash();
  }

  #write(command: WriteCommand): Promise<WriteSuccess> {
    if (this.#closing) return Promise.reject(new StoreClosedError('the store is closed'));
    return this.#writer.write(command);
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreClosedError('the store is closed');
  }
}

/**
 * The hand-over to the writer thread clones the bytes. A clone copies a view's whole ArrayBuffer (a
 * pooled Buffer's is 8 KiB), so a view gets an exact copy first. Transferring instead measured slower.
 */
/** Below this a copy costs less than the bookkeeping of a transfer. */
const MOVE_AT = 64 * 1024;

function exactBytes(content: Uint8Array): Uint8Array {
  return content.byteOffset === 0 && content.byteLength === content.buffer.byteLength
    ? content
    : new Uint8Array(content);
}

function unexpected(result: WriteSuccess): StoreError {
  return new StoreError(`the writer answered a different request (${result.kind})`);
}
