/**
 * DANE-TA (usage 2) TLSA records on port 25, against two real Postern servers with certificates from the
 * fixture's CA: one sends its certificate and the CA's, the other its own only. RFC 7672 §3.1.2: a
 * DANE-TA record matches only a certificate the server sends, never one the checker's trust store adds.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { probeServer } from '../../../src/admin/dns-check/probe.ts';
import { renderTable } from '../../../src/admin/dns-check/report.ts';
import type { TestZone } from '../../../src/dns/test-server.ts';
import { startTestServer, type TestServer, tempDir } from '../../support/server.ts';
import { DOMAIN, type Fixture, HOST, nonPass, startFixture } from './fixture.ts';

let fx: Fixture;
let leafOnly: TestServer;
let dir: string;
before(async () => {
  fx = await startFixture();
  dir = tempDir('postern-dane-ta-');
  const issued = await fx.ca.issue([HOST]);
  // The PEM holds the leaf, then the CA: keep the leaf alone.
  const leaf = `${issued.cert.split(/(?<=-----END CERTIFICATE-----)/)[0]}\n`;
  fs.writeFileSync(path.join(dir, 'leaf.crt'), leaf);
  fs.writeFileSync(path.join(dir, 'leaf.key'), issued.key, { mode: 0o600 });
  leafOnly = await startTestServer({
    tls: { certificates: [{ cert: path.join(dir, 'leaf.crt'), key: path.join(dir, 'leaf.key') }] },
  });
});
after(async () => {
  await leafOnly?.stop();
  await fx?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const caSpkiSha256 = () =>
  createHash('sha256')
    .update(new X509Certificate(fx.ca.ca).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
const daneTa = () => ({
  zone: (z: TestZone) => {
    z.records[`_25._tcp.${HOST}`] = { TLSA: [{ usage: 2, selector: 1, matchingType: 1, data: caSpkiSha256() }] };
  },
});

test('the probe records the chain the server sent apart from the chain Node completed from its trust store', async () => {
  const options = { host: '127.0.0.1', ca: [fx.ca.ca], timeoutMs: 5000 };
  const [sent] = (await probeServer(HOST, ['smtp'], { ...options, ports: { smtp: leafOnly.port } })).ports;
  assert.equal(sent?.certificate?.chain.length, 2, 'completed with the trusted root');
  assert.equal(sent?.certificate?.sent?.length, 1, 'as sent: the leaf only');
  const [both] = (await probeServer(HOST, ['smtp'], { ...options, ports: { smtp: fx.postern.port } })).ports;
  assert.equal(both?.certificate?.sent?.length, 2, 'the leaf and the CA, as sent');
});

test('DANE-TA matches a CA certificate the server sends (RFC 7672 §3.1.2)', async () => {
  const checks = await fx.run(daneTa());
  const tlsa = checks.find((c) => c.id === 'dane.tlsa');
  assert.equal(tlsa?.status, 'pass', renderTable(DOMAIN, checks, { colour: false }));
  assert.match(tlsa?.summary ?? '', /^TLSA 2 1 1 matches/);
});

test('DANE-TA naming a root the server does not send fails, though the local trust store has it', async () => {
  const checks = await fx.run({
    ...daneTa(),
    probe: {
      ports: { smtp: leafOnly.port, submission: leafOnly.submissionPort, submissions: leafOnly.submissionsPort },
    },
  });
  const table = renderTable(DOMAIN, checks, { colour: false });
  assert.deepEqual(nonPass(checks), ['dane.tlsa'], table);
  const tlsa = checks.find((c) => c.id === 'dane.tlsa');
  assert.equal(tlsa?.status, 'fail', table);
  assert.match(tlsa?.summary ?? '', /names CN=Postern Test CA, which the server does not send on port 25/);
  assert.match(tlsa?.fix ?? '', /append it to the tls\.certificates file/);
});
