/**
 * Failed-login counting (the `login_failures` table, both engines): the rules of
 * LoginFailureOptions (store.ts) as a function of the previous row, for the engines that decide in
 * JavaScript (the SQLite writer thread, NullStore). PostgreSQL states the same rules in one SQL
 * statement (postgres/login-failures.ts); the contract suite holds all of them to it.
 */

import type { LoginFailureOptions, LoginFailureRecord } from './store.ts';

/** A row of `login_failures`, times in milliseconds since the epoch. */
export interface LoginFailureRow {
  count: number;
  windowStart: number;
  blockedUntil: number | null;
}

/** Options that are not numbers the rules can use are a bug in the caller: RangeError. */
export function checkLoginFailureOptions(options: LoginFailureOptions): void {
  const { now, windowMs, threshold, blockMs } = options;
  if (!Number.isFinite(now.getTime())) throw new RangeError('login failure: now is not a valid date');
  if (!Number.isSafeInteger(windowMs) || windowMs < 0) throw new RangeError(`login failure: windowMs ${windowMs}`);
  if (!Number.isSafeInteger(blockMs) || blockMs < 0) throw new RangeError(`login failure: blockMs ${blockMs}`);
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new RangeError(`login failure: threshold ${threshold} is not a positive integer`);
  }
}

/** The row after one more failure. */
export function nextLoginFailure(previous: LoginFailureRow | undefined, options: LoginFailureOptions): LoginFailureRow {
  const now = options.now.getTime();
  // Another node's clock may run ahead: a window that starts "in the future" is still current.
  const fresh = !previous || now - previous.windowStart >= options.windowMs;
  const count = fresh ? 1 : previous.count + 1;
  const windowStart = fresh ? now : previous.windowStart;
  const standing = previous?.blockedUntil != null && previous.blockedUntil > now ? previous.blockedUntil : null;
  const blockedUntil = count >= options.threshold ? Math.max(standing ?? 0, now + options.blockMs) : standing;
  return { count, windowStart, blockedUntil };
}

export function loginFailureRecord(row: LoginFailureRow, now: Date): LoginFailureRecord {
  return { count: row.count, blockedUntil: activeBlock(row.blockedUntil, now) };
}

/** A block still running at `now`, or null. */
export function activeBlock(blockedUntil: number | null | undefined, now: Date): Date | null {
  return blockedUntil != null && blockedUntil > now.getTime() ? new Date(blockedUntil) : null;
}

/**
 * Expired rows (window and block both over, by the caller's `windowMs`) are swept on a node's first
 * failure and every this many after it: a bounded table, without a delete per login.
 */
export const LOGIN_FAILURE_SWEEP_EVERY = 1000;

/** The key an account's failed logins are counted under (submission-auth.ts), cleared with the account. */
export function accountLoginKey(address: string): string {
  return `account:${address.toLowerCase()}`;
}
