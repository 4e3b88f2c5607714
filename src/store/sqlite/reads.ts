/**
 * The reads of the SQLite engine, on the main thread's own connection. WAL lets them run while the
 * writer thread commits; each statement sees the last commit made before it started.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { accountFromRow, countersFromRows, mailboxFromRow, mailboxMessageFromRow } from '../rows.ts';
import type { Account, AccountId, Mailbox, MailboxId, MailboxMessage } from '../store.ts';

export class SqliteReader {
  readonly #findAccount: StatementSync;
  readonly #listAccounts: StatementSync;
  readonly #getMailbox: StatementSync;
  readonly #listMessages: StatementSync;
  readonly #readMessage: StatementSync;
  readonly #readCounters: StatementSync;

  constructor(db: DatabaseSync) {
    const accountColumns = 'id, address, password_hash, created_at';
    this.#findAccount = db.prepare(`SELECT ${accountColumns} FROM accounts WHERE address = ?`);
    this.#listAccounts = db.prepare(`SELECT ${accountColumns} FROM accounts ORDER BY address`);
    this.#getMailbox = db.prepare(
      `SELECT id, account_id, name, uid_validity, uid_next, highest_modseq,
         (SELECT count(*) FROM mailbox_messages WHERE mailbox_id = mailboxes.id) AS message_count
       FROM mailboxes WHERE account_id = ? AND name = ?`,
    );
    this.#listMessages = db.prepare(
      `SELECT mm.uid, mm.modseq, mm.flags, mm.internal_date, m.size,
         m.header_from, m.header_subject, m.header_date, m.header_message_id
       FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = ? ORDER BY mm.uid`,
    );
    this.#readMessage = db.prepare(
      `SELECT m.content FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.mailbox_id = ? AND mm.uid = ?`,
    );
    // substr, not LIKE: LIKE would read `_` and `%` in the prefix as wildcards, and ignores ASCII case.
    this.#readCounters = db.prepare(
      'SELECT name, value FROM counters WHERE substr(name, 1, length(:prefix)) = :prefix ORDER BY name',
    );
    // Mod-sequences are 63-bit (RFC 7162 §3.1.1): read them as BigInt, never rounded.
    this.#getMailbox.setReadBigInts(true);
    this.#listMessages.setReadBigInts(true);
  }

  findAccount(address: string): Account | undefined {
    const row = this.#findAccount.get(address);
    return row ? accountFromRow(row) : undefined;
  }

  listAccounts(): Account[] {
    return this.#listAccounts.all().map(accountFromRow);
  }

  getMailbox(accountId: AccountId, name: string): Mailbox | undefined {
    const row = this.#getMailbox.get(accountId, name);
    return row ? mailboxFromRow(row) : undefined;
  }

  listMessages(mailboxId: MailboxId): MailboxMessage[] {
    return this.#listMessages.all(mailboxId).map(mailboxMessageFromRow);
  }

  readMessage(mailboxId: MailboxId, uid: number): Uint8Array | undefined {
    const row = this.#readMessage.get(mailboxId, uid);
    return row ? (row.content as Uint8Array) : undefined;
  }

  readCounters(prefix: string): Record<string, number> {
    return countersFromRows(this.#readCounters.all({ prefix }));
  }
}
