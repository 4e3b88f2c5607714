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

/** A client network's passes count towards the pass-list at most once in this long, as postgrey counts them. */
export const GREYLIST_COUNT_EVERY_MS = 3_600_000;

// $1 triplet, $2 network, $3 now, $4 delay, $5 retry window, $6 horizon (now - expiry), $7 autoPassAfter,
// $8 GREYLIST_COUNT_EVERY_MS.
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
  -- Until it is listed, a network's last_seen is its last counted pass. A pass counts when that is
  -- an hour old, or more than an hour "later" than now (a clock stepped back, which would otherwise
  -- stop the count for as long as the step); a network unseen since the horizon counts from 1 again.
  -- No row comes back when the pass does not count.
  INSERT INTO greylist_clients AS c (network, passes, last_seen)
  SELECT $2::text, 1, $3::bigint FROM seen WHERE seen.passed > 0
  ON CONFLICT (network) DO UPDATE SET
    passes = CASE WHEN c.last_seen < $6::bigint THEN 1 ELSE c.passes + 1 END,
    last_seen = excluded.last_seen
  WHERE c.last_seen < $6::bigint OR c.last_seen <= $3::bigint - $8::bigint OR c.last_seen > $3::bigint + $8::bigint
  RETURNING passes
)
SELECT EXISTS (SELECT FROM listed) AS listed, (SELECT first_seen FROM seen) AS first_seen,
  (SELECT passed FROM seen) AS passed, (SELECT passes FROM counted) AS passes`;

export class PostgresGreylist {
  readonly #query: Query;
  readonly #onError: (error: Error) => void;
  #decisions = 0;
  /** The first_seen cutoff of this node's previous sweep of unretried triplets; none before the first. */
  #unretriedSweptBefore: number | undefined;

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
      GREYLIST_COUNT_EVERY_MS,
    ]);
    if (sweep) await this.#sweep(now, horizon, request.delayMs, request.retryWindowMs);
    const row = rows[0] ?? {};
    if (row.listed) return { outcome: 'pass', learned: false };
    if (Number(row.passed) === 0) {
      return { outcome: 'defer', retryInMs: Number(row.first_seen) + request.delayMs - now, learned: false };
    }
    const { autoPassAfter } = request;
    return { outcome: 'pass', learned: autoPassAfter > 0 && Number(row.passes) === autoPassAfter };
  }

  /**
   * Removes rows unseen for the expiry, and triplets never retried after their delay that are past
   * the retry window: those can only start over (FRESH), so they would be kept for nothing (postgrey
   * drops them too). Such a triplet was last seen before its delay ran out (early retries only), so
   * its last_seen lies in [first_seen, first_seen + delay): bounded by last_seen, the sweep reads the
   * index greylist_by_last_seen from this node's previous cutoff (a triplet still waiting then was
   * first seen after it) to now minus the retry window, a slice of the recent traffic, not the table.
   * A node's first sweep, and one after its clock went back, read from the expiry horizon.
   *
   * Outside the decision's statement, one table per statement: a sweep holds no lock a decision
   * waits on while it takes another. A failed sweep is reported, not thrown: the decision stands.
   */
  async #sweep(now: number, horizon: number, delayMs: number, retryWindowMs: number): Promise<void> {
    const firstSeenBefore = now - delayMs - retryWindowMs;
    const previous = this.#unretriedSweptBefore;
    const lastSeenFrom = previous === undefined || previous > firstSeenBefore ? horizon : previous;
    try {
      await this.#query('DELETE FROM greylist WHERE last_seen < $1', [horizon]);
      await this.#query('DELETE FROM greylist_clients WHERE last_seen < $1', [horizon]);
      await this.#query(
        `DELETE FROM greylist
         WHERE last_seen >= $1 AND last_seen < $2 AND passed = 0 AND first_seen < $3`,
        [lastSeenFrom, now - retryWindowMs, firstSeenBefore],
      );
      this.#unretriedSweptBefore = firstSeenBefore;
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
