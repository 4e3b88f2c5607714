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

test('a kept discovery lives no longer than the shortest TTL of the answers the walk read (RFC 2181 §8)', async (t) => {
  // changed.example's record (TTL 1 s) goes from p=reject to p=none; new.example gets one where the walk
  // found no name (NXDOMAIN, kept for its SOA's MINIMUM of 1 s, RFC 2308 §5); long.example's record keeps
  // the default TTL of 60 s, and the cache's own limit is a minute.
  const soa = { ttl: 60, minimum: 1 };
  const before = {
    records: {
      'changed.example': { A: ['192.0.2.1'] },
      '_dmarc.changed.example': { TXT: ['v=DMARC1; p=reject'] },
      'new.example': { A: ['192.0.2.2'] },
      'long.example': { A: ['192.0.2.3'] },
      '_dmarc.long.example': { TXT: ['v=DMARC1; p=reject'] },
    },
    ttl: { '_dmarc.changed.example/TXT': 1 },
    soa: { '_dmarc.new.example': soa, '_dmarc.example': soa },
  };
  const after = {
    ...before,
    records: {
      ...before.records,
      '_dmarc.changed.example': { TXT: ['v=DMARC1; p=none'] },
      '_dmarc.new.example': { TXT: ['v=DMARC1; p=reject'] },
      '_dmarc.long.example': { TXT: ['v=DMARC1; p=none'] },
    },
  };
  const dns = await startTestDnsServer(before);
  t.after(() => dns.close());
  // The resolver's own cache keeps each answer for its TTL (its default limit, 10 s, is longer than 1 s).
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 200, tries: 1 });
  const cache = new DmarcDiscoveryCache(60_000);
  const check = (domain: string) =>
    checkDmarc({
      headerFrom: [`a@${domain}`],
      fromFields: 1,
      spf: { result: 'fail', domain },
      dkim: [],
      resolver,
      cache,
    });
  assert.equal((await check('changed.example')).disposition, 'reject');
  assert.equal((await check('new.example')).result, 'none');
  assert.equal((await check('long.example')).disposition, 'reject');
  dns.setZone(after);
  // Past the 1 s TTLs (before: each discovery was kept for the cache's full minute).
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const changed = await check('changed.example');
  assert.equal(changed.result, 'fail');
  assert.equal(changed.disposition, 'none');
  assert.equal((await check('new.example')).disposition, 'reject');
  assert.equal((await check('long.example')).disposition, 'reject', 'a 60 s TTL: still the kept discovery');
});
