/**
 * DKIM keys on PostgreSQL, shared by every node. The UNIQUE (domain, selector) constraint settles two
 * nodes adding the same selector at once: the second insert fails with 23505, whichever node it is;
 * an advisory lock per domain settles two adding a second pending (or active) key of one algorithm.
 */

import type pg from 'pg';
import { DKIM_KEY_COLUMNS, dkimKeyFromRow, stateTaken } from '../rows.ts';
import {
  type DkimKey,
  DkimKeyExistsError,
  type DkimKeyState,
  DkimKeyStateTakenError,
  type NewDkimKey,
} from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

/** pg_advisory_xact_lock's first key for "adding a DKIM key to this domain" (ASCII "dkim"). */
const DKIM_LOCK_SPACE = 0x646b_696d;

/** PostgreSQL's unique_violation (Appendix A, "PostgreSQL Error Codes"). */
const UNIQUE_VIOLATION = '23505';

export class PostgresDkimKeys {
  readonly #query: Query;
  readonly #transaction: Transaction;

  constructor(query: Query, transaction: Transaction) {
    this.#query = query;
    this.#transaction = transaction;
  }

  async add(key: NewDkimKey): Promise<DkimKey> {
    const createdAt = (key.createdAt ?? new Date()).getTime();
    try {
      return await this.#transaction(async (client) => {
        // One adder per domain at a time, on every node: the check for a key in the same state is then
        // atomic with the insert (READ COMMITTED: the SELECT after the lock sees what the last holder
        // committed). hashtext collisions only make two domains take turns.
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DKIM_LOCK_SPACE, key.domain]);
        const { rows: present } = await client.query(
          'SELECT selector, algorithm, state FROM dkim_keys WHERE domain = $1 ORDER BY id',
          [key.domain],
        );
        // The taken selector first, as the other engines say it.
        if (present.some((row) => row.selector === key.selector)) throw selectorTaken(key);
        const holder = present.find((row) => row.algorithm === key.algorithm && row.state === key.state);
        if (holder) throw new DkimKeyStateTakenError(stateTaken(key, String(holder.selector)));
        const { rows } = await client.query(
          `INSERT INTO dkim_keys (domain, selector, algorithm, bits, private_key, public_key, state, created_at,
             activated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           RETURNING ${DKIM_KEY_COLUMNS}`,
          [
            key.domain,
            key.selector,
            key.algorithm,
            key.bits,
            key.privateKey,
            key.publicKey,
            key.state,
            createdAt,
            key.state === 'active' ? createdAt : null,
          ],
        );
        return dkimKeyFromRow(rows[0] ?? {});
      });
    } catch (error) {
      if (error instanceof DkimKeyStateTakenError || error instanceof DkimKeyExistsError) throw error;
      // The store wraps driver errors; the constraint's code is on the cause.
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === UNIQUE_VIOLATION) throw selectorTaken(key);
      throw error;
    }
  }

  async list(domain: string | undefined): Promise<DkimKey[]> {
    const { rows } = await this.#query(
      `SELECT ${DKIM_KEY_COLUMNS} FROM dkim_keys WHERE ($1::text IS NULL OR domain = $1) ORDER BY created_at, id`,
      [domain ?? null],
    );
    return rows.map(dkimKeyFromRow);
  }

  /** SET expressions read the row as it was: `state <> 'active'` is the state before this update. */
  async setState(id: number, state: DkimKeyState, now: Date, retireAfter: Date | undefined): Promise<boolean> {
    const result = await this.#query(
      `UPDATE dkim_keys SET
         activated_at = CASE WHEN $2::text = 'active' AND state <> 'active' THEN $3::bigint ELSE activated_at END,
         retire_after = CASE WHEN $4::bigint IS NOT NULL THEN $4::bigint
                             WHEN $2::text = 'active' THEN NULL ELSE retire_after END,
         state = $2::text
       WHERE id = $1`,
      [id, state, now.getTime(), retireAfter?.getTime() ?? null],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async remove(id: number): Promise<boolean> {
    const result = await this.#query('DELETE FROM dkim_keys WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }
}

function selectorTaken(key: NewDkimKey): DkimKeyExistsError {
  return new DkimKeyExistsError(`${key.domain} already has a DKIM key with selector ${key.selector}`);
}
