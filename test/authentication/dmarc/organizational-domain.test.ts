/**
 * One organizational domain for policy and alignment (RFC 7489 §3.2, §6.6.3): the Public Suffix List's.
 * A record at a public suffix (`_dmarc.co.uk` without psd=y) is not the policy of names below a
 * registrable domain; a psd=y record is the policy only where the registrable domain publishes none
 * (RFC 9989 §4.10.1). Checked through a real loopback DNS server, with checkDmarc and the verdict, and
 * through the real server for the audit's message. co.uk is a public suffix on the PSL (tldts).
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import { aligned, checkDmarc } from '../../../src/authentication/dmarc/check-dmarc.ts';
import { discoverPolicy, organizationalDomain } from '../../../src/authentication/dmarc/discovery.ts';
import type { DmarcResult } from '../../../src/authentication/dmarc/dmarc-result.ts';
import { decide } from '../../../src/authentication/verdict.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../../support/dns.ts';
import { startTestServer } from '../../support/server.ts';
import { sendToAlice } from '../../support/transaction.ts';

const dmarc = (record: string) => ({ TXT: [record] });
const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    // the audit's zone: a public suffix's own record, without psd=
    '_dmarc.co.uk': dmarc('v=DMARC1; p=none'),
    '_dmarc.bank.co.uk': dmarc('v=DMARC1; p=reject'),
    'bank.co.uk': { A: ['192.0.2.1'] },
    'secure.bank.co.uk': { A: ['192.0.2.1'] },
    '_dmarc.strict.co.uk': dmarc('v=DMARC1; p=reject; adkim=s; aspf=s'),
    'mail.strict.co.uk': { A: ['192.0.2.1'] },
    // psd=y (RFC 9989 §4.10.1): the PSD's policy for registrable domains that publish none
    '_dmarc.org.uk': dmarc('v=DMARC1; p=reject; psd=y'),
    '_dmarc.own.org.uk': dmarc('v=DMARC1; p=none'),
    'a.own.org.uk': { A: ['192.0.2.1'] },
    'quiet.org.uk': { A: ['192.0.2.1'] },
    'a.quiet.org.uk': { A: ['192.0.2.1'] },
    // psd=n at a public suffix does not make it the organizational domain either
    '_dmarc.ltd.uk': dmarc('v=DMARC1; p=none; psd=n'),
    '_dmarc.firm.ltd.uk': dmarc('v=DMARC1; p=quarantine'),
    'x.firm.ltd.uk': { A: ['192.0.2.1'] },
    // the registrant's own names: a psd=n below the organizational domain ends the walk before it
    '_dmarc.corp.example': dmarc('v=DMARC1; p=reject'),
    '_dmarc.dept.corp.example': dmarc('v=DMARC1; p=none; psd=n'),
    'x.dept.corp.example': { A: ['192.0.2.1'] },
  },
};

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  dns = await startTestDnsServer(ZONE);
  resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

const pass = (domain: string): DkimSignatureResult => ({
  result: 'pass',
  domain,
  selector: 's',
  algorithm: 'rsa-sha256',
  reason: 'signature verified',
});

function check(from: string, dkim: DkimSignatureResult[] = []): Promise<DmarcResult> {
  return checkDmarc({
    headerFrom: [from],
    fromFields: 1,
    spf: { result: 'none', domain: 'other.example' },
    dkim,
    resolver,
    random: () => assert.fail('no pct= here'),
  });
}

test("a public suffix's record is not the policy of a registrable domain's subdomain (RFC 7489 §6.6.3)", async () => {
  // before: dmarc=fail (p=none) polrec.domain=co.uk, delivered to the INBOX
  const r = await check('ceo@secure.bank.co.uk');
  assert.deepEqual([r.result, r.policyDomain, r.policy, r.disposition], ['fail', 'bank.co.uk', 'reject', 'reject']);
  assert.equal(
    decide({ spf: undefined, dkim: [], dmarc: r, disposition: r.disposition, enforce: true }).action,
    'reject',
  );
  // the same organizational domain aligns: a DKIM pass of bank.co.uk passes for its subdomain
  assert.equal(organizationalDomain('secure.bank.co.uk'), 'bank.co.uk');
  assert.equal(aligned('bank.co.uk', 'secure.bank.co.uk', 'r'), true);
  assert.equal((await check('ceo@secure.bank.co.uk', [pass('bank.co.uk')])).result, 'pass');
  // From the registrable domain itself, as before
  const own = await check('ceo@bank.co.uk');
  assert.deepEqual([own.result, own.policyDomain, own.disposition], ['fail', 'bank.co.uk', 'reject']);
  // A From of the public suffix itself still gets its own record.
  const suffix = await discoverPolicy('co.uk', resolver);
  assert.deepEqual([suffix.result, suffix.result === 'found' && suffix.policyDomain], ['found', 'co.uk']);
});

test("the organizational domain's adkim=s and aspf=s apply to its subdomains", async () => {
  // before: co.uk's relaxed record applied, so d=strict.co.uk passed for mail.strict.co.uk
  const r = await check('ceo@mail.strict.co.uk', [pass('strict.co.uk')]);
  assert.deepEqual([r.result, r.policyDomain, r.adkim, r.disposition], ['fail', 'strict.co.uk', 's', 'reject']);
  const spf = await checkDmarc({
    headerFrom: ['ceo@mail.strict.co.uk'],
    fromFields: 1,
    spf: { result: 'pass', domain: 'strict.co.uk' },
    dkim: [],
    resolver,
  });
  assert.deepEqual([spf.result, spf.aspf], ['fail', 's']);
});

test('psd=y is the policy only where the registrable domain publishes none; a longer record wins', async () => {
  const quiet = await check('ceo@a.quiet.org.uk');
  assert.deepEqual([quiet.result, quiet.policyDomain, quiet.disposition], ['fail', 'org.uk', 'reject']);
  const top = await check('ceo@quiet.org.uk');
  assert.deepEqual([top.result, top.policyDomain, top.disposition], ['fail', 'org.uk', 'reject']);
  const own = await check('ceo@a.own.org.uk');
  assert.deepEqual([own.result, own.policyDomain, own.disposition], ['fail', 'own.org.uk', 'none']);
});

test('psd=n at a public suffix does not make it the organizational domain', async () => {
  const r = await check('ceo@x.firm.ltd.uk');
  assert.deepEqual([r.result, r.policyDomain, r.disposition], ['fail', 'firm.ltd.uk', 'quarantine']);
});

test("a walk that a psd= tag ends below the organizational domain still reads that domain's record", async () => {
  const r = await check('ceo@x.dept.corp.example');
  assert.deepEqual([r.result, r.policyDomain, r.disposition], ['fail', 'corp.example', 'reject']);
  assert.equal(aligned('corp.example', 'x.dept.corp.example', 'r'), true);
});

test('through the server: From a subdomain of a p=reject registrable domain under co.uk gets 550', async (t) => {
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  for (const from of ['ceo@secure.bank.co.uk', 'ceo@bank.co.uk']) {
    const content =
      `From: <${from}>\r\nTo: <alice@example.com>\r\nSubject: wire\r\n` +
      `Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@example.net>\r\n\r\nwire the money\r\n`;
    const answer = await sendToAlice(server, 'bounce@example.net', content);
    assert.equal(answer.code, 550, `${from}: ${answer.text}`);
    assert.match(answer.text, /DMARC policy of bank\.co\.uk says reject/);
  }
});
