/** When certificates are renewed and how failures back off: pure date arithmetic, table-driven. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalDue, renewalTime, retryDelayMs } from '../../../src/tls/acme/renewal.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const issued = new Date('2026-01-01T00:00:00Z');
const cert = (days: number) => ({ notBefore: issued, notAfter: new Date(issued.getTime() + days * DAY) });

const renewals: [name: string, lifetimeDays: number, renewBeforeDays: number | undefined, dueAfterDays: number][] = [
  ['90-day certificate: a third of the lifetime, 30 days', 90, undefined, 60],
  ['5-year certificate: 30 days before', 1826, undefined, 1796],
  ['6-day certificate: a third, 2 days', 6, undefined, 4],
  ['configured 10 days', 90, 10, 80],
  ['configured 60 days of 90: 60 days before', 90, 60, 30],
  // A new certificate due at once would be ordered again and again (5 orders in 8 s were seen).
  ['configured above the lifetime: not before a third of it has passed', 90, 1000, 30],
];
for (const [name, lifetime, renewBefore, dueAfter] of renewals) {
  test(`renewal: ${name}`, () => {
    const at = renewalTime(cert(lifetime), renewBefore);
    assert.equal(at.getTime(), issued.getTime() + dueAfter * DAY);
    assert.equal(renewalDue(cert(lifetime), new Date(at.getTime() - 1), renewBefore), false);
    assert.equal(renewalDue(cert(lifetime), at, renewBefore), true);
  });
}

const retries: [failures: number, wantMs: number][] = [
  [1, 5 * MINUTE],
  [2, 10 * MINUTE],
  [3, 20 * MINUTE],
  [7, 320 * MINUTE],
  [8, 360 * MINUTE], // 640 minutes, capped at 6 hours
  [1000, 360 * MINUTE],
];

test("retries stay within Let's Encrypt's 5 failed validations per hostname per hour", () => {
  const tries = [0];
  for (let failures = 1; failures < 30; failures++) tries.push(tries.at(-1)! + retryDelayMs(failures));
  for (const start of tries) {
    const inHour = tries.filter((at) => at >= start && at < start + 60 * MINUTE).length;
    assert.ok(inHour <= 4, `${inHour} tries in the hour from ${start / MINUTE} min`);
  }
});
for (const [failures, want] of retries) {
  test(`retry after failure ${failures}: ${want / MINUTE} min`, () => assert.equal(retryDelayMs(failures), want));
}
