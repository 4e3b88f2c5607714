// tls.certificates: the server serves PEM files, and a renewed pair written over them is served to
// the next client without a restart; a broken replacement leaves the good certificate in place.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type tls from 'node:tls';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { startTestServer, tempDir } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

async function servedFingerprint(port: number): Promise<string> {
  const { client } = await SmtpClient.openTls(port);
  const fingerprint = client.tlsSocket!.getPeerX509Certificate()!.fingerprint256;
  await client.close();
  return fingerprint;
}

test('PEM certificates are reloaded on change without a restart; a broken file keeps the old one', async (t) => {
  const dir = tempDir('postern-certs-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'mx.crt');
  const key = path.join(dir, 'mx.key');
  const first = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  fs.writeFileSync(cert, first.cert);
  fs.writeFileSync(key, first.key, { mode: 0o600 });
  const server = await startTestServer({ tls: { certificates: [{ cert, key }] } });
  t.after(() => server.stop());
  const before = await servedFingerprint(server.submissionsPort);
  assert.equal(before, new X509Certificate(first.cert).fingerprint256);

  const second = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  fs.writeFileSync(key, second.key, { mode: 0o600 });
  fs.writeFileSync(cert, second.cert);
  let now = before;
  for (let i = 0; i < 100 && now === before; i++) {
    await sleep(100);
    now = await servedFingerprint(server.submissionsPort);
  }
  assert.notEqual(now, before, 'the renewed certificate is served within 10 s');

  fs.writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
  await sleep(1500);
  assert.equal(await servedFingerprint(server.submissionsPort), now, 'a broken file does not replace a good one');
});

test('serve warns when no certificate names the hostname, and not when one does', async (t) => {
  const dir = tempDir('postern-cert-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const start = async (hostnames: string[]) => {
    const pair = await createSelfSignedCertificate({ hostnames });
    const cert = path.join(dir, `${hostnames[0]!.replace('*', 'star')}.crt`);
    const key = path.join(dir, `${hostnames[0]!.replace('*', 'star')}.key`);
    fs.writeFileSync(cert, pair.cert);
    fs.writeFileSync(key, pair.key, { mode: 0o600 });
    const server = await startTestServer({ tls: { certificates: [{ cert, key }] }, log: { level: 'warn' } });
    t.after(() => server.stop());
    return server.logs().filter((line) => String(line.msg).startsWith('TLS: no certificate names the hostname'));
  };
  const [warning] = await start(['other.example.net']);
  assert.match(String(warning?.msg), /mx\.example\.com; clients checking it will refuse/);
  assert.deepEqual(await start(['*.example.com']), [], 'a wildcard one label up names it');
  assert.deepEqual(await start(['mx.example.com']), []);
});

test('an RSA and an ECDSA pair for the hostname: an RSA-only client naming it gets RSA, others ECDSA', async (t) => {
  const dir = tempDir('postern-dual-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pairs = [];
  for (const [name, keyAlgorithm] of [
    ['rsa', 'rsa-2048'],
    ['ec', 'ecdsa-p256'],
  ] as const) {
    const pair = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], keyAlgorithm });
    const cert = path.join(dir, `${name}.crt`);
    const key = path.join(dir, `${name}.key`);
    fs.writeFileSync(cert, pair.cert);
    fs.writeFileSync(key, pair.key, { mode: 0o600 });
    pairs.push({ files: { cert, key }, fingerprint: new X509Certificate(pair.cert).fingerprint256 });
  }
  const server = await startTestServer({ tls: { certificates: pairs.map((pair) => pair.files) } });
  t.after(() => server.stop());
  const served = async (options: tls.ConnectionOptions) => {
    const { client } = await SmtpClient.openTls(server.submissionsPort, options);
    const fingerprint = client.tlsSocket!.getPeerX509Certificate()!.fingerprint256;
    await client.close();
    return fingerprint;
  };
  // TLS 1.2 with RSA suites only (SmtpClient sends SNI mx.example.com): the ECDSA context had been switched in.
  assert.equal(await served({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), pairs[0]!.fingerprint);
  assert.equal(await served({ sigalgs: 'RSA-PSS+SHA256:rsa_pkcs1_sha256' }), pairs[0]!.fingerprint);
  assert.equal(await served({}), pairs[1]!.fingerprint);
});
