/**
 * Shared counters (the `counters` table, both engines): restriction statistics and the like,
 * added to by every process and node and read by `postern stats`.
 */

/**
 * The deltas to write, sorted by name: every writer then locks counter rows in the same order, so
 * two PostgreSQL transactions adding to the same counters queue instead of deadlocking.
 * A delta that is not a safe integer is a bug in the caller: it throws RangeError.
 */
export function counterEntries(deltas: Readonly<Record<string, number>>): [string, number][] {
  const entries = Object.entries(deltas);
  for (const [name, delta] of entries) {
    if (!Number.isSafeInteger(delta)) throw new RangeError(`counter ${name}: the delta ${delta} is not an integer`);
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
