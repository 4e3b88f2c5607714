/**
 * DANE's DNSSEC check with no injected lookup: the default (src/dns/dnssec.ts) asks the configured
 * resolver, the loopback test DNS server, for the AD bit over real UDP. The zone's `signed` names answer
 * with AD as a validating resolver's would; the root among them says the resolver validates.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exitCode, renderTable } from '../../../src/admin/dns-check/report.ts';
import type { TestZone } from '../../../src/dns/test-server.ts';
import { type Defect, DOMAIN, type Fixture, HOST, nonPass, startFixture } from './fixture.ts';

let fx: Fixture;
before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

const TLSA_OWNER = `_25._tcp.${HOST}`;
const ALL_SIGNED = ['.', DOMAIN, HOST, TLSA_OWNER];

/** The real lookup (no injected one), with the zone's AD answers as given. */
const withZone = (edit: (zone: TestZone) => void): Defect => ({ dnssec: null, zone: edit });
const signedExcept = (...unsigned: string[]) =>
  withZone((z) => {
    z.signed = ALL_SIGNED.filter((name) => !unsigned.includes(name));
  });

async function dane(defect: Defect) {
  const checks = await fx.run(defect);
  const dnssec = checks.find((c) => c.id === 'dane.dnssec');
  assert.ok(dnssec, 'no dane.dnssec check');
  return { checks, dnssec, table: renderTable(DOMAIN, checks, { colour: false }) };
}

test('signed zones pass, and the summary names the validating resolver on loopback', async () => {
  const { checks, dnssec, table } = await dane(signedExcept());
  assert.deepEqual(nonPass(checks), [], table);
  assert.equal(exitCode(checks), 0);
  assert.match(
    dnssec.summary,
    /are DNSSEC-signed \(AD bit from the validating resolver at 127\.0\.0\.1:\d+, on loopback\)/,
  );
});

for (const name of [DOMAIN, HOST, TLSA_OWNER]) {
  test(`${name} unsigned fails, saying which resolver found no AD bit`, async () => {
    const { checks, dnssec, table } = await dane(signedExcept(name));
    assert.deepEqual(nonPass(checks), ['dane.dnssec'], table);
    assert.equal(exitCode(checks), 2);
    assert.match(
      dnssec.summary,
      new RegExp(
        `^${name.replace(/\./g, '\\.')} is not DNSSEC-signed \\(no AD bit from the validating resolver at 127\\.0\\.0\\.1:\\d+\\)`,
      ),
    );
    assert.ok(dnssec.fix);
  });
}

test('a resolver that does not validate: a warning to use one that does, not a verdict on the zone', async () => {
  const { checks, dnssec, table } = await dane(signedExcept('.', DOMAIN, HOST, TLSA_OWNER));
  assert.deepEqual(nonPass(checks), ['dane.dnssec'], table);
  assert.equal(exitCode(checks), 1);
  assert.match(dnssec.summary, /does not validate/);
  assert.match(dnssec.fix ?? '', /validating resolver/);
});

test('a DNS timeout warns (could not check)', async () => {
  const { checks, dnssec, table } = await dane(
    withZone((z) => {
      z.signed = ALL_SIGNED;
      z.timeout = [`${DOMAIN}/SOA`];
    }),
  );
  assert.deepEqual(nonPass(checks), ['dane.dnssec'], table);
  assert.equal(exitCode(checks), 1);
  assert.match(dnssec.summary, /^could not check: DNS timeout/);
});

test('SERVFAIL warns, pointing at signatures that may not validate', async () => {
  const { checks, dnssec, table } = await dane(
    withZone((z) => {
      z.signed = ALL_SIGNED;
      z.servfail = [`${HOST}/SOA`];
    }),
  );
  assert.deepEqual(nonPass(checks), ['dane.dnssec'], table);
  assert.equal(exitCode(checks), 1);
  assert.match(dnssec.summary, /SERVFAIL .* signatures do not validate/);
  assert.match(dnssec.fix ?? '', /DNSViz/);
});
