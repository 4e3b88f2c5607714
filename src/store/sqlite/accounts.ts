/**
 * Account and alias writes on SQLite, run by the writer thread inside a batch transaction. One
 * writer per database file makes each check-then-write atomic: an address is an account's or an
 * alias's, never both, whichever process (server or CLI) writes it.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { accountLoginKey } from '../login-failures.ts';
import type { Account } from '../store.ts';
import { RequestFailure } from './request-failure.ts';

export const UID_VALIDITY_COUNTER = 'uid_validity';
export const MAX_UID_VALIDITY = 0xffff_ffff; // a 32-bit nz-number, RFC 9051 §2.3.1.1

export class SqliteAccounts {
  readonly #findAccountId: StatementSync;
  readonly #findAliasOwner: StatementSync;
  readonly #insertAccount: StatementSync;
  readonly #readCounter: StatementSync;
  readonly #writeCounter: StatementSync;
  readonly #insertMailbox: StatementSync;
  readonly #deleteAccount: StatementSync;
  readonly #pruneMail: StatementSync;
  readonly #deleteIfUnheld: StatementSync;
  readonly #deleteLoginFailures: StatementSync;
  readonly #setPassword: StatementSync;
  readonly #setDisabled: StatementSync;
  readonly #insertAlias: StatementSync;
  readonly #deleteAlias: StatementSync;

  constructor(db: DatabaseSync) {
    this.#findAccountId = db.prepare('SELECT id FROM accounts WHERE address = ?');
    this.#findAliasOwner = db.prepare(
      'SELECT a.address FROM aliases al JOIN accounts a ON a.id = al.account_id WHERE al.address = ?',
    );
    this.#insertAccount = db.prepare(
      'INSERT INTO accounts (address, password_hash, scram, created_at) VALUES (?, ?, ?, ?)',
    );
    this.#readCounter = db.prepare('SELECT value FROM counters WHERE name = ?');
    this.#writeCounter = db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
    this.#insertMailbox = db.prepare(
      `INSERT INTO mailboxes (account_id, name, special_use, uid_validity, uid_next, highest_modseq)
       VALUES (?, ?, ?, ?, 1, 1)`,
    );
    this.#deleteAccount = db.prepare('DELETE FROM accounts WHERE id = ?');
    this.#pruneMail = db.prepare(
      `DELETE FROM mailbox_messages WHERE (mailbox_id, uid) IN (
         SELECT mm.mailbox_id, mm.uid FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id
         WHERE mb.account_id = ? LIMIT ?)
       RETURNING message_id`,
    );
    this.#deleteIfUnheld = db.prepare(
      'DELETE FROM messages WHERE id = :id AND NOT EXISTS (SELECT 1 FROM mailbox_messages WHERE message_id = :id)',
    );
    this.#deleteLoginFailures = db.prepare('DELETE FROM login_failures WHERE key = ?');
    this.#setPassword = db.prepare('UPDATE accounts SET password_hash = ?, scram = ? WHERE address = ?');
    this.#setDisabled = db.prepare('UPDATE accounts SET disabled = ? WHERE address = ?');
    this.#insertAlias = db.prepare('INSERT INTO aliases (address, account_id, created_at) VALUES (?, ?, ?)');
    this.#deleteAlias = db.prepare('DELETE FROM aliases WHERE address = ?');
  }

  create(address: string, passwordHash: string, scram: string | null, createdAt: Date): Account {
    if (this.#findAccountId.get(address)) {
      throw new RequestFailure('account-exists', `an account for ${address} already exists`);
    }
    const owner = this.#findAliasOwner.get(address);
    if (owner) {
      throw new RequestFailure(
        'account-exists',
        `${address} is an alias of ${String(owner.address)}: remove the alias to create an account with that address`,
      );
    }
    const id = Number(this.#insertAccount.run(address, passwordHash, scram, createdAt.getTime()).lastInsertRowid);
    this.createMailbox(id, 'INBOX', null);
    return { id, address, passwordHash, scram, disabled: false, createdAt };
  }

  /**
   * A new, empty mailbox of an existing account: UIDs from 1 under a UIDVALIDITY never used
   * before. The caller knows the name is free (one writer: nothing can take it meanwhile).
   */
  createMailbox(accountId: number, name: string, specialUse: string | null): number {
    return Number(this.#insertMailbox.run(accountId, name, specialUse, this.#nextUidValidity()).lastInsertRowid);
  }

  /**
   * RFC 9051 §2.3.1.1: a mailbox re-created under the same name needs a new UIDVALIDITY, so an
   * account removed and added again must not reuse one. The clock gives a value that also differs
   * across restored backups; the counter keeps it strictly increasing within this database.
   */
  #nextUidValidity(): number {
    const last = Number(this.#readCounter.get(UID_VALIDITY_COUNTER)?.value ?? 0);
    const next = Math.max(last + 1, Math.floor(Date.now() / 1000));
    if (next > MAX_UID_VALIDITY) throw new Error('UIDVALIDITY space exhausted');
    this.#writeCounter.run(UID_VALIDITY_COUNTER, next);
    return next;
  }

  /**
   * Deletes up to `limit` of the account's messages (its placements, and content no one else holds).
   * With fewer than `limit` left, the account goes too, in the same transaction: mailboxes and aliases
   * by ON DELETE CASCADE. `done` false: a large mailbox, to empty in more such calls, each its own short
   * transaction (SqliteStore.removeAccount).
   */
  remove(address: string, limit: number): { removed: boolean; done: boolean } {
    const row = this.#findAccountId.get(address);
    if (!row) return { removed: false, done: true };
    const accountId = Number(row.id);
    const gone = this.#pruneMail.all(accountId, limit);
    for (const { message_id } of gone) this.#deleteIfUnheld.run({ id: message_id as number });
    if (gone.length === limit) return { removed: false, done: false };
    this.#deleteAccount.run(accountId);
    // Its failed logins go too: an account made again at the address must not inherit their delay.
    this.#deleteLoginFailures.run(accountLoginKey(address));
    return { removed: true, done: true };
  }

  setPassword(address: string, passwordHash: string, scram: string | null): boolean {
    return this.#setPassword.run(passwordHash, scram, address).changes > 0;
  }

  setDisabled(address: string, disabled: boolean): boolean {
    return this.#setDisabled.run(disabled ? 1 : 0, address).changes > 0;
  }

  addAlias(alias: string, accountAddress: string, createdAt: Date): void {
    if (this.#findAccountId.get(alias)) {
      throw new RequestFailure('alias-exists', `${alias} is the address of an account`);
    }
    const owner = this.#findAliasOwner.get(alias);
    if (owner) throw new RequestFailure('alias-exists', `${alias} is already an alias of ${String(owner.address)}`);
    const account = this.#findAccountId.get(accountAddress);
    if (!account) {
      const aliasOwner = this.#findAliasOwner.get(accountAddress);
      throw new RequestFailure(
        'no-account',
        aliasOwner
          ? `${accountAddress} is an alias of ${String(aliasOwner.address)}, not an account: point the alias to the account`
          : `no account ${accountAddress}`,
      );
    }
    this.#insertAlias.run(alias, Number(account.id), createdAt.getTime());
  }

  removeAlias(alias: string): boolean {
    return this.#deleteAlias.run(alias).changes > 0;
  }
}
