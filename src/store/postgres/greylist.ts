/**
 * Greylisting on PostgreSQL: one statement decides, so it is atomic across the nodes of a cluster
 * without a transaction held open over round trips. The rules are those of GreylistRequest
 * (../store.ts), as the SQLite engine runs them in JavaScript (../sqlite/greylist.ts); the contract
 * suite holds both to them.
 *
 * Two nodes meeting a new triplet at once: INSERT … ON CONFLICT makes the second wait for the first
 * to commit, then take the DO UPDATE branch on its row (PostgreSQL docs, "INSERT", ON CONFLICT
 * under READ COMMITTED): both defer, one first_seen, no duplicate-key error. A decision locks the
 * client row alone (a listed client), or the triplet row and then the client row: always in that
 * order, so decisions on one network queue behind each other instead of deadlocking.
 */

import type pg from 'pg';
import type { GreylistRequest, GreylistResult } from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** Expired rows are swept on the first decision of a node and every this many after it. */
export const GREYLIST_SWEEP_EVERY = 1000;

// $1 triplet, $2 network, $3 now, $4 delay, $5 retry window, $6 horizon (now - expiry), $7 autoPassAfter.
// A triplet is fresh (starts over) when it is new, unseen since the horizon, or was not retried
// within the window, or (still waiting) was first seen more than the delay "later" than now (a clock stepped back:
// waiting for the clock to catch up would defer it for as long as the step; less is nodes' clocks a
// little apart); it passes once it has passed before or waited out the delay.
const FRESH =
  'g.last_seen < $6::bigint OR (g.passed = 0 AND (g.first_seen > $3::bigint + $4::bigint OR $3::bigint - g.first_seen > $4::bigint + $5::bigint))';
const DECIDE = `
WITH listed AS (
  UPDATE greylist_clients SET last_seen = greatest(last_seen, $3::bigint)
  WHERE network = $2::text AND $7::bigint > 0 AND passes >= $7::bigint AND last_seen >= $6::bigint
  RETURNING network
),
seen AS (
  INSERT INTO greylist AS g (triplet, first_seen, last_seen, passed)
  SELECT $1::text, $3::bigint, $3::bigint, 0 WHERE NOT EXISTS (SELECT FROM listed)
  ON CONFLICT (triplet) DO UPDATE SET
    first_seen = CASE WHEN ${FRESH} THEN excluded.first_seen ELSE g.first_seen END,
    last_seen = CASE WHEN ${FRESH} THEN excluded.last_seen ELSE greatest(g.last_seen, excluded.last_seen) END,
    passed = CASE
      WHEN ${FRESH} THEN 0
      WHEN g.passed > 0 OR $3::bigint - g.first_seen >= $4::bigint THEN g.passed + 1
      ELSE 0
    END
  RETURNING first_seen, passed
),
counted AS (
  -- A client unseen since the horizon starts counting again.
  INSERT INTO greylist_clients AS c (network, passes, last_seen)
  SELECT $2::text, 1, $3::bigint FROM seen WHERE seen.passed > 0
  ON CONFLICT (network) DO UPDATE SET
    passes = CASE WHEN c.last_seen < $6::bigint THEN 1 ELSE c.passes + 1 END,
    last_seen = greatest(c.last_seen, excluded.last_seen)
  RETURNING passes
)
SELECT EXISTS (SELECT FROM listed) AS listed, (SELECT first_seen FROM seen) AS first_seen,
  (SELECT passed FROM seen) AS passed, (SELECT passes FROM counted) AS passes`;

export class PostgresGreylist {
  readonly #query: Query;
  readonly #onError: (error: Error) => void;
  #decisions = 0;

  constructor(query: Query, onError: (error: Error) => void) {
    this.#query = query;
    this.#onError = onError;
  }

  async decide(request: GreylistRequest): Promise<GreylistResult> {
    const now = request.now.getTime();
    const horizon = now - request.expireMs;
    const sweep = this.#decisions++ % GREYLIST_SWEEP_EVERY === 0; // counted in call order
    const { rows } = await this.#query(DECIDE, [
      request.triplet,
      request.network,
      now,
      request.delayMs,
      request.retryWindowMs,
      horizon,
      request.autoPassAfter,
    ]);
    if (sweep) await this.#sweep(horizon);
    const row = rows[0] ?? {};
    if (row.listed) return { outcome: 'pass', learned: false };
    if (Number(row.passed) === 0) {
      return { outcome: 'defer', retryInMs: Number(row.first_seen) + request.delayMs - now, learned: false };
    }
    const { autoPassAfter } = request;
    return { outcome: 'pass', learned: autoPassAfter > 0 && Number(row.passes) === autoPassAfter };
  }

  /**
   * Outside the decision's statement, one table per statement: a sweep holds no lock a decision
   * waits on while it takes another. A failed sweep is reported, not thrown: the decision stands.
   */
  async #sweep(horizon: number): Promise<void> {
    try {
      await this.#query('DELETE FROM greylist WHERE last_seen < $1', [horizon]);
      await this.#query('DELETE FROM greylist_clients WHERE last_seen < $1', [horizon]);
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
