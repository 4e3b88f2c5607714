/**
 * The reads of the SQLite engine, on the main thread's own connection. WAL lets them run while the
 * writer thread commits; each statement sees the last commit made before it started.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { activeBlock } from '../login-failures.ts';
import {
  ACCOUNT_COLUMNS,
  accountFromRow,
  aliasFromRow,
  countersFromRows,
  DKIM_KEY_COLUMNS,
  dkimKeyFromRow,
  JOB_COLUMNS,
  jobFromRow,
  MAILBOX_COLUMNS,
  mailboxFromRow,
  mailboxMessageFromRow,
  SQLITE_JOB_SUMMARY_COLUMNS,
} from '../rows.ts';
import type { Account, AccountId, Alias, DkimKey, Mailbox, MailboxId, MailboxMessage, QueueJob } from '../store.ts';

export class SqliteReader {
  readonly #findAccount: StatementSync;
  readonly #listAccounts: StatementSync;
  readonly #anyAccount: StatementSync;
  readonly #resolveAddress: StatementSync;
  readonly #listAliases: StatementSync;
  readonly #listAccountAliases: StatementSync;
  readonly #loginBlockedUntil: StatementSync;
  readonly #getMailbox: StatementSync;
  readonly #listMailboxes: StatementSync;
  readonly #listMessages: StatementSync;
  readonly #readMessage: StatementSync;
  readonly #listJobs: StatementSync;
  readonly #listJobsOfKind: StatementSync;
  readonly #listJobSummaries: StatementSync;
  readonly #listJobSummariesOfKind: StatementSync;
  readonly #getJob: StatementSync;
  readonly #countJobs: StatementSync;
  readonly #countJobsOfKind: StatementSync;
  readonly #readCounters: StatementSync;
  readonly #listDkimKeys: StatementSync;
  readonly #listDomainDkimKeys: StatementSync;

  constructor(db: DatabaseSync) {
    this.#findAccount = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = ?`);
    this.#listAccounts = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address`);
    this.#anyAccount = db.prepare('SELECT 1 FROM accounts LIMIT 1');
    // An account's own address first; an address is never both (the writer checks).
    this.#resolveAddress = db.prepare(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = coalesce(
         (SELECT id FROM accounts WHERE address = :address),
         (SELECT account_id FROM aliases WHERE address = :address))`,
    );
    const aliases =
      'SELECT al.address AS alias, a.address AS account FROM aliases al JOIN accounts a ON a.id = al.account_id';
    this.#listAliases = db.prepare(`${aliases} ORDER BY al.address`);
    this.#listAccountAliases = db.prepare(`${aliases} WHERE a.address = ? ORDER BY al.address`);
    this.#loginBlockedUntil = db.prepare('SELECT blocked_until FROM login_failures WHERE key = ?');
    this.#getMailbox = db.prepare(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? AND name = ?`);
    // Names compare bytewise (SQLite's BINARY collation), as PostgreSQL's COLLATE "C".
    this.#listMailboxes = db.prepare(
      `SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? ORDER BY name <> 'INBOX', name`,
    );
    this.#listMessages = db.prepare(
      `SELECT mm.uid, mm.modseq, mm.flags, mm.internal_date, m.size,
         m.header_from, m.header_subject, m.header_date, m.header_message_id
       FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = ? ORDER BY mm.uid`,
    );
    this.#listJobs = db.prepare(`SELECT ${JOB_COLUMNS} FROM queue ORDER BY due_at, id LIMIT ?`);
    this.#listJobsOfKind = db.prepare(`SELECT ${JOB_COLUMNS} FROM queue WHERE kind = ? ORDER BY due_at, id LIMIT ?`);
    this.#listJobSummaries = db.prepare(`SELECT ${SQLITE_JOB_SUMMARY_COLUMNS} FROM queue ORDER BY due_at, id LIMIT ?`);
    this.#listJobSummariesOfKind = db.prepare(
      `SELECT ${SQLITE_JOB_SUMMARY_COLUMNS} FROM queue WHERE kind = ? ORDER BY due_at, id LIMIT ?`,
    );
    this.#getJob = db.prepare(`SELECT ${JOB_COLUMNS} FROM queue WHERE id = ?`);
    this.#countJobs = db.prepare('SELECT count(*) AS n FROM queue');
    this.#countJobsOfKind = db.prepare('SELECT count(*) AS n FROM queue WHERE kind = ?');
    this.#readMessage = db.prepare(
      `SELECT m.content FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = ? AND mm.uid = ?`,
    );
    // substr, not LIKE: LIKE would read `_` and `%` in the prefix as wildcards, and ignores ASCII case.
    this.#readCounters = db.prepare(
      'SELECT name, value FROM counters WHERE substr(name, 1, length(:prefix)) = :prefix ORDER BY name',
    );
    this.#listDkimKeys = db.prepare(`SELECT ${DKIM_KEY_COLUMNS} FROM dkim_keys ORDER BY created_at, id`);
    this.#listDomainDkimKeys = db.prepare(
      `SELECT ${DKIM_KEY_COLUMNS} FROM dkim_keys WHERE domain = ? ORDER BY created_at, id`,
    );
    // Mod-sequences are 63-bit (RFC 7162 §3.1.1): read them as BigInt, never rounded.
    this.#getMailbox.setReadBigInts(true);
    this.#listMailboxes.setReadBigInts(true);
    this.#listMessages.setReadBigInts(true);
  }

  findAccount(address: string): Account | undefined {
    const row = this.#findAccount.get(address);
    return row ? accountFromRow(row) : undefined;
  }

  hasAccounts(): boolean {
    return this.#anyAccount.get() !== undefined;
  }

  listAccounts(): Account[] {
    return this.#listAccounts.all().map(accountFromRow);
  }

  resolveAddress(address: string): Account | undefined {
    const row = this.#resolveAddress.get({ address });
    return row ? accountFromRow(row) : undefined;
  }

  listAliases(accountAddress?: string): Alias[] {
    const rows = accountAddress === undefined ? this.#listAliases.all() : this.#listAccountAliases.all(accountAddress);
    return rows.map(aliasFromRow);
  }

  loginBlockedUntil(key: string, now: Date): Date | null {
    const blockedUntil = this.#loginBlockedUntil.get(key)?.blocked_until;
    return activeBlock(blockedUntil == null ? null : Number(blockedUntil), now);
  }

  getMailbox(accountId: AccountId, name: string): Mailbox | undefined {
    const row = this.#getMailbox.get(accountId, name);
    return row ? mailboxFromRow(row) : undefined;
  }

  listMailboxes(accountId: AccountId): Mailbox[] {
    return this.#listMailboxes.all(accountId).map(mailboxFromRow);
  }

  listMessages(mailboxId: MailboxId): MailboxMessage[] {
    return this.#listMessages.all(mailboxId).map(mailboxMessageFromRow);
  }

  readMessage(mailboxId: MailboxId, uid: number): Uint8Array | undefined {
    const row = this.#readMessage.get(mailboxId, uid);
    return row ? (row.content as Uint8Array) : undefined;
  }

  listJobs(kind: string | undefined, limit: number, withContent: boolean): QueueJob[] {
    const [all, ofKind] = withContent
      ? [this.#listJobs, this.#listJobsOfKind]
      : [this.#listJobSummaries, this.#listJobSummariesOfKind];
    const rows = kind === undefined ? all.all(limit) : ofKind.all(kind, limit);
    return rows.map(jobFromRow);
  }

  getJob(id: number): QueueJob | undefined {
    const row = this.#getJob.get(id);
    return row ? jobFromRow(row) : undefined;
  }

  countJobs(kind: string | undefined): number {
    const row = kind === undefined ? this.#countJobs.get() : this.#countJobsOfKind.get(kind);
    return Number(row?.n ?? 0);
  }

  readCounters(prefix: string): Record<string, number> {
    return countersFromRows(this.#readCounters.all({ prefix }));
  }

  listDkimKeys(domain: string | undefined): DkimKey[] {
    const rows = domain === undefined ? this.#listDkimKeys.all() : this.#listDomainDkimKeys.all(domain);
    return rows.map(dkimKeyFromRow);
  }
}
