// The server with `tls.acme`: it orders a certificate from a real ACME server (Debian's pebble on
// loopback, validating http-01 through our loopback DNS), then serves it on the TLS listeners in
// place of the self-signed one it started with.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { pebbleForServer } from '../support/pebble.ts';
import { startTestServer, tempDir } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { handshake } from '../tls/tls-kit.ts';

type Context = { after(fn: () => unknown): void };

/**
 * pebble on loopback validating http-01 through our loopback DNS (mail.example.test is 127.0.0.1), and
 * a server with `tls.acme` ordering mail.example.test from it.
 */
async function serverWithPebble(
  t: Context,
  acme: Record<string, unknown>,
  certificateValiditySeconds?: number,
  tls: { selfSigned?: boolean; certificates?: { cert: string; key: string }[] } = {},
) {
  const { dns, pebble, httpPort, ca } = await pebbleForServer(t, 'postern-acme-server-', {
    ...(certificateValiditySeconds ? { certificateValiditySeconds } : {}),
  });
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
    tls: {
      ...tls,
      acme: {
        directory: pebble.directory,
        directoryCa: ca,
        termsOfServiceAgreed: true,
        hostnames: ['mail.example.test'],
        http01: { listen: `127.0.0.1:${httpPort}` },
        ...acme,
      },
    },
  });
  t.after(() => server.stop());
  return { server, pebble };
}

test('tls.acme: a certificate ordered with http-01 replaces the self-signed one on port 465', async (t) => {
  const { server, pebble } = await serverWithPebble(t, { email: 'postmaster@example.com' });
  const issued = () => server.certificates.list().find((c) => c.hostnames.includes('mail.example.test'));
  for (let i = 0; i < 150 && !issued(); i++) await sleep(100);
  assert.ok(issued(), `issued within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  assert.equal(issued()!.isDefault, true, 'the ACME certificate is now the default');
  const { client, greeting } = await SmtpClient.openTls(server.submissionsPort, { servername: 'mail.example.test' });
  assert.equal(greeting.code, 220);
  const peer = client.tlsSocket!.getPeerX509Certificate()!;
  assert.match(peer.subjectAltName ?? '', /DNS:mail\.example\.test/);
  assert.notEqual(peer.issuer, peer.subject, 'issued by the CA, not self-signed');
  await client.close();
  assert.ok(fs.existsSync(path.join(server.dataDir, 'tls', 'acme')), 'kept in the data directory across restarts');
});

test('tls.acme: a certificate renews at its renewal time while the server runs, and new connections get the new one', async (t) => {
  // 15-second certificates: due when a third of the lifetime is left (src/tls/acme/renewal.ts), 10 s in.
  // The manager used to look again only 12 hours after an order, whatever the certificate's lifetime.
  const { server, pebble } = await serverWithPebble(t, {}, 15);
  const served = async () => {
    const { client } = await SmtpClient.openTls(server.submissionsPort, { servername: 'mail.example.test' });
    const peer = client.tlsSocket!.getPeerX509Certificate()!;
    await client.close();
    return peer;
  };
  let first: string | undefined;
  for (let i = 0; i < 150 && !first; i++) {
    const peer = await served();
    if (peer.issuer !== peer.subject) first = peer.fingerprint256;
    else await sleep(100);
  }
  assert.ok(first, `issued within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  let renewed: string | undefined;
  for (let i = 0; i < 200 && !renewed; i++) {
    const fingerprint = (await served()).fingerprint256;
    if (fingerprint !== first) renewed = fingerprint;
    else await sleep(100);
  }
  assert.ok(
    renewed,
    `renewed within 20 s and served to a new connection; pebble said:\n${pebble.output().slice(-2000)}`,
  );
});

test('tls.acme without a self-signed stand-in: port 25 offers STARTTLS once the first certificate is issued, without a restart', async (t) => {
  // Decided once at start, the MX listener had stayed without STARTTLS until a restart.
  const { server, pebble } = await serverWithPebble(t, {}, undefined, { selfSigned: false });
  const issued = () => server.certificates.list().find((c) => c.hostnames.includes('mail.example.test'));
  for (let i = 0; i < 150 && !issued(); i++) await sleep(100);
  assert.ok(issued(), `issued within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  const ehlo = await client.command('EHLO client.example.net');
  assert.ok(ehlo.lines.includes('STARTTLS'), `STARTTLS offered: ${ehlo.text}`);
  assert.equal((await client.command('STARTTLS')).code, 220);
  const secure = await client.startTls({ servername: 'mail.example.test' });
  t.after(() => secure.close());
  const peer = secure.tlsSocket!.getPeerX509Certificate()!;
  assert.match(peer.subjectAltName ?? '', /DNS:mail\.example\.test/, 'the ACME certificate');
  assert.equal((await secure.command('EHLO client.example.net')).code, 250);
});

test('tls.acme beside a PEM file naming the hostname: clients without SNI get the file, before and after the order', async (t) => {
  // The default had gone to whoever loaded last: the file at start, ACME's certificate after each
  // order or renewal. A sender without SNI (Postfix by default) saw it change under it.
  const dir = tempDir('postern-acme-default-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const own = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  const cert = path.join(dir, 'mx.crt');
  const key = path.join(dir, 'mx.key');
  fs.writeFileSync(cert, own.cert);
  fs.writeFileSync(key, own.key, { mode: 0o600 });
  const { server, pebble } = await serverWithPebble(t, {}, undefined, { certificates: [{ cert, key }] });
  const fileFingerprint = new X509Certificate(own.cert).fingerprint256;
  const withoutSni = async () => (await handshake(server.submissionsPort)).certificate.fingerprint256;
  assert.equal(await withoutSni(), fileFingerprint, 'at start');
  const issued = () => server.certificates.list().find((c) => c.hostnames.includes('mail.example.test'));
  for (let i = 0; i < 150 && !issued(); i++) await sleep(100);
  assert.ok(issued(), `issued within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  assert.equal(await withoutSni(), fileFingerprint, 'after the ACME order');
  assert.equal(issued()!.isDefault, false);
  const named = await handshake(server.submissionsPort, { servername: 'mail.example.test' });
  assert.match(named.certificate.subjectaltname ?? '', /DNS:mail\.example\.test/, 'SNI still reaches the ACME one');
});
