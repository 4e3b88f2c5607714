/**
 * The writes of the SQLite engine, run by the writer thread on its own connection.
 *
 * A batch of requests is written in ONE transaction, so one fsync covers all of them (group commit).
 * Each request but a delivery runs inside its own SAVEPOINT: a request that fails (an address
 * already taken) is rolled back alone and the others still commit. A delivery needs none: the one
 * failure it reports (no recipient account left) is found before it writes anything, and any other
 * error it meets is SQLite's own, which fails the whole batch. That spares the savepoint's two
 * statements and its copies of every page the delivery touches, for each stored message.
 */

import path from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { JUNK_MAILBOX, JUNK_SPECIAL_USE } from '../delivery-targets.ts';
import { JOB_COLUMNS, jobFromRow } from '../rows.ts';
import type { ClaimOptions, JobDeletion, NewQueueJob, QueueJob } from '../store.ts';
import { SqliteAccounts } from './accounts.ts';
import { SqliteCounters } from './counters.ts';
import { SqliteDkimKeys } from './dkim-keys.ts';
import { fullFileSystem } from './full-file-system.ts';
import { SqliteGreylist } from './greylist.ts';
import { SqliteLoginFailures } from './login-failures.ts';
import type { StoredDelivery, StoredReceipt, WriteRequest, WriteResult } from './protocol.ts';
import { SqliteQuarantineWrites } from './quarantine.ts';
import { RequestFailure } from './request-failure.ts';
import { primaryResultCode, SQLITE_BUSY, SQLITE_CORRUPT, SQLITE_IOERR, SQLITE_NOTADB } from './result-codes.ts';

export class SqliteWriter {
  readonly #db: DatabaseSync;
  /** The data directory, whose file system a "database or disk is full" is about. */
  readonly #dir: string;
  readonly #findMailbox: StatementSync;
  readonly #accountExists: StatementSync;
  readonly #insertMessage: StatementSync;
  readonly #insertSecret: StatementSync;
  readonly #readSecret: StatementSync;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackTo: StatementSync;
  readonly #readCounters: StatementSync;
  readonly #writeCounters: StatementSync;
  /** UIDNEXT and HIGHESTMODSEQ of the mailboxes this transaction delivers to, written back before others look. */
  readonly #counters = new Map<number, { uidNext: number; modseq: bigint }>();
  /**
   * Mailbox ids by account and name, for this transaction's deliveries: a batch mostly delivers to a
   * few mailboxes. Any other request may remove or create mailboxes, so the map is emptied after it.
   */
  readonly #mailboxIds = new Map<string, number>();
  readonly #insertPlacement: StatementSync;
  readonly #insertJob: StatementSync;
  readonly #claimJobs: StatementSync;
  readonly #completeJob: StatementSync;
  readonly #rescheduleJob: StatementSync;
  readonly #deleteJob: StatementSync;
  readonly #jobLease: StatementSync;
  readonly #statistics: SqliteCounters;
  readonly #greylist: SqliteGreylist;
  readonly #accounts: SqliteAccounts;
  readonly #loginFailures: SqliteLoginFailures;
  readonly #dkimKeys: SqliteDkimKeys;
  readonly #quarantine: SqliteQuarantineWrites;
  /** An SQLITE_IOERR met on this connection: a "malformed" after it is what the disk did, not the file. */
  #ioError = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#dir = path.dirname(db.location() ?? '.');
    this.#statistics = new SqliteCounters(db);
    this.#greylist = new SqliteGreylist(db);
    this.#accounts = new SqliteAccounts(db);
    this.#loginFailures = new SqliteLoginFailures(db);
    this.#dkimKeys = new SqliteDkimKeys(db);
    this.#quarantine = new SqliteQuarantineWrites(db);
    this.#findMailbox = db.prepare('SELECT id FROM mailboxes WHERE account_id = ? AND name = ?');
    this.#accountExists = db.prepare('SELECT 1 FROM accounts WHERE id = ?');
    this.#insertMessage = db.prepare(
      `INSERT INTO messages (content, size, header_from, header_subject, header_date, header_message_id,
         mail_from, recipients, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Prepared once: a transaction per batch and a savepoint per request must not cost an SQL parse each.
    this.#insertSecret = db.prepare('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
    this.#readSecret = db.prepare('SELECT value FROM secrets WHERE name = ?');
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#savepoint = db.prepare('SAVEPOINT request');
    this.#release = db.prepare('RELEASE request');
    this.#rollbackTo = db.prepare('ROLLBACK TO request');
    // One read and one write of a mailbox's counters per transaction, not an UPDATE per message: a
    // batch often delivers several messages to one mailbox, and each UPDATE costs a statement and
    // dirties the mailboxes page again.
    this.#readCounters = db.prepare('SELECT uid_next, highest_modseq FROM mailboxes WHERE id = ?');
    this.#readCounters.setReadBigInts(true); // mod-sequences are 63-bit, RFC 7162 §3.1.1
    this.#writeCounters = db.prepare('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?');
    this.#insertPlacement = db.prepare(
      `INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, flags, internal_date)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#insertJob = db.prepare(
      `INSERT INTO queue (kind, payload, due_at, attempts, created_at) VALUES (?, ?, ?, 0, ?) RETURNING ${JOB_COLUMNS}`,
    );
    // One writer per database: the UPDATE is the claim, no other process can take the same rows.
    this.#claimJobs = db.prepare(
      `UPDATE queue SET claimed_by = :claimant, claimed_until = :until, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM queue
         WHERE due_at <= :now AND (claimed_until IS NULL OR claimed_until <= :now)
         ORDER BY due_at, id LIMIT :limit)
       RETURNING ${JOB_COLUMNS}`,
    );
    this.#completeJob = db.prepare('DELETE FROM queue WHERE id = ? AND claimed_by = ? AND claimed_until > ?');
    this.#rescheduleJob = db.prepare(
      `UPDATE queue SET due_at = ?, claimed_by = NULL, claimed_until = NULL
       WHERE id = ? AND claimed_by = ? AND claimed_until > ?`,
    );
    // A live lease is what claimJobs passes over: claimed_until after now.
    this.#deleteJob = db.prepare(
      `DELETE FROM queue WHERE id = :id AND (:kind IS NULL OR kind = :kind)
         AND (:force OR claimed_until IS NULL OR claimed_until <= :now)`,
    );
    this.#jobLease = db.prepare(
      'SELECT claimed_by, claimed_until FROM queue WHERE id = :id AND (:kind IS NULL OR kind = :kind)',
    );
  }

  /**
   * Writes every request in one transaction. BEGIN IMMEDIATE takes the write lock up front, so a
   * competing process (the CLI) makes us wait for busy_timeout instead of failing mid-transaction.
   * If the transaction cannot start or commit, every request in it fails: none is acknowledged.
   */
  writeBatch(
    requests: readonly WriteRequest[],
    beforeCommit?: () => string | undefined,
  ): { committed: boolean; results: WriteResult[]; broken?: string } {
    let lost: string | undefined;
    try {
      this.#begin.run();
      const results = requests.map((request) => {
        if (request.kind === 'deliver') return this.#deliverUnguarded(request);
        // Any other request may read or change a mailbox: it sees the counters as they are.
        this.#writeBackCounters();
        const result = this.#writeOne(request);
        // It may have removed mailboxes, or made a Junk that its savepoint's rollback then undid.
        this.#mailboxIds.clear();
        return result;
      });
      this.#writeBackCounters();
      this.#mailboxIds.clear();
      // A file taken away under us (see file-identity.ts): rolled back, so nothing of this batch
      // reaches a WAL that the close would still fold into the database.
      lost = beforeCommit?.();
      if (lost !== undefined) throw new Error(lost);
      this.#commit.run();
      return { committed: true, results };
    } catch (error) {
      this.#counters.clear();
      this.#mailboxIds.clear();
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      const full = fullFileSystem(error, this.#dir);
      const why = full !== undefined ? `: ${full}` : isBusy(error) ? ` (${BUSY_NOTE})` : '';
      const message = `write transaction failed: ${describe(error)}${why}`;
      const failure = full !== undefined ? 'storage-full' : 'unavailable';
      if (primaryResultCode(error) === SQLITE_IOERR) this.#ioError = true;
      return {
        committed: false,
        results: requests.map((request) => ({ id: request.id, ok: false, failure, message })),
        ...(lost !== undefined
          ? { broken: lost }
          : isCorrupt(error)
            ? { broken: corruption(error, this.#ioError) }
            : {}),
      };
    }
  }

  /** A delivery outside a savepoint (see the top of this file); an SQLite error goes up and fails the batch. */
  #deliverUnguarded(request: Extract<WriteRequest, { kind: 'deliver' }>): WriteResult {
    try {
      return { id: request.id, ok: true, kind: 'deliver', ...this.#deliver(request) };
    } catch (error) {
      if (!(error instanceof RequestFailure)) throw error;
      return { id: request.id, ok: false, failure: error.failure, message: error.message };
    }
  }

  #writeOne(request: WriteRequest): WriteResult {
    this.#savepoint.run();
    try {
      const result = this.#apply(request);
      this.#release.run();
      return result;
    } catch (error) {
      this.#rollbackTo.run();
      this.#release.run();
      if (error instanceof RequestFailure) {
        return { id: request.id, ok: false, failure: error.failure, message: error.message };
      }
      const full = fullFileSystem(error, this.#dir);
      if (full !== undefined)
        return { id: request.id, ok: false, failure: 'storage-full', message: `${describe(error)}: ${full}` };
      return { id: request.id, ok: false, failure: 'unavailable', message: describe(error) };
    }
  }

  #apply(request: WriteRequest): WriteResult {
    switch (request.kind) {
      case 'deliver':
        return { id: request.id, ok: true, kind: 'deliver', ...this.#deliver(request) };
      case 'createAccount': {
        const { address, passwordHash, scram, createdAt } = request;
        const account = this.#accounts.create(address, passwordHash, scram, createdAt);
        return { id: request.id, ok: true, kind: 'createAccount', account };
      }
      case 'removeAccount':
        return {
          id: request.id,
          ok: true,
          kind: 'removeAccount',
          ...this.#accounts.remove(request.address, request.limit),
        };
      case 'setPassword': {
        const done = this.#accounts.setPassword(request.address, request.passwordHash, request.scram);
        return { id: request.id, ok: true, kind: 'setPassword', done };
      }
      case 'setDisabled': {
        const done = this.#accounts.setDisabled(request.address, request.disabled);
        return { id: request.id, ok: true, kind: 'setDisabled', done };
      }
      case 'addAlias':
        this.#accounts.addAlias(request.alias, request.account, request.createdAt);
        return { id: request.id, ok: true, kind: 'addAlias' };
      case 'removeAlias':
        return { id: request.id, ok: true, kind: 'removeAlias', done: this.#accounts.removeAlias(request.alias) };
      case 'recordLoginFailure': {
        const record = this.#loginFailures.record(request.key, request.options);
        return { id: request.id, ok: true, kind: 'recordLoginFailure', record };
      }
      case 'clearLoginFailures':
        this.#loginFailures.clear(request.key);
        return { id: request.id, ok: true, kind: 'clearLoginFailures' };
      case 'secret': {
        // The first caller's candidate is kept; every later one (another process included) reads it.
        this.#insertSecret.run(request.name, request.candidate);
        const row = this.#readSecret.get(request.name) as { value: Uint8Array };
        return { id: request.id, ok: true, kind: 'secret', value: row.value };
      }
      case 'enqueueJob':
        return { id: request.id, ok: true, kind: 'enqueueJob', job: this.#enqueueJob(request.job, request.now) };
      case 'claimJobs':
        return { id: request.id, ok: true, kind: 'claimJobs', jobs: this.#claim(request.options) };
      case 'completeJob': {
        const done = this.#completeJob.run(request.jobId, request.claimant, Date.now()).changes > 0;
        return { id: request.id, ok: true, kind: 'completeJob', done };
      }
      case 'rescheduleJob': {
        const { jobId, claimant, dueAt } = request;
        const done = this.#rescheduleJob.run(dueAt.getTime(), jobId, claimant, Date.now()).changes > 0;
        return { id: request.id, ok: true, kind: 'rescheduleJob', done };
      }
      case 'deleteJob':
        return { id: request.id, ok: true, kind: 'deleteJob', deletion: this.#deleteJobOf(request) };
      case 'addCounters':
        this.#statistics.add(request.entries);
        return { id: request.id, ok: true, kind: 'addCounters' };
      case 'greylist':
        return { id: request.id, ok: true, kind: 'greylist', result: this.#greylist.decide(request.request) };
      case 'addDkimKey':
        return {
          id: request.id,
          ok: true,
          kind: 'addDkimKey',
          key: this.#dkimKeys.add(request.key, request.createdAt),
        };
      case 'setDkimKeyState': {
        const { keyId, state, now, retireAfter, from } = request;
        const done = this.#dkimKeys.setState(keyId, state, now, retireAfter, from);
        return { id: request.id, ok: true, kind: 'setDkimKeyState', done };
      }
      case 'activateDkimKey': {
        const retiring = this.#dkimKeys.activate(request.keyId, request.now, request.retireAfter) ?? null;
        return { id: request.id, ok: true, kind: 'activateDkimKey', retiring };
      }
      case 'removeDkimKey':
        return { id: request.id, ok: true, kind: 'removeDkimKey', done: this.#dkimKeys.remove(request.keyId) };
      case 'quarantine': {
        const summary = this.#quarantine.quarantine(request.message, request.header);
        return { id: request.id, ok: true, kind: 'quarantine', summary };
      }
      case 'removeQuarantined': {
        const done = this.#quarantine.remove(request.quarantineId);
        return { id: request.id, ok: true, kind: 'removeQuarantined', done };
      }
      case 'expireQuarantine': {
        const removed = this.#quarantine.expire(request.before, request.limit);
        return { id: request.id, ok: true, kind: 'expireQuarantine', removed };
      }
      case 'releaseQuarantined':
        return { id: request.id, ok: true, kind: 'releaseQuarantined', ...this.#releaseQuarantined(request) };
      case 'recordSenders':
        return { id: request.id, ok: true, kind: 'recordSenders', swept: this.#quarantine.countSenders(request.batch) };
      default:
        return request satisfies never;
    }
  }

  /**
   * Stores the content once and places it in the target mailbox (INBOX or Junk) of each distinct
   * recipient account, with the delivery's keywords as its flags. Accounts removed since RCPT TO
   * are skipped, and the receipt shows who got the message; with no account left it fails.
   */
  #deliver(delivery: StoredDelivery): StoredReceipt {
    const boxes: number[] = []; // [account, mailbox] pairs
    delivery.accountIds.forEach((accountId, index) => {
      const mailboxId = this.#mailboxFor(accountId, delivery.mailboxes[index] ?? 'INBOX');
      if (mailboxId !== undefined) boxes.push(accountId, mailboxId);
    });
    if (boxes.length === 0) {
      throw new RequestFailure('no-recipient-account', 'none of the recipient accounts exists any more');
    }
    const { content, receivedAt, flags } = delivery;
    const messageId = Number(
      this.#insertMessage.run(
        content,
        content.byteLength,
        delivery.from,
        delivery.subject,
        delivery.date,
        delivery.messageId,
        delivery.mailFrom,
        JSON.stringify(delivery.recipients),
        receivedAt,
      ).lastInsertRowid,
    );
    const placed: number[] = [];
    for (let i = 0; i < boxes.length; i += 2) {
      const [accountId, mailboxId] = [boxes[i] as number, boxes[i + 1] as number];
      const { uid, modseq } = this.#allocate(mailboxId);
      // RFC 9051 §2.3.3: the internal date of a message received by SMTP is when it was received.
      this.#insertPlacement.run(mailboxId, uid, messageId, modseq, flags, receivedAt);
      placed.push(accountId, mailboxId, uid);
    }
    return { messageId, placed };
  }

  /**
   * Store.releaseQuarantined: removal, job and delivery in this request's savepoint, so they commit
   * together or not at all. A delivery whose accounts are all gone leaves the job to commit; with no
   * job either, the failure rolls everything back and the entry stays.
   */
  #releaseQuarantined(request: Extract<WriteRequest, { kind: 'releaseQuarantined' }>): {
    released: boolean;
    stored?: StoredReceipt;
    job?: QueueJob;
  } {
    if (!this.#quarantine.remove(request.quarantineId)) return { released: false };
    const job = request.job ? this.#enqueueJob(request.job, request.now) : undefined;
    if (!request.deliver) return { released: true, ...(job ? { job } : {}) };
    try {
      return { released: true, stored: this.#deliver(request.deliver), ...(job ? { job } : {}) };
    } catch (error) {
      if (!job || !(error instanceof RequestFailure) || error.failure !== 'no-recipient-account') throw error;
      return { released: true, job };
    }
  }

  /**
   * RFC 9051 §2.3.1.1: the new message takes UIDNEXT, and UIDNEXT grows. RFC 7162 §3.1.1: every
   * change gets a mod-sequence higher than any before it in the mailbox. A request rolled back to its
   * savepoint leaves its numbers unused: UIDs need not be contiguous (RFC 9051 §2.3.1.1), only ascending.
   */
  #allocate(mailboxId: number): { uid: number; modseq: bigint } {
    let counters = this.#counters.get(mailboxId);
    if (counters === undefined) {
      const row = this.#readCounters.get(mailboxId);
      if (!row) throw new Error(`mailbox ${mailboxId} vanished inside the transaction`);
      counters = { uidNext: Number(row.uid_next), modseq: row.highest_modseq as bigint };
      this.#counters.set(mailboxId, counters);
    }
    const uid = counters.uidNext++;
    counters.modseq += 1n;
    return { uid, modseq: counters.modseq };
  }

  #writeBackCounters(): void {
    for (const [mailboxId, { uidNext, modseq }] of this.#counters) this.#writeCounters.run(uidNext, modseq, mailboxId);
    this.#counters.clear();
  }

  /**
   * The id of the account's mailbox `name`; Junk is created when the account has none yet (RFC
   * 6154 §2 `\Junk`). Undefined when the account is gone. The savepoint around the request undoes
   * a creation if the delivery fails later.
   */
  #mailboxFor(accountId: number, name: string): number | undefined {
    const key = `${accountId} ${name}`;
    const known = this.#mailboxIds.get(key);
    if (known !== undefined) return known;
    const row = this.#findMailbox.get(accountId, name);
    let id: number | undefined;
    if (row) id = Number(row.id);
    else if (name === JUNK_MAILBOX && this.#accountExists.get(accountId)) {
      id = this.#accounts.createMailbox(accountId, JUNK_MAILBOX, JUNK_SPECIAL_USE);
    }
    if (id !== undefined) this.#mailboxIds.set(key, id);
    return id;
  }

  /** Store.deleteJob: the removal and, when it did not happen, why, in this request's transaction. */
  #deleteJobOf(request: Extract<WriteRequest, { kind: 'deleteJob' }>): JobDeletion {
    const { jobId, jobKind, force, now } = request;
    if (this.#deleteJob.run({ id: jobId, kind: jobKind, force: force ? 1 : 0, now: now.getTime() }).changes > 0)
      return { outcome: 'deleted' };
    const row = this.#jobLease.get({ id: jobId, kind: jobKind });
    if (!row) return { outcome: 'missing' };
    return {
      outcome: 'leased',
      claimedBy: row.claimed_by == null ? null : String(row.claimed_by),
      claimedUntil: new Date(Number(row.claimed_until)),
    };
  }

  #enqueueJob(job: NewQueueJob, now: Date): QueueJob {
    const row = this.#insertJob.get(job.kind, job.payload, (job.dueAt ?? now).getTime(), now.getTime());
    if (!row) throw new Error('INSERT … RETURNING gave no row');
    return jobFromRow(row);
  }

  #claim(options: ClaimOptions & { now: Date }): QueueJob[] {
    const now = options.now.getTime();
    const rows = this.#claimJobs.all({
      claimant: options.claimant,
      until: now + options.leaseMs,
      now,
      limit: options.limit,
    });
    return rows.map(jobFromRow).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.id - b.id);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Corrupt or not a database: no retry will store mail in this file, unlike a full disk or a held lock. */
function isCorrupt(error: unknown): boolean {
  const code = primaryResultCode(error);
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}

/**
 * What a corrupt-looking database is said to be. After a disk I/O error, SQLite reads pages the disk did
 * not give back (or a cache the failed write left behind) and calls the database malformed, while the
 * file may well pass PRAGMA integrity_check once the disk is back: a backup restored on that word would
 * lose every message acknowledged since it was made.
 */
function corruption(error: unknown, afterIoError: boolean): string {
  if (!afterIoError) return `the database is corrupt (${describe(error)})`;
  return (
    `the database cannot be read after a disk I/O error (${describe(error)}): check the file system ` +
    '(dmesg) and run PRAGMA integrity_check before restoring anything'
  );
}

const BUSY_NOTE = 'another process holds the write lock: a postern serve, a postern command or a sqlite3 shell';

/** SQLITE_BUSY past busy_timeout: the lock is another connection's, which the message should say. */
function isBusy(error: unknown): boolean {
  return primaryResultCode(error) === SQLITE_BUSY;
}
