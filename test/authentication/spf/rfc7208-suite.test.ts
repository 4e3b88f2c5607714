/**
 * The OpenSPF RFC 7208 suite (release 2014.04) run against checkSpf through a real loopback DNS server,
 * one server per scenario. A case passes when our result is one of the expected results and, where the
 * suite gives an explanation, ours matches it ('DEFAULT' means no exp= text applies, so we expect none).
 * A case may disagree only if listed in DISAGREEMENTS (we follow the RFC text quoted) or KNOWN_FAILURES
 * (mailauth is wrong or lacks a hook); an unlisted failure, or a listed case that now passes, fails the test.
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

/** Cases mailauth gets wrong (or cannot do) without RFC support for its answer. */
const COLON_NAME =
  "c-ares (our Resolver) refuses to send a query for a name containing ':' (EBADNAME), so the mechanism cannot match; RFC 7208 §7.1 allows any visible character but '%' in a domain-spec.";
const KNOWN_FAILURES: Record<string, string> = {
  'A mechanism syntax / a-colon-domain': COLON_NAME,
  'A mechanism syntax / a-colon-domain-ip4mapped': COLON_NAME,
  'MX mechanism syntax / mx-colon-domain': COLON_NAME,
  'MX mechanism syntax / mx-colon-domain-ip4mapped': COLON_NAME,
  'Macro expansion rules / macro-mania-in-domain':
    "c-ares refuses the expanded name (contains '%' and a space), EBADNAME; RFC 7208 §7.1 allows it.",
  'IP6 mechanism syntax / bare-ip6':
    "mailauth reads 'ip6' with no address as not matching instead of a syntax error (RFC 7208 §5.6: ip6-cidr-length needs ip6-network; §4.6: syntax error → permerror).",
  'Semantics of exp and other modifiers / exp-syntax-error':
    'mailauth does not parse exp= domain-spec syntax (RFC 7208 §6.2, §4.6 → permerror).',
  'Semantics of exp and other modifiers / exp-twice':
    'mailauth does not reject a second exp= (RFC 7208 §6: "MUST NOT appear in a record more than once each ... permerror").',
  'Macro expansion rules / exp-only-macro-char':
    'mailauth expands %{c}/%{r}/%{t} outside explanation strings (RFC 7208 §7.1: those letters are only for exp text → permerror).',
  'Macro expansion rules / domain-name-truncation':
    'the expanded exp= name exceeds 253 octets; RFC 7208 §7.3 says to drop left-hand labels, mailauth macro.js does not, and c-ares refuses the name.',
  'Macro expansion rules / p-macro-ip4-valid':
    "mailauth's %{p} is the sender domain, not the validated PTR name (RFC 7208 §7.3, §5.5).",
  'Macro expansion rules / p-macro-ip6-valid':
    "mailauth's %{p} is the sender domain, not the validated PTR name (RFC 7208 §7.3, §5.5).",
  'Macro expansion rules / invalid-hello-macro':
    'mailauth permerrors when %{h} expands to an invalid name; the suite (RFC 7208 §7.1/2) expects the term simply not to match → -all → fail.',
  'Macro expansion rules / hello-domain-literal':
    'mailauth permerrors when %{h} expands to an invalid name; the suite (RFC 7208 §7.1/2) expects the term simply not to match → -all → fail.',
  'Macro expansion rules / require-valid-helo':
    'mailauth permerrors when %{h} expands to an invalid name; the suite (RFC 7208 §7.1/2) expects the term simply not to match → -all → fail.',
};

/** Passing cases today; fewer is a regression. */
const PASS_FLOOR = 187;

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
