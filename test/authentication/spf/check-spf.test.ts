/** checkSpf through a real loopback DNS server (RFC 7208), one zone for all cases; documentation addresses. */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkSpf, type SpfResult } from '../../../src/authentication/spf/check-spf.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

const many = Array.from({ length: 11 }, (_, i) => `include:i${i}.example.com`).join(' ');
/** PTR names of 192.0.2.66 whose A lookups never get an answer. */
const unanswered = Array.from({ length: 10 }, (_, i) => `n${i}.ptr.example.com`);
let dns: TestDnsServer;
let resolver: Resolver;

before(async () => {
  dns = await startTestDnsServer({
    records: {
      'pass.example.com': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
      'fail.example.com': { TXT: ['v=spf1 -all exp=why.example.com'] },
      'why.example.com': { TXT: ["%{i} is not one of %{d}'s senders"] },
      'soft.example.com': { TXT: ['v=spf1 ~all'] },
      'neutral.example.com': { TXT: ['v=spf1 ?all'] },
      'nospf.example.com': { TXT: ['some other text'] },
      'syntax.example.com': { TXT: ['v=spf1 ip4:not-an-address -all'] },
      'many.example.com': { TXT: [`v=spf1 ${many} -all`] },
      ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`i${i}.example.com`, { TXT: ['v=spf1 ?all'] }])),
      'void.example.com': { TXT: ['v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com +all'] },
      'slow.example.com': { TXT: ['v=spf1 a:timeout.example.com -all'] },
      'macro.example.com': { TXT: ['v=spf1 exists:%{i}.allow.example.com -all'] },
      '192.0.2.7.allow.example.com': { A: ['127.0.0.2'] },
      'helo.example.net': { TXT: ['v=spf1 ip4:198.51.100.1 -all'] },
      'ptr.example.com': { TXT: ['v=spf1 ptr ptr ptr ptr ptr -all'] },
      '192.0.2.66': { PTR: unanswered },
      'whom.example.com': { TXT: ['v=spf1 -all exp=whom-why.example.com'] },
      'whom-why.example.com': { TXT: ['%{s} may not send from %{i}'] },
    },
    timeout: ['timeout.example.com', 'toolate.example.com', ...unanswered],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

const check = (ip: string, sender: string, helo = 'mail.example.org'): Promise<SpfResult> =>
  checkSpf({ ip, sender, helo, resolver, hostname: 'mx.example.org' });

const cases: [name: string, ip: string, sender: string, want: SpfResult['result']][] = [
  ['ip4 in range → pass (§5.6)', '192.0.2.9', 'a@pass.example.com', 'pass'],
  ['ip4 outside, -all → fail (§5.1)', '198.51.100.9', 'a@pass.example.com', 'fail'],
  ['~all → softfail (§2.6.5)', '192.0.2.9', 'a@soft.example.com', 'softfail'],
  ['?all → neutral (§2.6.2)', '192.0.2.9', 'a@neutral.example.com', 'neutral'],
  ['no v=spf1 record → none (§4.5)', '192.0.2.9', 'a@nospf.example.com', 'none'],
  ['no such domain → none (§4.3)', '192.0.2.9', 'a@absent.example.com', 'none'],
  ['bad ip4 syntax → permerror (§4.6)', '192.0.2.9', 'a@syntax.example.com', 'permerror'],
  ['11 DNS terms → permerror (§4.6.4)', '198.51.100.9', 'a@many.example.com', 'permerror'],
  ['3 void lookups → permerror (§4.6.4)', '192.0.2.9', 'a@void.example.com', 'permerror'],
  ['a: times out → temperror (§4.4)', '198.51.100.9', 'a@slow.example.com', 'temperror'],
  ['record lookup times out → temperror (§4.4)', '192.0.2.9', 'a@toolate.example.com', 'temperror'],
  ['%{i} in exists: matches (§7.3)', '192.0.2.7', 'a@macro.example.com', 'pass'],
  ['%{i} in exists: other address (§7.3)', '192.0.2.8', 'a@macro.example.com', 'fail'],
];
for (const [name, ip, sender, want] of cases) {
  test(name, async () => assert.equal((await check(ip, sender)).result, want));
}

test('the domain checked is the MAIL FROM domain', async () => {
  const r = await check('192.0.2.9', 'a@pass.example.com');
  assert.equal(r.domain, 'pass.example.com');
  assert.ok(typeof r.lookups === 'number');
});

test('null sender checks postmaster@HELO (§2.4)', async () => {
  const pass = await check('198.51.100.1', '', 'helo.example.net');
  assert.deepEqual([pass.result, pass.domain], ['pass', 'helo.example.net']);
  assert.equal((await check('198.51.100.2', '', 'helo.example.net')).result, 'fail');
});

test('exp= gives the expanded explanation on fail (§6.2)', async () => {
  const r = await check('192.0.2.33', 'a@fail.example.com');
  assert.equal(r.result, 'fail');
  assert.equal(r.explanation, "192.0.2.33 is not one of fail.example.com's senders");
});

test('no explanation without fail (§6.2)', async () => {
  assert.equal((await check('192.0.2.9', 'a@soft.example.com')).explanation, undefined);
});

test("an explanation naming the sender is this check's own; one naming only the IP and domain is not", async () => {
  const own = await check('192.0.2.33', 'bob@whom.example.com');
  assert.equal(own.explanation, 'bob@whom.example.com may not send from 192.0.2.33');
  assert.equal(own.senderSpecific, true);
  assert.equal((await check('192.0.2.33', 'a@fail.example.com')).senderSpecific, undefined);
});

test('the whole evaluation has a time limit, then temperror (RFC 7208 §4.6.4)', async () => {
  // Five ptr mechanisms, each looking up ten names that never answer: 5 × 10 × 300 ms without a limit.
  const limited = (sender: string, timeLimitMs: number) =>
    checkSpf({ ip: '192.0.2.66', sender, helo: 'h.example.org', resolver, hostname: 'mx.example.org', timeLimitMs });
  const slow = await limited('a@ptr.example.com', 1000);
  assert.equal(slow.result, 'temperror');
  assert.equal(slow.reason, 'SPF evaluation took longer than 1 s (RFC 7208 §4.6.4)');
  // A query still pending when the time is up is not waited for (the resolver would give up at 300 ms).
  const pending = await limited('a@slow.example.com', 100);
  assert.deepEqual(
    [pending.result, pending.reason],
    ['temperror', 'SPF evaluation took longer than 0.1 s (RFC 7208 §4.6.4)'],
  );
});
