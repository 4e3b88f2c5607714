/** Policy discovery (discovery.ts): the DNS Tree Walk, RFC 9989 §4.10, §4.10.1, §4.10.2, Appendix A.4. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  discoverPolicy,
  domainExists,
  organizationalDomain,
  treeWalk,
} from '../../../src/authentication/dmarc/discovery.ts';
import type { DnsAnswer, Resolver } from '../../../src/dns/resolver.ts';

type Zone = Record<string, { TXT?: string[]; A?: string[]; CNAME?: string[]; temperror?: boolean }>;

/** An in-memory Resolver that logs every question: absent names are NXDOMAIN. */
function fake(zone: Zone): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const answer =
    (type: 'TXT' | 'A' | 'CNAME') =>
    async (name: string): Promise<DnsAnswer<string>> => {
      asked.push(`${type} ${name}`);
      // As src/dns/system-resolver.ts: a label with a character it does not send is never asked.
      if (name.split('.').some((label) => !/^[A-Za-z0-9_\-/*]+$/.test(label))) {
        return { ok: false, error: 'temperror', reason: `EBADNAME looking up ${type} ${name}` };
      }
      const node = zone[name];
      if (node === undefined) return { ok: false, error: 'nxdomain' };
      if (node.temperror) return { ok: false, error: 'temperror', reason: 'ETIMEOUT timed out' };
      const records = node[type];
      return records ? { ok: true, records } : { ok: false, error: 'nodata' };
    };
  const unused = async (): Promise<never> => assert.fail('not asked by DMARC');
  return {
    asked,
    txt: answer('TXT'),
    a: answer('A'),
    cname: answer('CNAME'),
    aaaa: unused,
    mx: unused,
    ptr: unused,
    tlsa: unused,
  };
}

test('the walk queries the name and each parent; at most eight queries for a long name (§4.10 step 4)', async () => {
  const dns = fake({});
  const long = 'a.b.c.d.e.f.g.h.i.j.example.com';
  const { found, error } = await treeWalk(long, dns);
  assert.deepEqual([found, error], [[], undefined]);
  assert.deepEqual(dns.asked, [
    `TXT _dmarc.${long}`,
    'TXT _dmarc.f.g.h.i.j.example.com', // twelve labels shortened straight to seven
    'TXT _dmarc.g.h.i.j.example.com',
    'TXT _dmarc.h.i.j.example.com',
    'TXT _dmarc.i.j.example.com',
    'TXT _dmarc.j.example.com',
    'TXT _dmarc.example.com',
    'TXT _dmarc.com',
  ]);
});

test('psd=n and psd=y stop the walk (§4.10 step 3); psd=u does not', async () => {
  const zone: Zone = {
    '_dmarc.org.example': { TXT: ['v=DMARC1; p=reject; psd=n'] },
    '_dmarc.example': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.psd.test': { TXT: ['v=DMARC1; p=quarantine; psd=y'] },
    '_dmarc.test': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.u.example': { TXT: ['v=DMARC1; p=reject; psd=u'] },
  };
  let dns = fake(zone);
  await treeWalk('a.b.org.example', dns);
  assert.deepEqual(dns.asked, ['TXT _dmarc.a.b.org.example', 'TXT _dmarc.b.org.example', 'TXT _dmarc.org.example']);
  assert.equal(organizationalDomain('a.b.org.example'), 'org.example');

  dns = fake(zone);
  await treeWalk('a.b.psd.test', dns);
  assert.equal(dns.asked.at(-1), 'TXT _dmarc.psd.test');
  // The organizational domain is the Public Suffix List's, as alignment's: a psd=y the list does not
  // know of does not make psd.test a public suffix (its record is the organizational one).
  assert.equal(organizationalDomain('a.b.psd.test'), 'psd.test');

  dns = fake(zone);
  const u = await treeWalk('x.u.example', dns);
  assert.deepEqual(
    u.found.map((e) => e.domain),
    ['u.example', 'example'],
  );
  assert.equal(dns.asked.length, 3);
  assert.equal(organizationalDomain('x.u.example'), 'u.example'); // not the public suffix's record
});

test('a temporary failure stops the walk and is returned with what was found before', async () => {
  const dns = fake({
    '_dmarc.a.b.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.b.example': { temperror: true },
  });
  const { found, error } = await treeWalk('a.b.example', dns);
  assert.deepEqual(
    found.map((e) => e.domain),
    ['a.b.example'],
  );
  assert.match(error?.message ?? '', /_dmarc\.b\.example: ETIMEOUT/);
  assert.equal(dns.asked.length, 2);
  // The Author Domain's own record applies anyway (§4.10.1) ...
  const own = await discoverPolicy('a.b.example', dns);
  assert.deepEqual([own.result, own.result === 'found' && own.policy], ['found', 'reject']);
  // ... but without one the policy is unknown.
  const other = await discoverPolicy('c.b.example', dns);
  assert.equal(other.result, 'temperror');
});

test('several DMARC records, or none valid, count as no record (§4.10 steps 2, 6)', async () => {
  const dns = fake({
    '_dmarc.two.example': { TXT: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] },
    '_dmarc.mixed.example': { TXT: ['v=spf1 -all', 'v=DMARC1; p=quarantine'] },
    '_dmarc.nop.example': { TXT: ['v=DMARC1; adkim=s'] },
  });
  assert.deepEqual(await discoverPolicy('two.example', dns), { result: 'none', domain: 'two.example' });
  const mixed = await discoverPolicy('mixed.example', dns);
  assert.equal(mixed.result === 'found' && mixed.policy, 'quarantine');
  assert.deepEqual(await discoverPolicy('nop.example', dns), { result: 'none', domain: 'nop.example' });
});

test('a subdomain takes sp, or np when it does not exist (§4.10.1); a failed existence query is reported', async () => {
  const zone: Zone = {
    '_dmarc.org.example': { TXT: ['v=DMARC1; p=reject; sp=quarantine; np=none'] },
    'real.org.example': { A: ['192.0.2.1'] },
    'mx-only.org.example': { TXT: ['x'] },
    'alias.org.example': { CNAME: ['gone.example'] },
    'broken.org.example': { temperror: true },
  };
  const policy = async (domain: string) => {
    const d = await discoverPolicy(domain, fake(zone));
    assert.equal(d.result, 'found');
    return d.result === 'found' ? [d.policyDomain, d.policy, d.existenceError !== undefined] : [];
  };
  assert.deepEqual(await policy('org.example'), ['org.example', 'reject', false]);
  assert.deepEqual(await policy('real.org.example'), ['org.example', 'quarantine', false]);
  assert.deepEqual(await policy('mx-only.org.example'), ['org.example', 'quarantine', false]); // NODATA exists
  assert.deepEqual(await policy('alias.org.example'), ['org.example', 'quarantine', false]);
  assert.deepEqual(await policy('ghost.org.example'), ['org.example', 'none', false]);
  assert.deepEqual(await policy('broken.org.example'), ['org.example', 'none', true]); // the weaker, flagged
  assert.equal(await domainExists('bad..example', fake(zone)), false);
});

test('domain literals and IP addresses publish no policy; nothing is asked', async () => {
  const dns = fake({});
  assert.equal((await discoverPolicy('[192.0.2.1]', dns)).result, 'none');
  assert.equal((await discoverPolicy('192.0.2.1', dns)).result, 'none');
  assert.deepEqual(dns.asked, []);
});

test('a name the resolver refuses (EBADNAME) or DNS cannot hold is no name without a record', async () => {
  const zone: Zone = { '_dmarc.org.example': { TXT: ['v=DMARC1; p=reject'] } };
  for (const domain of ['victim.example!', 'victim.example\u0000', 'victim..example', `${'a'.repeat(64)}.example`]) {
    const d = await discoverPolicy(domain, fake(zone));
    assert.equal(d.result, 'invalid', JSON.stringify(domain));
    assert.ok(d.result === 'invalid' && d.error.length > 0);
  }
  // The walk goes on past such a name: a parent's record applies (§4.10.1), and the refused name
  // does not exist (Appendix A.4), so np would be chosen.
  const below = await discoverPolicy('x!.org.example', fake(zone));
  assert.deepEqual([below.result, below.result === 'found' && below.policyDomain], ['found', 'org.example']);
  // A name that can be asked about and holds nothing is still no record.
  assert.equal((await discoverPolicy('plain.example', fake(zone))).result, 'none');
});

test("the walk stops at the record that decides: the Author Domain's own, or its Organizational Domain's", async () => {
  // Before: it went on to the TLD, so a slow or failing TLD server held every message up (RFC 9989 §4.10.1:
  // the Author Domain's record applies as found, and a PSD policy is not used for an Organizational Domain
  // that has one).
  const zone: Zone = {
    '_dmarc.own.bank.example': { TXT: ['v=DMARC1; p=quarantine'] },
    '_dmarc.bank.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.example': { temperror: true },
  };
  const walk = async (domain: string) => {
    const dns = fake(zone);
    const d = await discoverPolicy(domain, dns);
    return [d.result === 'found' ? `${d.policyDomain} ${d.policy}` : d.result, dns.asked];
  };
  assert.deepEqual(await walk('own.bank.example'), ['own.bank.example quarantine', ['TXT _dmarc.own.bank.example']]);
  assert.deepEqual(await walk('bank.example'), ['bank.example reject', ['TXT _dmarc.bank.example']]);
  assert.deepEqual(await walk('x.bank.example'), [
    'bank.example reject',
    ['TXT _dmarc.x.bank.example', 'TXT _dmarc.bank.example'],
  ]);
  // Without a record at the Organizational Domain the walk goes on: a psd=y above it may apply.
  const psd: Zone = { '_dmarc.example': { TXT: ['v=DMARC1; p=quarantine; psd=y'] } };
  const dns = fake(psd);
  const d = await discoverPolicy('x.nopolicy.example', dns);
  assert.deepEqual([d.result, d.result === 'found' && d.policyDomain], ['found', 'example']);
  assert.deepEqual(dns.asked.slice(0, 3), [
    'TXT _dmarc.x.nopolicy.example',
    'TXT _dmarc.nopolicy.example',
    'TXT _dmarc.example',
  ]);
});

test('a failure between the Author Domain and its Organizational Domain defers only if that has no record', async () => {
  // Before: the walk stopped at the failure and deferred, though the Organizational Domain's record
  // decides when it exists (§4.10.1).
  const zone: Zone = {
    '_dmarc.b.bank4.example': { temperror: true },
    '_dmarc.c.bank4.example': { temperror: true },
    '_dmarc.bank4.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.b.nopolicy.example': { temperror: true },
    '_dmarc.b.slow.example': { temperror: true },
    '_dmarc.slow.example': { temperror: true },
  };
  const dns = fake(zone);
  const d = await discoverPolicy('x.b.bank4.example', dns);
  assert.deepEqual(
    [d.result, d.result === 'found' && d.policyDomain, d.result === 'found' && d.policy],
    ['found', 'bank4.example', 'reject'],
  );
  assert.deepEqual(dns.asked, [
    'TXT _dmarc.x.b.bank4.example',
    'TXT _dmarc.b.bank4.example',
    'TXT _dmarc.bank4.example',
  ]);
  // The Author Domain's own record unknown: it would apply, whatever the Organizational Domain says.
  assert.equal((await discoverPolicy('c.bank4.example', fake(zone))).result, 'temperror');
  // No record at the Organizational Domain: the one that failed might have applied.
  assert.equal((await discoverPolicy('x.b.nopolicy.example', fake(zone))).result, 'temperror');
  // The Organizational Domain's record unknown too.
  assert.equal((await discoverPolicy('x.b.slow.example', fake(zone))).result, 'temperror');
});
