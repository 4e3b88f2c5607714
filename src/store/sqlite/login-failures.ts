/**
 * Failed-login counting on SQLite, run by the writer thread inside a batch transaction: one writer
 * per database file makes the read-count-write below atomic. The rules are those of
 * LoginFailureOptions (../store.ts), computed by ../login-failures.ts.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  LOGIN_FAILURE_SWEEP_EVERY,
  type LoginFailureRow,
  loginFailureRecord,
  nextLoginFailure,
} from '../login-failures.ts';
import type { LoginFailureOptions, LoginFailureRecord } from '../store.ts';

export class SqliteLoginFailures {
  readonly #find: StatementSync;
  readonly #write: StatementSync;
  readonly #clear: StatementSync;
  readonly #sweep: StatementSync;
  #failures = 0;

  constructor(db: DatabaseSync) {
    this.#find = db.prepare('SELECT count, window_start, blocked_until FROM login_failures WHERE key = ?');
    this.#write = db.prepare(
      `INSERT INTO login_failures (key, count, window_start, blocked_until)
       VALUES (:key, :count, :windowStart, :blockedUntil)
       ON CONFLICT (key) DO UPDATE
       SET count = excluded.count, window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
    );
    this.#clear = db.prepare('DELETE FROM login_failures WHERE key = ?');
    this.#sweep = db.prepare(
      `DELETE FROM login_failures
       WHERE window_start <= :windowBefore AND (blocked_until IS NULL OR blocked_until <= :now)`,
    );
  }

  record(key: string, options: LoginFailureOptions): LoginFailureRecord {
    const now = options.now.getTime();
    if (this.#failures++ % LOGIN_FAILURE_SWEEP_EVERY === 0) {
      this.#sweep.run({ windowBefore: now - options.windowMs, now });
    }
    const row = this.#find.get(key);
    const previous: LoginFailureRow | undefined = row && {
      count: Number(row.count),
      windowStart: Number(row.window_start),
      blockedUntil: row.blocked_until == null ? null : Number(row.blocked_until),
    };
    const next = nextLoginFailure(previous, options);
    this.#write.run({ key, ...next });
    return loginFailureRecord(next, options.now);
  }

  clear(key: string): void {
    this.#clear.run(key);
  }
}
