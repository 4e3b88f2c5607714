/**
 * Counter writes on SQLite, run by the writer thread: a request's deltas are added inside its
 * batch transaction, so they commit together or not at all. Reads are in reads.ts.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { COUNTER_MAX, COUNTER_MIN } from '../counters.ts';

/**
 * Every stored value stays a safe integer (../counters.ts): node:sqlite refuses to read a larger one
 * as a number, and that RangeError would fail the whole read, every counter of the prefix with it.
 * The stored value is clamped too before the add, so one left out of bounds cannot overflow int64.
 */
const BOUNDED = (value: string) => `max(${COUNTER_MIN}, min(${COUNTER_MAX}, ${value}))`;

export class SqliteCounters {
  readonly #add: StatementSync;

  constructor(db: DatabaseSync) {
    this.#add = db.prepare(
      `INSERT INTO counters (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = ${BOUNDED(`${BOUNDED('counters.value')} + excluded.value`)}`,
    );
    repairOutOfBounds(db);
  }

  add(entries: readonly (readonly [string, number])[]): void {
    for (const [name, delta] of entries) this.#add.run(name, delta);
  }
}

/**
 * An older Postern stored sums past 2^53 − 1 as they came, which no read can return as a number: they
 * are brought to the bound they would have saturated at. Looked for first, with a read, so that an
 * open of a sound store takes no write lock.
 */
function repairOutOfBounds(db: DatabaseSync): void {
  const outside = `value > ${COUNTER_MAX} OR value < ${COUNTER_MIN}`;
  if (db.prepare(`SELECT 1 AS found FROM counters WHERE ${outside} LIMIT 1`).get() === undefined) return;
  db.prepare(`UPDATE counters SET value = ${BOUNDED('value')} WHERE ${outside}`).run();
}
