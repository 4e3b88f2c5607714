import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Check,
  couldNotCheck,
  exitCode,
  fail,
  pass,
  renderJson,
  renderTable,
  warn,
} from '../../../src/admin/dns-check/report.ts';

const ok = pass('spf', 'spf.record', '"v=spf1 mx -all"');
const meh = warn('dmarc', 'dmarc.policy', 'p=none', 'Publish p=quarantine, then p=reject.');
const bad = fail('names', 'names.ptr', '192.0.2.1 has no PTR record', 'Ask the provider.', '192.0.2.1');

const cases: [name: string, checks: Check[], want: 0 | 1 | 2][] = [
  ['nothing to check', [], 0],
  ['all pass', [ok], 0],
  ['a warning', [ok, meh], 1],
  ['a failure', [ok, meh, bad], 2],
  ['a failure without warnings', [bad], 2],
];
for (const [name, checks, want] of cases) test(`exit code: ${name}`, () => assert.equal(exitCode(checks), want));

test('the table: one line per check, the fix below, colour only when asked', () => {
  const plain = renderTable('example.com', [ok, meh, bad], { colour: false });
  assert.doesNotMatch(plain, /\x1b\[/);
  assert.match(plain, /^PASS {2}spf {4}"v=spf1 mx -all"$/m);
  assert.match(plain, /^WARN {2}dmarc {2}p=none\n {13}fix: Publish p=quarantine, then p=reject\.$/m);
  // the subject is not repeated when the summary names it
  assert.match(plain, /^FAIL {2}names {2}192\.0\.2\.1 has no PTR record$/m);
  assert.match(plain, /1 passed, 1 warning, 1 failed\n$/);
  const coloured = renderTable('example.com', [ok, meh, bad], { colour: true });
  assert.match(coloured, /\x1b\[32mPASS\x1b\[0m/);
  assert.match(coloured, /\x1b\[33mWARN\x1b\[0m/);
  assert.match(coloured, /\x1b\[31mFAIL\x1b\[0m/);
});

test('JSON: the checks as they are, with counts and the exit code', () => {
  const parsed = JSON.parse(renderJson('example.com', [ok, bad])) as { checks: Check[] };
  assert.deepEqual(parsed, {
    domain: 'example.com',
    exitCode: 2,
    counts: { pass: 1, warn: 0, fail: 1 },
    checks: [ok, bad],
  });
  assert.equal(parsed.checks[0]?.fix, undefined);
});

test('a DNS failure is a warning that says it could not check', () => {
  const timeout = couldNotCheck(
    'dmarc',
    'dmarc.record',
    'TXT _dmarc.example.com',
    'ETIMEOUT looking up TXT _dmarc.example.com',
  );
  assert.equal(timeout.status, 'warn');
  assert.equal(timeout.summary, 'could not check: DNS timeout looking up TXT _dmarc.example.com');
  // No answer may be our resolver's fault as well as the zone's: the fix names both, ours first.
  assert.match(
    timeout.fix ?? '',
    /the resolver this server asks \(dns\.servers, or the system's when it is empty\) answers this host, then that the name servers of the zone answer TXT _dmarc\.example\.com \(ETIMEOUT\)/,
  );
  const servfail = couldNotCheck('spf', 'spf.record', 'TXT example.com', 'ESERVFAIL looking up TXT example.com');
  assert.equal(servfail.summary, 'could not check: DNS error looking up TXT example.com');
  assert.match(servfail.fix ?? '', /name servers of the zone answer TXT example\.com \(ESERVFAIL\)/);
  // Our own resolver refusing is not the zone's fault: the fix points at dns.servers.
  const refused = couldNotCheck('spf', 'spf.record', 'TXT example.com', 'ECONNREFUSED looking up TXT example.com');
  assert.match(
    refused.fix ?? '',
    /^The resolver this server asks \(dns\.servers, or the system's when it is empty\) refused/,
  );
  assert.doesNotMatch(refused.fix ?? '', /name servers of the zone/);
});

test('the table shows control characters and escape sequences from records as U+FFFD, never raw', () => {
  // A TXT record is whatever its zone's owner typed: here one that clears the screen and retitles the window.
  const hostile = warn(
    'dmarc',
    'dmarc.record',
    '_dmarc.example.com has "\x1b[2J\x1b]0;owned\x07p=none\u202e"',
    'Publish "v=DMARC1;\x9b31m"',
    'sel\x1b[1m',
  );
  const table = renderTable('example.com', [hostile], { colour: false });
  assert.doesNotMatch(table, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  assert.match(table, /has "\ufffd\[2J\ufffd\]0;owned\ufffdp=none\ufffd"/);
  assert.match(table, /fix: Publish "v=DMARC1;\ufffd31m"/);
  assert.match(table, /\[sel\ufffd\[1m\]/);
  // JSON escapes them itself and keeps the text as found, for tools.
  assert.match(renderJson('example.com', [hostile]), /\\u001b\[2J/);
});
