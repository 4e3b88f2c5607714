/**
 * The OpenSPF RFC 7208 suite (release 2014.04) run against checkSpf through a real loopback DNS server,
 * one server per scenario. A case passes when our result is one of the expected results and, where the
 * suite gives an explanation, ours matches it ('DEFAULT' means no exp= text applies, so we expect none).
 * A case may disagree only if listed in DISAGREEMENTS (we follow the RFC text quoted) or KNOWN_FAILURES
 * (our DNS client cannot ask the question); an unlisted failure, or a listed case that now passes, fails the test.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { checkSpf, type SpfResult } from '../../../src/authentication/spf/check-spf.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../../src/dns/test-server.ts';
import { loadSpfSuite, type SpfSuiteCase } from '../../support/spf-suite.ts';

/** Cases where our result differs from the suite and RFC 7208 supports ours. */
const DISAGREEMENTS: Record<string, string> = {
  'Macro expansion rules / v-macro-ip6':
    'The suite wants upper-case nibbles from %{ir} for CAFE:BABE::1; RFC 7208 §7.4 writes them lower-case: ' +
    '"%{ir}.%{v}._spf.%{d2} 1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", ' +
    'and DNS names compare case-insensitively (RFC 4343 §3).',
};

/** Cases our Resolver cannot serve: the names are legal SPF targets but c-ares will not send them. */
const COLON_NAME =
  "c-ares (our Resolver) refuses to send a query for a name containing ':' (EBADNAME), so the mechanism cannot match (we read the refusal as a void lookup); RFC 7208 §7.1 allows any visible character but '%' in a domain-spec.";
const KNOWN_FAILURES: Record<string, string> = {
  'A mechanism syntax / a-colon-domain': COLON_NAME,
  'A mechanism syntax / a-colon-domain-ip4mapped': COLON_NAME,
  'MX mechanism syntax / mx-colon-domain': COLON_NAME,
  'MX mechanism syntax / mx-colon-domain-ip4mapped': COLON_NAME,
  'Macro expansion rules / macro-mania-in-domain':
    "c-ares refuses the expanded name (contains '%' and a space), EBADNAME; RFC 7208 §7.1 allows it.",
};

/** Passing cases today; fewer is a regression. */
const PASS_FLOOR = 197;

const scenarios = loadSpfSuite();
const total = scenarios.reduce((n, s) => n + s.cases.length, 0);
const outcomes: { id: string; ok: boolean; got: string }[] = [];

function matches(c: SpfSuiteCase, got: SpfResult): boolean {
  if (!c.results.includes(got.result)) return false;
  if (c.explanation === undefined) return true;
  if (c.explanation === 'DEFAULT') return got.explanation === undefined;
  return got.explanation === c.explanation;
}

for (const scenario of scenarios) {
  test(`rfc7208: ${scenario.description}`, async (t) => {
    const dns = await startTestDnsServer(scenario.zone);
    t.after(() => dns.close());
    // No cache: each case sees the zone afresh; a short timeout keeps TIMEOUT cases quick.
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    for (const c of scenario.cases) {
      const got = await checkSpf({ ip: c.ip, sender: c.mailfrom, helo: c.helo, resolver, hostname: 'localhost' });
      const ok = matches(c, got);
      const shown = `${got.result}${got.explanation === undefined ? '' : ` "${got.explanation}"`}`;
      outcomes.push({ id: c.id, ok, got: shown });
      const listed = DISAGREEMENTS[c.id] ?? KNOWN_FAILURES[c.id];
      await t.test(c.name, () => {
        const want = `${c.results.join('|')}${c.explanation === undefined ? '' : ` "${c.explanation}"`}`;
        if (listed === undefined) assert.ok(ok, `${c.id}: want ${want}, got ${shown} (${got.reason})`);
        else assert.ok(!ok, `${c.id} now passes: remove it from DISAGREEMENTS/KNOWN_FAILURES`);
      });
    }
  });
}

after(() => {
  const passed = outcomes.filter((o) => o.ok).length;
  const justified = outcomes.filter((o) => !o.ok && DISAGREEMENTS[o.id] !== undefined).length;
  const line = `spf rfc7208: ${passed}/${total} cases passed (+${justified} disagreements with reasons)`;
  console.log(line);
  for (const o of outcomes.filter((x) => !x.ok)) console.log(`  ${o.id}: got ${o.got}`);
});

test('rfc7208: pass count does not regress', { concurrency: false }, async (t) => {
  // Runs after the scenario tests (node:test runs top-level tests in order).
  const passed = outcomes.filter((o) => o.ok).length;
  t.diagnostic(`spf rfc7208: ${passed}/${total} cases passed`);
  assert.equal(outcomes.length, total, 'every case ran');
  assert.ok(passed >= PASS_FLOOR, `${passed} passed, floor ${PASS_FLOOR}`);
});
