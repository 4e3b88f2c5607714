import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDmarc, DmarcDiscoveryCache } from '../../../src/authentication/dmarc/check-dmarc.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../../src/dns/test-server.ts';

test('policy discovery is reused per From domain; a timeout is never kept', async (t) => {
  const dns = await startTestDnsServer({
    records: {
      'cached.example': { A: ['192.0.2.1'] },
      '_dmarc.cached.example': { TXT: ['v=DMARC1; p=reject'] },
      'slow.example': { A: ['192.0.2.2'] },
    },
    timeout: ['_dmarc.slow.example'],
  });
  t.after(() => dns.close());
  // No resolver cache: every DNS question the DMARC code asks reaches the server and is counted.
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 200, tries: 1, cacheTtlMs: 0 });
  const cache = new DmarcDiscoveryCache(60_000);
  const input = (from: string) => ({
    headerFrom: [from],
    fromFields: 1,
    spf: { result: 'pass' as const, domain: 'cached.example' },
    dkim: [],
    resolver,
    cache,
  });
  const asked = (name: string) => dns.queries.filter((q) => q.name.toLowerCase() === name).length;

  const first = await checkDmarc(input('a@cached.example'));
  const second = await checkDmarc(input('b@cached.example'));
  assert.equal(first.result, 'pass');
  assert.deepEqual(second, first);
  assert.equal(asked('_dmarc.cached.example'), 1);
  // The alignment is still this message's own: an SPF pass for another domain does not align.
  const other = await checkDmarc({
    ...input('c@cached.example'),
    spf: { result: 'pass', domain: 'elsewhere.example' },
  });
  assert.equal(other.result, 'fail');
  assert.equal(asked('_dmarc.cached.example'), 1);

  assert.equal((await checkDmarc(input('a@slow.example'))).result, 'temperror');
  assert.equal((await checkDmarc(input('a@slow.example'))).result, 'temperror');
  assert.equal(asked('_dmarc.slow.example'), 2);
});

test('a From read as two Author Domains is judged as such, whatever the cache holds for the last one', async (t) => {
  const dns = await startTestDnsServer({
    records: {
      'bank.example': { A: ['192.0.2.1'] },
      '_dmarc.bank.example': { TXT: ['v=DMARC1; p=reject'] },
      'evil.example': { A: ['192.0.2.2'] },
    },
  });
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 200, tries: 1, cacheTtlMs: 0 });
  const cache = new DmarcDiscoveryCache(60_000);
  const check = (from: string) =>
    checkDmarc({
      headerFrom: [from],
      fromFields: 1,
      spf: { result: 'pass', domain: 'evil.example' },
      dkim: [],
      resolver,
      cache,
    });
  const spoof = 'ceo@bank.example@evil.example'; // unquoted "@" twice: two Author Domains (RFC 7489 §6.6.1)
  const cold = await check(spoof);
  assert.equal(cold.result, 'fail');
  assert.equal(cold.disposition, 'reject');
  // An ordinary message of the attacker's domain fills the cache for evil.example ...
  assert.equal((await check('someone@evil.example')).result, 'none');
  // ... and the crafted From is still judged for both domains (the old key, the text after the last "@",
  // found that entry and passed it as evil.example's alone).
  const warm = await check(spoof);
  assert.equal(warm.result, 'fail');
  assert.equal(warm.disposition, 'reject');
  assert.deepEqual(warm.authorDomains, ['bank.example', 'evil.example']);
});
