/**
 * Failed-login counting on PostgreSQL: one upsert statement counts, so nodes failing logins for
 * the same key at once all count (ON CONFLICT under READ COMMITTED makes the second wait for the
 * first, then update its row). The rules are those of LoginFailureOptions (../store.ts), as
 * ../login-failures.ts computes them for SQLite; the contract suite holds both to them.
 */

import type pg from 'pg';
import { activeBlock, LOGIN_FAILURE_SWEEP_EVERY } from '../login-failures.ts';
import type { LoginFailureOptions, LoginFailureRecord } from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

// $1 key, $2 now, $3 window, $4 threshold, $5 block. A window that starts after `now` (another
// node's clock runs ahead) is still current.
const FRESH = '$2::bigint - f.window_start >= $3::bigint';
const COUNT = `CASE WHEN ${FRESH} THEN 1 ELSE f.count + 1 END`;
const STANDING = 'CASE WHEN f.blocked_until > $2::bigint THEN f.blocked_until END';
const RECORD = `
INSERT INTO login_failures AS f (key, count, window_start, blocked_until)
VALUES ($1::text, 1, $2::bigint, CASE WHEN 1 >= $4::bigint THEN $2::bigint + $5::bigint END)
ON CONFLICT (key) DO UPDATE SET
  count = ${COUNT},
  window_start = CASE WHEN ${FRESH} THEN excluded.window_start ELSE f.window_start END,
  blocked_until = CASE
    WHEN ${COUNT} >= $4::bigint THEN greatest(${STANDING}, $2::bigint + $5::bigint)
    ELSE ${STANDING}
  END
RETURNING count, blocked_until`;

export class PostgresLoginFailures {
  readonly #query: Query;
  readonly #onError: (error: Error) => void;
  #failures = 0;

  constructor(query: Query, onError: (error: Error) => void) {
    this.#query = query;
    this.#onError = onError;
  }

  async record(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
    const now = options.now.getTime();
    const sweep = this.#failures++ % LOGIN_FAILURE_SWEEP_EVERY === 0;
    const { rows } = await this.#query(RECORD, [key, now, options.windowMs, options.threshold, options.blockMs]);
    if (sweep) await this.#sweep(now - options.windowMs, now);
    const row = rows[0] ?? {};
    return {
      count: Number(row.count),
      blockedUntil: activeBlock(row.blocked_until == null ? null : Number(row.blocked_until), options.now),
    };
  }

  async blockedUntil(key: string, now: Date): Promise<Date | null> {
    const { rows } = await this.#query('SELECT blocked_until FROM login_failures WHERE key = $1', [key]);
    const blockedUntil = rows[0]?.blocked_until;
    return activeBlock(blockedUntil == null ? null : Number(blockedUntil), now);
  }

  async clear(key: string): Promise<void> {
    await this.#query('DELETE FROM login_failures WHERE key = $1', [key]);
  }

  /** A failed sweep is reported, not thrown: the failure was counted. */
  async #sweep(windowBefore: number, now: number): Promise<void> {
    try {
      await this.#query(
        'DELETE FROM login_failures WHERE window_start <= $1 AND (blocked_until IS NULL OR blocked_until <= $2)',
        [windowBefore, now],
      );
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
