/**
 * Issue 7: "The generated records, loaded into the test DNS server, make dns check pass." What
 * `postern dns records` prints (admin/dns-records.ts) becomes the zone (admin/records-test-zone.ts); the
 * MTA-STS policy served is the one postern serves (admin/mta-sts-policy.ts); CAA, which the test DNS
 * server cannot hold, comes from the generated CAA records through the injected CAA lookup.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CaaRecord } from '../../../src/admin/dns-check/caa-lookup.ts';
import { exitCode, renderTable } from '../../../src/admin/dns-check/report.ts';
import { recordsFor } from '../../../src/admin/dns-records.ts';
import { mtaStsPolicy } from '../../../src/admin/mta-sts-policy.ts';
import { recordsToTestZone } from '../../../src/admin/records-test-zone.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { configInput, DOMAIN, type Fixture, nonPass, startFixture } from './fixture.ts';

let fx: Fixture;
before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

// The mail host at 127.0.0.1, so the policy host (a CNAME to it) and the probe stay on loopback; dns check
// rightly warns that the internet cannot reach that address (names.address, mx.target).
const overrides = { serverAddresses: ['127.0.0.1'], mtaSts: { mode: 'enforce' as const, listen: '127.0.0.1:0' } };

test('the records dns records generates pass dns check (exit 0)', async () => {
  const config = parseConfig(configInput(overrides), 'test');
  const records = await recordsFor(DOMAIN, {
    config,
    store: { listDkimKeys: async () => [fx.dkimKey] },
    certificates: [{ source: 'mx.crt', pem: fx.mailCertificate, selfSigned: false }],
  });
  const { zone, skipped } = recordsToTestZone(records);
  const caa: Record<string, CaaRecord[]> = {};
  for (const record of skipped.filter((r) => r.type === 'CAA')) {
    const [flags = '0', tag = '', value = ''] = record.value.split(' ');
    caa[record.name] ??= [];
    caa[record.name]?.push({ critical: (Number(flags) & 128) !== 0, tag, value: value.replace(/^"|"$/g, '') });
  }
  assert.ok(caa[DOMAIN], 'a CAA record is generated');
  const checks = await fx.run({
    replaceZone: zone,
    config: overrides,
    caa,
    policy: { body: mtaStsPolicy(config).text },
    keys: () => [fx.dkimKey],
  });
  const table = renderTable(DOMAIN, checks, { colour: false });
  // The loopback address this test needs is one the internet cannot reach: those warnings, and only those.
  const loopback = checks.filter((c) => c.status !== 'pass' && /127\.0\.0\.1 \(a loopback address/.test(c.summary));
  assert.deepEqual(
    loopback.map((c) => c.id),
    ['names.address', 'mx.target'],
    table,
  );
  const rest = checks.filter((c) => !loopback.includes(c));
  assert.deepEqual(nonPass(rest), [], table);
  assert.equal(exitCode(rest), 0);
});
