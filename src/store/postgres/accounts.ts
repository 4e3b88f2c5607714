/**
 * Accounts and aliases on PostgreSQL. An address belongs to an account or to an alias, never both:
 * two tables, so no unique index can say it. Every write that claims an address first takes a
 * transaction-scoped advisory lock on it, so two nodes claiming one address (as account and as
 * alias, or twice) take turns and the second sees the first's commit.
 */

import type pg from 'pg';
import { accountLoginKey } from '../login-failures.ts';
import { ACCOUNT_COLUMNS, accountFromRow, aliasFromRow } from '../rows.ts';
import {
  type Account,
  AccountExistsError,
  type Alias,
  AliasExistsError,
  NoSuchAccountError,
  StoreError,
} from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

/** The key space of address locks among the database's advisory locks ("addr"). */
const ADDRESS_LOCK_SPACE = 0x6164_6472;
const UID_VALIDITY_COUNTER = 'uid_validity';
const MAX_UID_VALIDITY = 0xffff_ffff; // a 32-bit nz-number, RFC 9051 §2.3.1.1

const ALIASES =
  'SELECT al.address AS alias, a.address AS account FROM aliases al JOIN accounts a ON a.id = al.account_id';

export class PostgresAccounts {
  readonly #query: Query;
  readonly #transaction: Transaction;

  constructor(query: Query, transaction: Transaction) {
    this.#query = query;
    this.#transaction = transaction;
  }

  create(address: string, passwordHash: string, scram: string | null): Promise<Account> {
    return this.#transaction(async (client) => {
      await lockAddress(client, address);
      const owner = await aliasOwner(client, address);
      if (owner) {
        throw new AccountExistsError(
          `${address} is an alias of ${owner}: remove the alias to create an account with that address`,
        );
      }
      const createdAt = new Date();
      let row: pg.QueryResultRow | undefined;
      try {
        row = (
          await client.query(
            'INSERT INTO accounts (address, password_hash, scram, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
            [address, passwordHash, scram, createdAt.getTime()],
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
      return { id, address, passwordHash, scram, disabled: false, createdAt };
    });
  }

  async find(address: string): Promise<Account | undefined> {
    const { rows } = await this.#query(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = $1`, [address]);
    return rows[0] ? accountFromRow(rows[0]) : undefined;
  }

  async any(): Promise<boolean> {
    const { rows } = await this.#query('SELECT EXISTS (SELECT 1 FROM accounts) AS any');
    return rows[0]?.any === true;
  }

  async list(): Promise<Account[]> {
    const { rows } = await this.#query(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address COLLATE "C"`);
    return rows.map(accountFromRow);
  }

  remove(address: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const { rows } = await client.query('SELECT id FROM accounts WHERE address = $1 FOR UPDATE', [address]);
      if (!rows[0]) return false;
      const accountId = Number(rows[0].id);
      // Its mailboxes first, in id order as postern_deliver() locks them: a delivery holding one
      // commits before we read what the account holds, and one that comes later finds the mailbox
      // gone. Without this, content placed between that read and the DELETE below outlived the
      // account, with nobody holding it.
      await client.query('SELECT id FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE', [accountId]);
      // The account's content rows, locked (in id order, so two removals cannot deadlock): a removal
      // of another account holding the same content waits here until this one commits, and then
      // sees its placements gone. Without the lock, two accounts removed at once each saw the
      // other's copy, and their shared content stayed behind with nobody holding it.
      const held = await client.query(
        `SELECT id FROM messages WHERE id IN (
           SELECT mm.message_id FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id
           WHERE mb.account_id = $1)
         ORDER BY id FOR UPDATE`,
        [accountId],
      );
      await client.query('DELETE FROM accounts WHERE id = $1', [accountId]); // mailboxes, aliases go by CASCADE
      // Its failed logins go too: an account made again at the address must not inherit their delay.
      await client.query('DELETE FROM login_failures WHERE key = $1', [accountLoginKey(address)]);
      // Content held only by this account goes; content other accounts still hold stays. Read
      // Committed: this statement sees what a removal that held the locks before us committed.
      await client.query(
        `DELETE FROM messages m WHERE m.id = ANY($1::bigint[])
         AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)`,
        [held.rows.map((row) => row.id)],
      );
      return true;
    });
  }

  async setPassword(address: string, passwordHash: string, scram: string | null): Promise<boolean> {
    const result = await this.#query('UPDATE accounts SET password_hash = $1, scram = $2 WHERE address = $3', [
      passwordHash,
      scram,
      address,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async setDisabled(address: string, disabled: boolean): Promise<boolean> {
    const result = await this.#query('UPDATE accounts SET disabled = $1 WHERE address = $2', [disabled, address]);
    return (result.rowCount ?? 0) > 0;
  }

  addAlias(alias: string, accountAddress: string): Promise<void> {
    return this.#transaction(async (client) => {
      await lockAddress(client, alias);
      const taken = await client.query('SELECT 1 FROM accounts WHERE address = $1', [alias]);
      if (taken.rows[0]) throw new AliasExistsError(`${alias} is the address of an account`);
      const owner = await aliasOwner(client, alias);
      if (owner) throw new AliasExistsError(`${alias} is already an alias of ${owner}`);
      // FOR KEY SHARE: the account cannot be removed before the alias pointing to it commits.
      const { rows } = await client.query('SELECT id FROM accounts WHERE address = $1 FOR KEY SHARE', [accountAddress]);
      if (!rows[0]) {
        const target = await aliasOwner(client, accountAddress);
        throw new NoSuchAccountError(
          target
            ? `${accountAddress} is an alias of ${target}, not an account: point the alias to the account`
            : `no account ${accountAddress}`,
        );
      }
      await client.query('INSERT INTO aliases (address, account_id, created_at) VALUES ($1, $2, $3)', [
        alias,
        rows[0].id,
        Date.now(),
      ]);
    });
  }

  async removeAlias(alias: string): Promise<boolean> {
    const result = await this.#query('DELETE FROM aliases WHERE address = $1', [alias]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Sorted bytewise (COLLATE "C"), as SQLite sorts. */
  async listAliases(accountAddress?: string): Promise<Alias[]> {
    const { rows } =
      accountAddress === undefined
        ? await this.#query(`${ALIASES} ORDER BY al.address COLLATE "C"`)
        : await this.#query(`${ALIASES} WHERE a.address = $1 ORDER BY al.address COLLATE "C"`, [accountAddress]);
    return rows.map(aliasFromRow);
  }

  /** One statement: an account's own address first; an address is never both. */
  async resolve(address: string): Promise<Account | undefined> {
    const { rows } = await this.#query(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = coalesce(
         (SELECT id FROM accounts WHERE address = $1),
         (SELECT account_id FROM aliases WHERE address = $1))`,
      [address],
    );
    return rows[0] ? accountFromRow(rows[0]) : undefined;
  }
}

/** Held until the transaction ends; hashtext collisions only make two unrelated claims take turns. */
async function lockAddress(client: pg.PoolClient, address: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADDRESS_LOCK_SPACE, address]);
}

async function aliasOwner(client: pg.PoolClient, alias: string): Promise<string | undefined> {
  const { rows } = await client.query(
    'SELECT a.address FROM aliases al JOIN accounts a ON a.id = al.account_id WHERE al.address = $1',
    [alias],
  );
  return rows[0] ? String(rows[0].address) : undefined;
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
