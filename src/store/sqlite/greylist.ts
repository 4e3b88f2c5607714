/**
 * Greylisting on SQLite, run by the writer thread inside a batch transaction: one writer per
 * database file makes the read-decide-write below atomic. The rules are those of GreylistRequest
 * (../store.ts); the PostgreSQL engine states the same rules in SQL (../postgres/greylist.ts), and
 * the contract suite holds both to them.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { GreylistRequest, GreylistResult } from '../store.ts';

/** Expired rows are swept on the first decision and every this many after it. */
export const GREYLIST_SWEEP_EVERY = 1000;

/**
 * A sweep removes at most this many rows of each kind (about 3 ms): it runs inside the writer's
 * transaction, so the backlog of a store down for weeks, removed in one statement, would hold the
 * write lock, and the deliveries waiting on it, for seconds.
 */
export const GREYLIST_SWEEP_BATCH = 500;

/** While a sweep leaves rows to remove, the next one comes this many decisions later. */
export const GREYLIST_SWEEP_DRAIN_EVERY = 10;

/** A client's passes count towards the pass-list at most once in this long, as postgrey counts them. */
export const GREYLIST_COUNT_EVERY_MS = 3_600_000;

/**
 * A trim to GreylistRequest.maxPending removes at most this many rows: twice what the decisions
 * between two trims can add, so a flood is kept to the bound, while a bound lowered by a long way
 * is reached in batches (one every GREYLIST_SWEEP_DRAIN_EVERY decisions), not one long write.
 */
export const GREYLIST_TRIM_BATCH = 2 * GREYLIST_SWEEP_EVERY;

export class SqliteGreylist {
  readonly #touchListedClient: StatementSync;
  readonly #findTriplet: StatementSync;
  readonly #writeTriplet: StatementSync;
  readonly #countClientPass: StatementSync;
  readonly #sweepTriplets: StatementSync;
  readonly #sweepClients: StatementSync;
  readonly #unretriedBound: StatementSync;
  readonly #sweepUnretried: StatementSync;
  readonly #countTriplets: StatementSync;
  readonly #countPending: StatementSync;
  readonly #trimPending: StatementSync;
  #decisions = 0;
  /** The decision that sweeps next. */
  #nextSweep = 0;
  /** The decision that next counts the never-passed triplets against maxPending. */
  #nextTrim = 0;
  /** Where the next sweep of unretried triplets reads from (last_seen); none before the first. */
  #unretriedFrom: number | undefined;

  constructor(db: DatabaseSync) {
    this.#touchListedClient = db.prepare(
      `UPDATE greylist_clients SET last_seen = max(last_seen, :now)
       WHERE network = :network AND passes >= :autoPassAfter AND last_seen >= :horizon`,
    );
    this.#findTriplet = db.prepare('SELECT first_seen, last_seen, passed FROM greylist WHERE triplet = ?');
    this.#writeTriplet = db.prepare(
      `INSERT INTO greylist (triplet, first_seen, last_seen, passed) VALUES (:triplet, :firstSeen, :lastSeen, :passed)
       ON CONFLICT (triplet) DO UPDATE
       SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, passed = excluded.passed`,
    );
    // Until it is listed, a client's last_seen is its last counted pass. A pass counts when that is
    // an hour old (one retried message to many recipients, or a session repeating one RCPT, counts
    // once), or more than an hour "later" than now: a clock stepped back, which would otherwise stop
    // the count for as long as the step. A client unseen for longer than the expiry counts from 1
    // again. No row comes back when the pass does not count.
    this.#countClientPass = db.prepare(
      `INSERT INTO greylist_clients (network, passes, last_seen) VALUES (:network, 1, :now)
       ON CONFLICT (network) DO UPDATE
       SET passes = CASE WHEN last_seen < :horizon THEN 1 ELSE passes + 1 END, last_seen = :now
       WHERE last_seen < :horizon OR last_seen <= :now - :countEvery OR last_seen > :now + :countEvery
       RETURNING passes`,
    );
    // The oldest first, read from the last_seen indexes: a batch costs its own rows, not the table.
    this.#sweepTriplets = db.prepare(
      'DELETE FROM greylist WHERE triplet IN (SELECT triplet FROM greylist WHERE last_seen < ? ORDER BY last_seen LIMIT ?)',
    );
    this.#sweepClients = db.prepare(
      `DELETE FROM greylist_clients
       WHERE network IN (SELECT network FROM greylist_clients WHERE last_seen < ? ORDER BY last_seen LIMIT ?)`,
    );
    // The last_seen a batch of unretried triplets ends before: that of the row past the batch.
    this.#unretriedBound = db.prepare(
      `SELECT last_seen FROM greylist WHERE last_seen >= :from AND last_seen < :before
       ORDER BY last_seen LIMIT 1 OFFSET :batch`,
    );
    this.#sweepUnretried = db.prepare(
      `DELETE FROM greylist
       WHERE last_seen >= :from AND last_seen < :upTo AND passed = 0 AND first_seen < :firstSeenBefore`,
    );
    // All rows, read from the last_seen index (no table scan): only at or above the bound is it worth
    // counting the never-passed ones, which reads the table.
    this.#countTriplets = db.prepare('SELECT count(*) AS n FROM greylist');
    this.#countPending = db.prepare('SELECT count(*) AS n FROM greylist WHERE passed = 0');
    this.#trimPending = db.prepare(
      'DELETE FROM greylist WHERE triplet IN (SELECT triplet FROM greylist WHERE passed = 0 ORDER BY last_seen LIMIT ?)',
    );
  }

  decide(request: GreylistRequest): GreylistResult {
    const now = request.now.getTime();
    const horizon = now - request.expireMs; // last seen before this: forgotten
    const decision = this.#decisions++;
    if (decision >= this.#nextSweep) {
      this.#nextSweep = decision + GREYLIST_SWEEP_EVERY; // a sweep that throws is not retried at once
      if (this.#sweep(now, horizon, request.delayMs, request.retryWindowMs)) {
        this.#nextSweep = decision + GREYLIST_SWEEP_DRAIN_EVERY;
      }
    }
    // After the sweep: rows it removed as expired need no trim.
    let trimmed = 0;
    if (request.maxPending !== undefined && decision >= this.#nextTrim) {
      this.#nextTrim = decision + GREYLIST_SWEEP_EVERY; // a trim that throws is not retried at once
      const { removed, more } = this.#trim(request.maxPending);
      trimmed = removed;
      if (more) this.#nextTrim = decision + GREYLIST_SWEEP_DRAIN_EVERY;
    }
    const result = this.#decide(request, now, horizon);
    return trimmed > 0 ? { ...result, trimmed } : result;
  }

  /**
   * Keeps the never-passed triplets under `maxPending`, the oldest going first: a triplet that
   * passed is a sender that retries, kept; a waiting one removed only starts over if it comes back.
   * Makes room for the decision that follows too. Returns the rows removed and whether more are due.
   */
  #trim(maxPending: number): { removed: number; more: boolean } {
    if (Number(this.#countTriplets.get()?.n) < maxPending) return { removed: 0, more: false };
    const excess = Number(this.#countPending.get()?.n) - maxPending + 1;
    if (excess <= 0) return { removed: 0, more: false };
    const removed = Number(this.#trimPending.run(Math.min(excess, GREYLIST_TRIM_BATCH)).changes);
    return { removed, more: excess > GREYLIST_TRIM_BATCH };
  }

  #decide(request: GreylistRequest, now: number, horizon: number): GreylistResult {
    const { triplet, network, delayMs, retryWindowMs, autoPassAfter } = request;
    if (autoPassAfter > 0 && this.#touchListedClient.run({ now, network, autoPassAfter, horizon }).changes > 0) {
      return { outcome: 'pass', learned: false };
    }
    const row = this.#findTriplet.get(triplet);
    const firstSeen = Number(row?.first_seen);
    const lastSeen = Math.max(Number(row?.last_seen), now); // another node's clock may run ahead
    const passed = Number(row?.passed);
    // A waiting triplet first seen more than the delay later than now is a clock stepped back (a VM
    // resumed, NTP at boot): waiting for the clock to reach it would defer it for as long as the step,
    // so it starts over; one that passed keeps passing. Less than the delay is nodes' clocks apart.
    const fresh =
      !row ||
      Number(row.last_seen) < horizon ||
      (passed === 0 && firstSeen > now + delayMs) ||
      (passed === 0 && now - firstSeen > delayMs + retryWindowMs);
    if (fresh) {
      this.#writeTriplet.run({ triplet, firstSeen: now, lastSeen: now, passed: 0 });
      return { outcome: 'defer', retryInMs: delayMs, learned: false };
    }
    if (passed === 0 && now - firstSeen < delayMs) {
      this.#writeTriplet.run({ triplet, firstSeen, lastSeen, passed: 0 });
      return { outcome: 'defer', retryInMs: firstSeen + delayMs - now, learned: false };
    }
    this.#writeTriplet.run({ triplet, firstSeen, lastSeen, passed: passed + 1 });
    // As postgrey, only a triplet's first pass counts: it shows a retry after the delay. Its later
    // passes are a sender writing again, which any spam source does as well.
    if (passed > 0) return { outcome: 'pass', learned: false };
    const counted = this.#countClientPass.get({ network, now, horizon, countEvery: GREYLIST_COUNT_EVERY_MS });
    return { outcome: 'pass', learned: autoPassAfter > 0 && Number(counted?.passes) === autoPassAfter };
  }

  /**
   * Removes rows unseen for the expiry, and triplets never retried after their delay that are past
   * the retry window: those can only start over (`fresh` above), so they would be kept for nothing
   * (postgrey drops them too). Such a triplet was last seen before its delay ran out (early retries
   * only), so its last_seen lies in [first_seen, first_seen + delay): bounded by last_seen, the sweep
   * reads the index greylist_by_last_seen from where the previous one stopped, at the latest its
   * first_seen cutoff (a triplet still waiting then was first seen after it), to now minus the retry
   * window, a slice of the recent traffic, not the table. The first sweep of a store, and one after
   * the clock went back, read from the horizon.
   *
   * At most GREYLIST_SWEEP_BATCH rows of each kind: the unretried ones up to the last_seen of the
   * row past a batch (all of one millisecond, should more than a batch share it). Returns whether
   * rows are left to remove.
   */
  #sweep(now: number, horizon: number, delayMs: number, retryWindowMs: number): boolean {
    const batch = GREYLIST_SWEEP_BATCH;
    let more = this.#sweepTriplets.run(horizon, batch).changes >= batch;
    if (this.#sweepClients.run(horizon, batch).changes >= batch) more = true;
    const firstSeenBefore = now - delayMs - retryWindowMs;
    const before = now - retryWindowMs;
    const previous = this.#unretriedFrom;
    const from = previous === undefined || previous > firstSeenBefore ? horizon : previous;
    const bound = this.#unretriedBound.get({ from, before, batch });
    const upTo = bound === undefined ? before : Math.max(Number(bound.last_seen), from + 1);
    this.#sweepUnretried.run({ from, upTo, firstSeenBefore });
    // Rows from upTo on are still to read; past the cutoff, only by the next sweep's larger cutoff.
    this.#unretriedFrom = Math.min(upTo, firstSeenBefore);
    return more || upTo < firstSeenBefore;
  }
}
