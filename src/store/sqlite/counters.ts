/**
 * Counter writes on SQLite, run by the writer thread: a request's deltas are added inside its
 * batch transaction, so they commit together or not at all. Reads are in reads.ts.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';

export class SqliteCounters {
  readonly #add: StatementSync;

  constructor(db: DatabaseSync) {
    this.#add = db.prepare(
      `INSERT INTO counters (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value`,
    );
  }

  add(entries: readonly (readonly [string, number])[]): void {
    for (const [name, delta] of entries) this.#add.run(name, delta);
  }
}
