/**
 * The reads of the SQLite engine, on the main thread's own connection. WAL lets them run while the
 * writer thread commits; each statement sees the last commit made before it started.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Account, AccountId, Mailbox, MailboxId, MailboxMessage } from '../store.ts';

type Row = Record<string, unknown>;

export class SqliteReader {
  readonly #findAccount: StatementSync;
  readonly #listAccounts: StatementSync;
  readonly #getMailbox: StatementSync;
  readonly #listMessages: StatementSync;
  readonly #readMessage: StatementSync;

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
    // Mod-sequences are 63-bit (RFC 7162 §3.1.1): read them as BigInt, never rounded.
    this.#getMailbox.setReadBigInts(true);
    this.#listMessages.setReadBigInts(true);
  }

  findAccount(address: string): Account | undefined {
    const row = this.#findAccount.get(address);
    return row ? toAccount(row) : undefined;
  }

  listAccounts(): Account[] {
    return this.#listAccounts.all().map(toAccount);
  }

  getMailbox(accountId: AccountId, name: string): Mailbox | undefined {
    const row = this.#getMailbox.get(accountId, name);
    if (!row) return undefined;
    return {
      id: Number(row.id),
      accountId: Number(row.account_id),
      name: String(row.name),
      uidValidity: Number(row.uid_validity),
      uidNext: Number(row.uid_next),
      highestModSeq: BigInt(row.highest_modseq as bigint),
      messageCount: Number(row.message_count),
    };
  }

  listMessages(mailboxId: MailboxId): MailboxMessage[] {
    return this.#listMessages.all(mailboxId).map((row) => ({
      uid: Number(row.uid),
      modSeq: BigInt(row.modseq as bigint),
      flags: String(row.flags).split(' ').filter(Boolean), // flags are atoms: no spaces (RFC 9051 §9)
      internalDate: new Date(Number(row.internal_date)),
      size: Number(row.size),
      summary: {
        from: String(row.header_from),
        subject: String(row.header_subject),
        date: row.header_date === null ? null : new Date(Number(row.header_date)),
        messageId: row.header_message_id === null ? null : String(row.header_message_id),
      },
    }));
  }

  readMessage(mailboxId: MailboxId, uid: number): Uint8Array | undefined {
    const row = this.#readMessage.get(mailboxId, uid);
    return row ? (row.content as Uint8Array) : undefined;
  }
}

function toAccount(row: Row): Account {
  return {
    id: Number(row.id),
    address: String(row.address),
    passwordHash: String(row.password_hash),
    createdAt: new Date(Number(row.created_at)),
  };
}
