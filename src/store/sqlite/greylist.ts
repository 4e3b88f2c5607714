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

export class SqliteGreylist {
  readonly #touchListedClient: StatementSync;
  readonly #findTriplet: StatementSync;
  readonly #writeTriplet: StatementSync;
  readonly #countClientPass: StatementSync;
  readonly #sweepTriplets: StatementSync;
  readonly #sweepClients: StatementSync;
  #decisions = 0;

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
    // A client unseen for longer than the expiry starts counting again.
    this.#countClientPass = db.prepare(
      `INSERT INTO greylist_clients (network, passes, last_seen) VALUES (:network, 1, :now)
       ON CONFLICT (network) DO UPDATE
       SET passes = CASE WHEN last_seen < :horizon THEN 1 ELSE passes + 1 END, last_seen = max(last_seen, :now)
       RETURNING passes`,
    );
    this.#sweepTriplets = db.prepare('DELETE FROM greylist WHERE last_seen < ?');
    this.#sweepClients = db.prepare('DELETE FROM greylist_clients WHERE last_seen < ?');
  }

  decide(request: GreylistRequest): GreylistResult {
    const { triplet, network, delayMs, retryWindowMs, autoPassAfter } = request;
    const now = request.now.getTime();
    const horizon = now - request.expireMs; // last seen before this: forgotten
    if (this.#decisions++ % GREYLIST_SWEEP_EVERY === 0) {
      this.#sweepTriplets.run(horizon);
      this.#sweepClients.run(horizon);
    }
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
    const passes = Number(this.#countClientPass.get({ network, now, horizon })?.passes);
    return { outcome: 'pass', learned: autoPassAfter > 0 && passes === autoPassAfter };
  }
}
