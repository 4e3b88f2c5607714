/**
 * What the SPF area suggests and says when the record the config makes is itself open, and when the
 * record's all is not its last term (RFC 7208 §5.1), against the loopback test DNS server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { checkSpfArea } from '../../../src/admin/dns-check/spf.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
});
after(() => dns.close());

async function spf(record: string, spfInclude: string[] = []): Promise<Check[]> {
  dns.setZone({
    records: {
      'example.org': { MX: [{ priority: 10, exchange: 'mail.example.org' }], TXT: [record] },
      'mail.example.org': { A: ['192.0.2.20'], TXT: ['v=spf1 a -all'] },
      '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject; rua=mailto:d@example.org'] },
    },
  });
  const config = parseConfig(
    {
      hostname: 'mail.example.org',
      domains: ['example.org'],
      serverAddresses: ['192.0.2.20'],
      publish: { spfInclude },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
    },
    'test',
  );
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  return checkSpfArea({ domain: 'example.org', config, resolver } as unknown as CheckContext);
}
const find = (checks: Check[], id: string) => checks.find((c) => c.id === id);

test('spf.open never suggests the open terms publish.spfInclude adds; it names them as left out', async () => {
  const checks = await spf('v=spf1 mx ip4:0.0.0.0/0 -all', ['ip4:0.0.0.0/0', 'ip4:198.51.100.7']);
  const open = find(checks, 'spf.open');
  assert.equal(open?.status, 'fail', JSON.stringify(checks));
  const suggested = /as in "([^"]*)"/.exec(open?.fix ?? '')?.[1];
  assert.equal(suggested, 'v=spf1 mx ip4:198.51.100.7 -all', open?.fix);
  assert.match(open?.fix ?? '', /left out: ip4:0\.0\.0\.0\/0 from publish\.spfInclude, which passes any address/);
  // The same for a domain with no record yet: publishing the suggestion must not open it.
  const none = find(await spf('site-verification=1', ['ip4:0.0.0.0/0']), 'spf.record');
  assert.equal(none?.status, 'fail');
  assert.match(none?.fix ?? '', /^Publish "example\.org\. TXT \\"v=spf1 mx -all\\"" .* \(left out: ip4:0\.0\.0\.0\/0/);
  // Nothing open in the config: the suggestion is the record `dns records` prints, with nothing said.
  const plain = find(await spf('v=spf1 mx ip4:0.0.0.0/0 -all', ['ip4:198.51.100.7']), 'spf.open');
  assert.equal(
    plain?.fix,
    'In the SPF record, narrow ip4:0.0.0.0/0 to the addresses that send your mail, as in "v=spf1 mx ip4:198.51.100.7 -all".',
  );
});

test('terms after all are said to be ignored, and the fix moves the all instead of adding what is there (RFC 7208 §5.1)', async () => {
  const checks = await spf('v=spf1 -all mx');
  const all = find(checks, 'spf.all');
  assert.equal(all?.status, 'warn', JSON.stringify(checks));
  assert.doesNotMatch(all?.summary ?? '', /ends in/);
  assert.equal(
    all?.summary,
    '-all is not the last term: mx after it is ignored, receivers stop at -all (RFC 7208 §5.1)',
  );
  assert.equal(all?.fix, 'Move -all to the end of the mechanisms: "v=spf1 mx -all".');
  const authorizes = find(checks, 'spf.authorizes');
  assert.equal(authorizes?.status, 'fail');
  assert.doesNotMatch(authorizes?.fix ?? '', /^Add /);
  assert.match(authorizes?.fix ?? '', /^Move -all to the end of the SPF record: mx after it is never evaluated/);
  // Modifiers may stand after all (RFC 7208 §6): nothing is ignored.
  const exp = find(await spf('v=spf1 mx -all exp=explain.example.org'), 'spf.all');
  assert.equal(exp?.status, 'pass');
  assert.equal(exp?.summary, 'ends in -all');
});
