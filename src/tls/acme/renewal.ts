/**
 * When to renew an ACME certificate and how long to wait after a failure. Pure functions of dates, so
 * the schedule is tested without clocks. RFC 8555 leaves renewal timing to the client; Let's Encrypt
 * advises renewing when a third of the lifetime remains (30 of 90 days), which is our default.
 */

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The moment renewal is due: `renewBeforeDays` before expiry when configured, else the smaller of
 * 30 days and a third of the lifetime (so a short-lived certificate is not renewed all the time).
 * Never before a third of the lifetime has passed: a `renewBeforeDays` as long as the lifetime would make
 * every new certificate due at once, and a new order every few hours runs into the CA's limits
 * (Let's Encrypt allows 5 duplicate certificates a week).
 */
export function renewalTime(cert: Validity, renewBeforeDays?: number): Date {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const wanted = renewBeforeDays !== undefined ? renewBeforeDays * DAY_MS : Math.min(30 * DAY_MS, lifetime / 3);
  return new Date(cert.notAfter.getTime() - Math.min(wanted, (lifetime * 2) / 3));
}

export function renewalDue(cert: Validity, now: Date, renewBeforeDays?: number): boolean {
  return now >= renewalTime(cert, renewBeforeDays);
}

/**
 * The wait before retry number `failures` (1 for the first): 5 minutes, doubling, at most 6 hours.
 * Let's Encrypt refuses a sixth failed validation for a hostname within an hour; this schedule tries
 * at most four times in any hour (at 0, 5, 15 and 35 minutes, then 75).
 */
export function retryDelayMs(failures: number, firstMs = 5 * MINUTE_MS, maxMs = 360 * MINUTE_MS): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}
