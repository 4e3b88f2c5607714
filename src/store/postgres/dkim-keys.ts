/**
 * DKIM keys on PostgreSQL, shared by every node. The UNIQUE (domain, selector) constraint settles two
 * nodes adding the same selector at once: the second insert fails with 23505, whichever node it is.
 */

import type pg from 'pg';
import { DKIM_KEY_COLUMNS, dkimKeyFromRow } from '../rows.ts';
import { type DkimKey, DkimKeyExistsError, type DkimKeyState, type NewDkimKey } from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** PostgreSQL's unique_violation (Appendix A, "PostgreSQL Error Codes"). */
const UNIQUE_VIOLATION = '23505';

export class PostgresDkimKeys {
  readonly #query: Query;

  constructor(query: Query) {
    this.#query = query;
  }

  async add(key: NewDkimKey): Promise<DkimKey> {
    const createdAt = (key.createdAt ?? new Date()).getTime();
    try {
      const { rows } = await this.#query(
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
    } catch (error) {
      // The store wraps driver errors; the constraint's code is on the cause.
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === UNIQUE_VIOLATION) {
        throw new DkimKeyExistsError(`${key.domain} already has a DKIM key with selector ${key.selector}`);
      }
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
