/**
 * Shared counters (the `counters` table, both engines): restriction statistics and the like,
 * added to by every process and node and read by `postern stats`.
 *
 * A counter's value is always a safe integer (|n| ≤ 2^53 − 1): a sum past that saturates at
 * Number.MAX_SAFE_INTEGER (or MIN_SAFE_INTEGER) instead of failing the add. A statistic that has
 * counted 9 quadrillion events loses nothing to being shown as that, while a refused add would fail
 * the request (a delivery, a restriction decision) that counted; and a stored value beyond a safe
 * integer cannot be read back exactly (SQLite refuses it, PostgreSQL's bigint would round).
 */

/** The bounds every stored counter is kept within, as SQL literals for both engines. */
export const COUNTER_MAX = Number.MAX_SAFE_INTEGER;
export const COUNTER_MIN = Number.MIN_SAFE_INTEGER;

/**
 * The deltas to write, sorted by name: every writer then locks counter rows in the same order, so
 * two PostgreSQL transactions adding to the same counters queue instead of deadlocking.
 * A delta that is not a safe integer is a bug in the caller: it throws RangeError. The sum with the
 * stored value saturates (see above): that is the engine's statement's job.
 */
export function counterEntries(deltas: Readonly<Record<string, number>>): [string, number][] {
  const entries = Object.entries(deltas);
  for (const [name, delta] of entries) {
    if (!Number.isSafeInteger(delta))
      throw new RangeError(`counter ${name}: the delta ${delta} is not a safe integer (at most 2^53 - 1 either way)`);
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `value + delta` held within the counter bounds, as the engines store it (the in-memory counters). */
export function saturatedSum(value: number, delta: number): number {
  return Math.min(COUNTER_MAX, Math.max(COUNTER_MIN, value + delta));
}

/**
 * A counter value as read from either engine (number, bigint, or PostgreSQL's int8 text), held within
 * the bounds: a value stored out of them by an older Postern reads as the bound, never as a rounded
 * number or an error that would hide every other counter.
 */
export function counterValue(value: unknown): number {
  if (typeof value === 'number') return Number.isNaN(value) ? 0 : saturatedSum(Math.trunc(value), 0);
  let exact: bigint;
  try {
    exact = typeof value === 'bigint' ? value : BigInt(String(value));
  } catch {
    return 0; // not an integer at all: no count
  }
  if (exact > BigInt(COUNTER_MAX)) return COUNTER_MAX;
  if (exact < BigInt(COUNTER_MIN)) return COUNTER_MIN;
  return Number(exact);
}
