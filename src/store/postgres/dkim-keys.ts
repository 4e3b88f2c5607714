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

  /**
   * SET expressions read the row as it was: `state <> 'active'` is the state before this update. With
   * `from`, the WHERE is evaluated again on the row a concurrent writer left (READ COMMITTED), so a key
   * another node moved on or removed meanwhile is not touched.
   */
  async setState(
    id: number,
    state: DkimKeyState,
    now: Date,
    retireAfter: Date | undefined,
    from?: DkimKeyState,
  ): Promise<boolean> {
    const result = await this.#query(
      `UPDATE dkim_keys SET
         activated_at = CASE WHEN $2::text = 'active' AND state <> 'active' THEN $3::bigint ELSE activated_at END,
         retire_after = CASE WHEN $4::bigint IS NOT NULL THEN $4::bigint
                             WHEN $2::text = 'active' THEN NULL ELSE retire_after END,
         state = $2::text
       WHERE id = $1 AND ($5::text IS NULL OR state = $5::text)`,
      [id, state, now.getTime(), retireAfter?.getTime() ?? null, from ?? null],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Store.activateDkimKey: pending → active and the keys it replaces → retiring, in one transaction. */
  async activate(id: number, now: Date, retireAfter: Date): Promise<string[] | undefined> {
    return this.#transaction(async (client) => {
      const { rows: found } = await client.query('SELECT domain FROM dkim_keys WHERE id = $1', [id]);
      if (found[0] === undefined) return undefined;
      // The lock add() takes: two nodes' passes switch one domain's keys in turn, and a key being added
      // meanwhile is checked against the switch's outcome, not against the state before it.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DKIM_LOCK_SPACE, found[0].domain]);
      const { rows: activated } = await client.query(
        `UPDATE dkim_keys SET state = 'active', activated_at = $2, retire_after = NULL
         WHERE id = $1 AND state = 'pending'
         RETURNING domain, algorithm`,
        [id, now.getTime()],
      );
      const key = activated[0];
      if (key === undefined) return undefined; // removed, or no longer pending: a stale pass changes nothing
      const { rows: replaced } = await client.query(
        `UPDATE dkim_keys SET state = 'retiring', retire_after = $4
         WHERE domain = $1 AND algorithm = $2 AND state = 'active' AND id <> $3
         RETURNING id, selector, created_at`,
        [key.domain, key.algorithm, id, retireAfter.getTime()],
      );
      return replaced
        .sort((a, b) => Number(a.created_at) - Number(b.created_at) || Number(a.id) - Number(b.id))
        .map((row) => String(row.selector));
    });
  }

  async remove(id: number): Promise<boolean> {
    const result = await this.#query('DELETE FROM dkim_keys WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }
}

function selectorTaken(key: NewDkimKey): DkimKeyExistsError {
  return new DkimKeyExistsError(`${key.domain} already has a DKIM key with selector ${key.selector}`);
}
