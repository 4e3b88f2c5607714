/**
 * The sp= of a domain's own DMARC record (RFC 7489 §6.3): what its subdomains inherit is judged where it is
 * published, not only when a subdomain is checked. Against the loopback test DNS server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { checkDmarc } from '../../../src/admin/dns-check/dmarc.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
});
after(() => dns.close());

async function policy(domain: string, record: string) {
  dns.setZone({ records: { [`_dmarc.${domain}`]: { TXT: [record] } } });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  const config = parseConfig({ hostname: 'mail.example.org', domains: [domain] }, 'test');
  const checks = await checkDmarc({ domain, config, resolver } as CheckContext);
  return checks.find((c) => c.id === 'dmarc.policy');
}

test("sp=none under p=reject in the domain's own record warns on dmarc.policy", async () => {
  for (const p of ['reject', 'quarantine']) {
    const check = await policy('example.org', `v=DMARC1; p=${p}; sp=none; rua=mailto:postmaster@example.org`);
    assert.equal(check?.status, 'warn', JSON.stringify(check));
    assert.match(check?.summary ?? '', new RegExp(`^p=${p} but sp=none: forged mail from subdomains of example\\.org`));
    assert.match(check?.fix ?? '', /^Remove sp= so that p=\w+ covers subdomains too/);
  }
});

test('sp=quarantine under p=reject passes, said; sp= on a subdomain’s own record is not read (RFC 7489 §6.6.3)', async () => {
  const weaker = await policy('example.org', 'v=DMARC1; p=reject; sp=quarantine; rua=mailto:postmaster@example.org');
  assert.equal(weaker?.status, 'pass');
  assert.equal(
    weaker?.summary,
    'p=reject: receivers reject mail that fails DMARC; sp=quarantine: they quarantine such mail from subdomains',
  );
  const sub = await policy('sub.example.org', 'v=DMARC1; p=reject; sp=none; rua=mailto:postmaster@example.org');
  assert.equal(sub?.status, 'pass', JSON.stringify(sub));
  const same = await policy('example.org', 'v=DMARC1; p=reject; sp=reject; rua=mailto:postmaster@example.org');
  assert.equal(same?.summary, 'p=reject: receivers reject mail that fails DMARC');
});
