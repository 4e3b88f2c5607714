/**
 * The MTA-STS checks against the policy host Postern itself serves (RFC 8461 §3.3): real HTTPS on
 * 127.0.0.1 with a certificate from a test CA, the test DNS server for the zone. What they catch that a
 * hand-served policy does not show: several MX hosts against the policy's mx lines (§4.1), and a policy
 * host still serving the policy of the config it was started with (§3.1).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { createHttpsFetch } from '../../../src/admin/dns-check/https-fetch.ts';
import { checkMtaSts } from '../../../src/admin/dns-check/mta-sts.ts';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { mtaStsPolicy } from '../../../src/admin/mta-sts-policy.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { Config, ConfigInput } from '../../../src/config/schema.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { type MtaStsServer, startMtaStsServer } from '../../../src/server/mta-sts-server.ts';
import { CertificateStore } from '../../../src/tls/certificate-store.ts';
import { createTestCa, type TestCa } from '../../support/test-ca.ts';
import { captureLogger } from '../../tls/tls-kit.ts';

let ca: TestCa;
let certificates: CertificateStore;
let dns: TestDnsServer;
before(async () => {
  ca = await createTestCa();
  certificates = new CertificateStore();
  const { cert, key } = await ca.issue(['mta-sts.example.com']);
  certificates.addPem(cert, key, { source: 'mta-sts', default: true });
  dns = await startTestDnsServer({ records: {} });
});
after(async () => {
  await dns?.close();
});

/** A node's config: mx.example.com unless `hostname` says otherwise, serving the policy. */
const nodeConfig = (mtaSts: ConfigInput['mtaSts'] = {}, hostname = 'mx.example.com') =>
  parseConfig(
    { hostname, domains: ['example.com'], mtaSts: { mode: 'enforce', listen: '127.0.0.1:0', ...mtaSts } },
    'test',
  );

/** Starts the policy host with `served` (a node as started), and checks example.com with `config` (as edited). */
async function check(
  t: { after(fn: () => unknown): void },
  served: Config,
  config: Config,
  mxHosts: string[] = ['mx.example.com'],
): Promise<Check[]> {
  const server: MtaStsServer = await startMtaStsServer({
    listen: '127.0.0.1:0',
    config: served,
    certificates,
    logger: captureLogger().logger,
  });
  t.after(() => server.close());
  dns.setZone({
    records: {
      'example.com': { MX: mxHosts.map((exchange) => ({ priority: 10, exchange })) },
      // The id `postern dns records` prints for the config as it is now.
      '_mta-sts.example.com': { TXT: [`v=STSv1; id=${mtaStsPolicy(config).id}`] },
      'mta-sts.example.com': { A: ['127.0.0.1'] },
      ...Object.fromEntries(mxHosts.map((host, i) => [host, { A: [`192.0.2.${i + 1}`] }])),
    },
  });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  const ctx = {
    domain: 'example.com',
    config,
    resolver,
    fetch: createHttpsFetch({ resolver, ca: [ca.ca], port: server.port, timeoutMs: 5000 }),
    mx: resolver.mx('example.com'),
  } as Partial<CheckContext> as CheckContext;
  return checkMtaSts(ctx);
}

const find = (checks: Check[], id: string) => {
  const found = checks.find((c) => c.id === id);
  assert.ok(found, `no ${id} in ${JSON.stringify(checks)}`);
  return found;
};

test('the policy host serving the policy of this config: every MTA-STS check passes', async (t) => {
  const config = nodeConfig();
  const checks = await check(t, config, config);
  assert.deepEqual(
    checks.filter((c) => c.status !== 'pass'),
    [],
  );
  assert.deepEqual(checks.map((c) => c.id).sort(), [
    'mta-sts.max-age',
    'mta-sts.mode',
    'mta-sts.mx',
    'mta-sts.policy',
    'mta-sts.record',
  ]);
});

test('a policy host serving an older policy than the config (edited, serve not restarted) fails mta-sts.policy', async (t) => {
  // Started with mode enforce; postern.yaml then says testing and the new id is published.
  const checks = await check(t, nodeConfig({ mode: 'enforce' }), nodeConfig({ mode: 'testing' }));
  assert.equal(find(checks, 'mta-sts.record').status, 'pass', 'the published id is the one this config makes');
  const policy = find(checks, 'mta-sts.policy');
  assert.equal(policy.status, 'fail');
  assert.match(policy.summary, /^the policy host serves an older policy than this config: /);
  assert.match(policy.summary, /has "mode: enforce, mx: mx\.example\.com, max_age: 604800"/);
  assert.match(policy.summary, /this config makes "mode: testing, mx: mx\.example\.com, max_age: 604800"/);
  assert.match(policy.fix ?? '', /^Restart postern serve/);
  // The served policy is what senders apply: its fields are still judged.
  assert.equal(find(checks, 'mta-sts.mode').status, 'pass', 'mode: enforce is what is served');

  // An mtaSts.mx edit not yet served is caught the same way.
  const mx = await check(t, nodeConfig(), nodeConfig({ mx: ['mx.example.com', 'mx2.example.com'] }));
  assert.equal(find(mx, 'mta-sts.policy').status, 'fail');
});

test('several MX hosts of equal priority (docs/scaling.md): mtaSts.mx lists them, every node serves one policy', async (t) => {
  const both = ['mx.example.com', 'mx2.example.com'];
  // Before mtaSts.mx: each node's policy named its own hostname only, so under enforce senders refused
  // the other node (RFC 8461 §4.1), and the fix asked for a policy no setting could make.
  const alone = await check(t, nodeConfig(), nodeConfig(), both);
  const uncovered = find(alone, 'mta-sts.mx');
  assert.equal(uncovered.status, 'fail');
  assert.match(uncovered.summary, /MX host mx2\.example\.com matches no mx: line/);
  assert.match(uncovered.fix ?? '', /mtaSts\.mx in postern\.yaml \(e\.g\. mx: \[mx\.example\.com, mx2\.example\.com\]/);
  assert.match(uncovered.fix ?? '', /the same on every node/);

  const listed = nodeConfig({ mx: both });
  const checks = await check(t, listed, listed, both);
  assert.deepEqual(
    checks.filter((c) => c.status !== 'pass'),
    [],
  );
  assert.match(find(checks, 'mta-sts.mx').summary, /\(mx\.example\.com, mx2\.example\.com\) covers every MX host/);
  // The other node, with its own hostname and the same mtaSts, serves the same policy under the same id.
  assert.deepEqual(mtaStsPolicy(nodeConfig({ mx: both }, 'mx2.example.com')), mtaStsPolicy(listed));

  const wildcard = nodeConfig({ mx: ['*.example.com'] });
  assert.equal(find(await check(t, wildcard, wildcard, both), 'mta-sts.mx').status, 'pass');
});
