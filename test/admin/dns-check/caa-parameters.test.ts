/**
 * CAA issue parameters (RFC 8657) and the CA a config only guesses, against CAA answers from the loopback
 * test DNS server and the ACME account file this server writes (tls/acme/account.ts) in a real data directory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { checkCaa } from '../../../src/admin/dns-check/caa.ts';
import { createCaaLookup } from '../../../src/admin/dns-check/caa-lookup.ts';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { saveAccount } from '../../../src/tls/acme/account.ts';
import { tempDir } from '../../support/server.ts';

const LE = 'https://acme-v02.api.letsencrypt.org/directory';
const OURS = 'https://acme-v02.api.letsencrypt.org/acme/acct/424242';
const THEIRS = 'https://acme-v02.api.letsencrypt.org/acme/acct/1';

let dns: TestDnsServer;
let root: string;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
  root = tempDir('postern-caa-params-');
});
after(async () => {
  await dns.close();
  fs.rmSync(root, { recursive: true, force: true });
});

let dirs = 0;
/** A data directory, with this server's ACME account registered at `account` when given. */
async function dataDir(account?: string): Promise<string> {
  const dir = path.join(root, String(dirs++));
  fs.mkdirSync(path.join(dir, 'tls', 'acme'), { recursive: true });
  if (account !== undefined) await saveAccount(path.join(dir, 'tls', 'acme'), LE, account);
  return dir;
}

const acme = (challenges: object) => ({
  acme: { directory: LE, termsOfServiceAgreed: true as const, hostnames: ['mail.example.org'], ...challenges },
});
const HTTP01 = { http01: { listen: '127.0.0.1:8080' } };
const ALPN01 = { tlsAlpn01: { listen: '127.0.0.1:8443' } };

/** caa.issuers for mail.example.org with `values` as the issue properties at example.org. */
async function caaCheck(values: string[], config: Partial<ConfigInput>, dir?: string): Promise<Check> {
  dns.setZone({
    records: { 'example.org': { CAA: values.map((value) => ({ flags: 0, tag: 'issue', value })) } },
  });
  const ctx = {
    domain: 'example.org',
    config: parseConfig(
      {
        hostname: 'mail.example.org',
        domains: ['example.org'],
        dataDir: dir ?? (await dataDir()),
        dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
        ...config,
      },
      'test',
    ),
    caa: createCaaLookup({ servers: [dns.server], timeoutMs: 1000, tries: 1 }),
  } as unknown as CheckContext;
  const [check] = await checkCaa(ctx);
  assert.ok(check);
  return check;
}

test('validationmethods= without the challenge this server answers: the CA refuses it (RFC 8657 §4)', async () => {
  const dns01 = await caaCheck(['letsencrypt.org; validationmethods=dns-01'], { tls: acme(HTTP01) });
  assert.equal(dns01.status, 'fail', JSON.stringify(dns01));
  assert.match(dns01.summary, /validationmethods=dns-01, and this server answers http-01 \(tls\.acme\.http01\)/);
  assert.match(dns01.summary, /refuses this server's certificate orders/);
  assert.match(dns01.fix ?? '', /Let the CA use http-01: add it to validationmethods=/);
  // tls-alpn-01 only: RFC 8657's name for it.
  const alpn = await caaCheck(['letsencrypt.org; validationmethods=http-01'], { tls: acme(ALPN01) });
  assert.equal(alpn.status, 'fail');
  assert.match(alpn.summary, /this server answers tls-alpn-01 \(tls\.acme\.tlsAlpn01\)/);
  // Both responders on: http-01 is answered first (issue.ts), so a tls-alpn-01-only record refuses it.
  const both = await caaCheck(['letsencrypt.org; validationmethods=tls-alpn-01'], {
    tls: acme({ ...HTTP01, ...ALPN01 }),
  });
  assert.equal(both.status, 'fail');
  // The method listed, alone or among others: allowed.
  for (const value of [
    'letsencrypt.org; validationmethods=http-01',
    'letsencrypt.org;validationmethods=dns-01,http-01',
  ]) {
    const ok = await caaCheck([value], { tls: acme(HTTP01) });
    assert.equal(ok.status, 'pass', `${value}: ${JSON.stringify(ok)}`);
    assert.equal(ok.summary, 'CAA at example.org allows letsencrypt.org to issue for mail.example.org');
  }
  // Any property naming the CA that allows the order is enough (RFC 8659 §4.2).
  const either = await caaCheck(['letsencrypt.org; validationmethods=dns-01', 'letsencrypt.org'], {
    tls: acme(HTTP01),
  });
  assert.equal(either.status, 'pass');
});

test('accounturi= naming another ACME account fails; this account passes; an account not known here warns (RFC 8657 §3)', async () => {
  const config = { tls: acme(HTTP01) };
  const other = await caaCheck([`letsencrypt.org; accounturi=${THEIRS}`], config, await dataDir(OURS));
  assert.equal(other.status, 'fail', JSON.stringify(other));
  assert.match(other.summary, new RegExp(`only to the ACME account ${THEIRS}, not this server's \\(${OURS}\\)`));
  assert.match(other.fix ?? '', new RegExp(`accounturi=${OURS}`));
  const ours = await caaCheck([`letsencrypt.org; accounturi=${OURS}`], config, await dataDir(OURS));
  assert.equal(ours.status, 'pass', JSON.stringify(ours));
  // Before the first order there is no account file: a warning, never "another account".
  const unknown = await caaCheck([`letsencrypt.org; accounturi=${THEIRS}`], config, await dataDir());
  assert.equal(unknown.status, 'warn', JSON.stringify(unknown));
  assert.match(unknown.summary, /this server's ACME account is not known here/);
  assert.match(unknown.fix ?? '', /account\.json/);
});

test('no ACME and no publish.caaIssuers: letsencrypt.org is a guess, so a CAA for another CA only warns', async () => {
  const guessed = await caaCheck(['sectigo.com'], { tls: { selfSigned: true } });
  assert.equal(guessed.status, 'warn', JSON.stringify(guessed));
  assert.doesNotMatch(guessed.summary, /renewals will fail|the CA in use/);
  assert.match(guessed.summary, /no certificate here comes from a CA through ACME/);
  assert.match(guessed.fix ?? '', /set publish\.caaIssuers/);
  // The admin named the CA: a CAA refusing it stays a failure, without the ACME "renewals".
  const named = await caaCheck(['letsencrypt.org'], { publish: { caaIssuers: ['sectigo.com'] } });
  assert.equal(named.status, 'fail');
  assert.match(named.summary, /not sectigo\.com \(publish\.caaIssuers\): it will refuse to issue or renew/);
  // With ACME the CA is the one in use: unchanged.
  const inUse = await caaCheck(['sectigo.com'], { tls: acme(HTTP01) });
  assert.equal(inUse.status, 'fail');
  assert.match(inUse.summary, /\(the CA in use\): renewals will fail/);
});
