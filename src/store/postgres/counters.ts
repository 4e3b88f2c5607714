/**
 * Counters on PostgreSQL: one statement adds every delta, so they commit together. Names come in
 * sorted (../counters.ts), so concurrent adds lock rows in one order and queue, never deadlock;
 * ON CONFLICT makes two nodes creating the same counter at once both count.
 */

import type pg from 'pg';
import { COUNTER_MAX, COUNTER_MIN } from '../counters.ts';
import { countersFromRows } from '../rows.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/**
 * Every stored value stays a safe integer (../counters.ts), as on SQLite: pg reads int8 as text and a
 * larger one could only be rounded. The stored value is clamped before the add too, so one an older
 * Postern left out of bounds cannot overflow bigint and fail the add.
 */
const BOUNDED = (value: string) => `greatest(${COUNTER_MIN}, least(${COUNTER_MAX}, ${value}))`;

export async function addPostgresCounters(query: Query, entries: readonly [string, number][]): Promise<void> {
  if (entries.length === 0) return;
  await query(
    `INSERT INTO counters (name, value)
     SELECT name, value FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS d (name, value, ord) ORDER BY ord
     ON CONFLICT (name) DO UPDATE SET value = ${BOUNDED(`${BOUNDED('counters.value')} + excluded.value`)}`,
    [entries.map(([name]) => name), entries.map(([, delta]) => delta)],
  );
}

/** starts_with, not LIKE: LIKE would read `_` and `%` in the prefix as wildcards. */
export async function readPostgresCounters(query: Query, prefix: string): Promise<Record<string, number>> {
  const { rows } = await query(
    'SELECT name, value FROM counters WHERE starts_with(name, $1) ORDER BY name COLLATE "C"',
    [prefix],
  );
  return countersFromRows(rows);
}
