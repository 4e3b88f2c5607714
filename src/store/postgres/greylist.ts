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

/**
 * A sweep removes at most this many rows of each kind: the backlog of a cluster down for weeks,
 * removed in one statement, would lock its rows and fill the WAL at once.
 */
export const GREYLIST_SWEEP_BATCH = 500;

/** While a sweep leaves rows to remove, the node's next one comes this many decisions later. */
export const GREYLIST_SWEEP_DRAIN_EVERY = 10;

/** A client's passes count towards the pass-list at most once in this long, as postgrey counts them. */
export const GREYLIST_COUNT_EVERY_MS = 3_600_000;

/**
 * A node's trim to GreylistRequest.maxPending removes at most this many rows: twice what its
 * decisions between two trims can add, while a bound lowered by a long way is reached in batches.
 */
export const GREYLIST_TRIM_BATCH = 2 * GREYLIST_SWEEP_EVERY;

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
  -- As postgrey, only a triplet's first pass (passed 1) counts: it shows a retry after the delay;
  -- later passes are a sender writing again, which any spam source does as well. Until it is
  -- listed, a client's last_seen is its last counted pass. A pass counts when that is an hour old,
  -- or more than an hour "later" than now (a clock stepped back, which would otherwise stop the
  -- count for as long as the step); a client unseen since the horizon counts from 1 again. No row
  -- comes back when the pass does not count.
  INSERT INTO greylist_clients AS c (network, passes, last_seen)
  SELECT $2::text, 1, $3::bigint FROM seen WHERE seen.passed = 1
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
  /** The decision that sweeps next, and whether a sweep is under way (one at a time per node). */
  #nextSweep = 0;
  #sweeping = false;
  /** Where this node's next sweep of unretried triplets reads from (last_seen); none before the first. */
  #unretriedFrom: number | undefined;
  /** The decision of this node that next counts the never-passed triplets against maxPending. */
  #nextTrim = 0;

  constructor(query: Query, onError: (error: Error) => void) {
    this.#query = query;
    this.#onError = onError;
  }

  async decide(request: GreylistRequest): Promise<GreylistResult> {
    const now = request.now.getTime();
    const horizon = now - request.expireMs;
    const decision = this.#decisions++; // counted in call order
    // A trim is one at a time per node with the sweep, after it: rows it removed as expired need no trim.
    const idle = !this.#sweeping;
    const sweep = idle && decision >= this.#nextSweep;
    const trim = idle && request.maxPending !== undefined && decision >= this.#nextTrim;
    if (sweep || trim) this.#sweeping = true;
    let trimmed = 0;
    let rows: Record<string, unknown>[];
    try {
      ({ rows } = await this.#query(DECIDE, [
        request.triplet,
        request.network,
        now,
        request.delayMs,
        request.retryWindowMs,
        horizon,
        request.autoPassAfter,
        GREYLIST_COUNT_EVERY_MS,
      ]));
      if (sweep) {
        const more = await this.#sweep(now, horizon, request.delayMs, request.retryWindowMs);
        this.#nextSweep = decision + (more ? GREYLIST_SWEEP_DRAIN_EVERY : GREYLIST_SWEEP_EVERY);
      }
      if (trim) {
        const { removed, more } = await this.#trim(request.maxPending!);
        trimmed = removed;
        this.#nextTrim = decision + (more ? GREYLIST_SWEEP_DRAIN_EVERY : GREYLIST_SWEEP_EVERY);
      }
    } finally {
      if (sweep || trim) this.#sweeping = false; // a decision that failed leaves its sweep to the next one
    }
    const row = rows[0] ?? {};
    const result = ((): GreylistResult => {
      if (row.listed) return { outcome: 'pass', learned: false };
      if (Number(row.passed) === 0) {
        return { outcome: 'defer', retryInMs: Number(row.first_seen) + request.delayMs - now, learned: false };
      }
      const { autoPassAfter } = request;
      return { outcome: 'pass', learned: autoPassAfter > 0 && Number(row.passes) === autoPassAfter };
    })();
    return trimmed > 0 ? { ...result, trimmed } : result;
  }

  /**
   * Keeps the never-passed triplets at most `maxPending`, the oldest going first: a triplet that
   * passed is a sender that retries, kept; a waiting one removed only starts over if it comes back.
   * Counted by this node every GREYLIST_SWEEP_EVERY of its decisions, so the table may hold that
   * many more per node between two counts. SKIP LOCKED passes over rows a decision holds. A failed
   * trim is reported, not thrown, as a sweep is. Returns the rows removed and whether more are due.
   */
  async #trim(maxPending: number): Promise<{ removed: number; more: boolean }> {
    try {
      const { rows } = await this.#query('SELECT count(*) AS n FROM greylist WHERE passed = 0');
      const excess = Number(rows[0]?.n) - maxPending;
      if (!(excess > 0)) return { removed: 0, more: false };
      const removed = await this.#query(
        `DELETE FROM greylist WHERE triplet IN (
           SELECT triplet FROM greylist WHERE passed = 0 ORDER BY last_seen LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        [Math.min(excess, GREYLIST_TRIM_BATCH)],
      );
      return { removed: removed.rowCount ?? 0, more: excess > GREYLIST_TRIM_BATCH };
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return { removed: 0, more: false };
    }
  }

  /**
   * Removes rows unseen for the expiry, and triplets never retried after their delay that are past
   * the retry window: those can only start over (FRESH), so they would be kept for nothing (postgrey
   * drops them too). Such a triplet was last seen before its delay ran out (early retries only), so
   * its last_seen lies in [first_seen, first_seen + delay): bounded by last_seen, the sweep reads the
   * index greylist_by_last_seen from where this node's previous one stopped, at the latest its
   * first_seen cutoff (a triplet still waiting then was first seen after it), to now minus the retry
   * window, a slice of the recent traffic, not the table. A node's first sweep, and one after its
   * clock went back, read from the expiry horizon.
   *
   * At most GREYLIST_SWEEP_BATCH rows of each kind: the unretried ones up to the last_seen of the
   * row past a batch (all of one millisecond, should more than a batch share it). Outside the
   * decision's statement, one table per statement; SKIP LOCKED passes over the rows a decision or
   * another node's sweep holds, so a sweep never waits on a lock nor deadlocks with another sweep
   * (a row passed over is removed by a later sweep or expires). A failed sweep is reported, not
   * thrown: the decision stands. Returns whether rows are left to remove.
   */
  async #sweep(now: number, horizon: number, delayMs: number, retryWindowMs: number): Promise<boolean> {
    const batch = GREYLIST_SWEEP_BATCH;
    const firstSeenBefore = now - delayMs - retryWindowMs;
    const before = now - retryWindowMs;
    const previous = this.#unretriedFrom;
    const from = previous === undefined || previous > firstSeenBefore ? horizon : previous;
    try {
      const triplets = await this.#query(
        `DELETE FROM greylist WHERE triplet IN (
           SELECT triplet FROM greylist WHERE last_seen < $1 ORDER BY last_seen LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [horizon, batch],
      );
      const clients = await this.#query(
        `DELETE FROM greylist_clients WHERE network IN (
           SELECT network FROM greylist_clients WHERE last_seen < $1 ORDER BY last_seen LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [horizon, batch],
      );
      const { rows } = await this.#query(
        `SELECT last_seen FROM greylist WHERE last_seen >= $1 AND last_seen < $2 ORDER BY last_seen OFFSET $3 LIMIT 1`,
        [from, before, batch],
      );
      const upTo = rows.length === 0 ? before : Math.max(Number(rows[0]!.last_seen), from + 1);
      await this.#query(
        `DELETE FROM greylist WHERE triplet IN (
           SELECT triplet FROM greylist
           WHERE last_seen >= $1 AND last_seen < $2 AND passed = 0 AND first_seen < $3
           FOR UPDATE SKIP LOCKED)`,
        [from, upTo, firstSeenBefore],
      );
      // Rows from upTo on are still to read; past the cutoff, only by the next sweep's larger cutoff.
      this.#unretriedFrom = Math.min(upTo, firstSeenBefore);
      return (triplets.rowCount ?? 0) >= batch || (clients.rowCount ?? 0) >= batch || upTo < firstSeenBefore;
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }
}
