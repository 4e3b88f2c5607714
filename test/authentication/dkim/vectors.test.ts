/**
 * DKIM conformance vectors (conformance-vectors.ts) run against verifyDkim through a real loopback DNS
 * server, one zone per vector.
 *
 * A vector passes when each signature's result is one of those wanted. One listed in KNOWN_FAILURES must
 * fail (and says why); an unlisted failure, or a listed vector that now passes, fails the run.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DkimVerification } from '../../../src/authentication/dkim/dkim-result.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { NOW, vectors } from './conformance-vectors.ts';

/** Vectors that do not give the wanted results today, with why. */
const KNOWN_FAILURES: Record<string, string> = {};
/** Passing vectors today; fewer is a regression. */
const PASS_FLOOR = 38;

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
  // No cache: each vector has its own zone, some with the same owner names.
  resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

const outcomes: { id: string; ok: boolean; got: string }[] = [];
const shown = (v: DkimVerification) => v.signatures.map((s) => `${s.result} (${s.domain}: ${s.reason})`).join(', ');

for (const vector of vectors) {
  test(vector.id, async () => {
    dns.setZone({
      records: Object.fromEntries(Object.entries(vector.keys).map(([name, txt]) => [name, { TXT: [txt] }])),
    });
    const got = await verifyDkim(await vector.message(), { resolver, now: NOW });
    const ok =
      got.signatures.length === vector.want.length &&
      got.signatures.every((s, i) => vector.want[i]?.includes(s.result)) &&
      (vector.fromFields === undefined || got.fromFields === vector.fromFields);
    outcomes.push({ id: vector.id, ok, got: shown(got) });
    const known = KNOWN_FAILURES[vector.id];
    const want = vector.want.map((w) => w.join('|')).join(', ');
    if (known === undefined) assert.ok(ok, `want [${want}], got [${shown(got)}]`);
    else assert.ok(!ok, `now passes: remove it from KNOWN_FAILURES (${known})`);
  });
}

test('DKIM vectors: pass count does not regress', (t) => {
  const passed = outcomes.filter((o) => o.ok).length;
  const line = `DKIM vectors: ${passed}/${vectors.length} pass`;
  t.diagnostic(line);
  console.log(line);
  for (const o of outcomes.filter((x) => !x.ok)) console.log(`  ${o.id}: ${o.got} — ${KNOWN_FAILURES[o.id] ?? '?'}`);
  assert.equal(outcomes.length, vectors.length, 'every vector ran');
  assert.ok(passed >= PASS_FLOOR, `${passed} passed, floor ${PASS_FLOOR}`);
});
