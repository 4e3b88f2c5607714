// A configured certificate file that has expired: `serve` had refused to start, leaving an MX with no
// mail at all. It starts now and serves it (most MX senders verify nothing, RFC 7672 §1.3), logging an
// error naming the file, the name and the date; `postern check` warns about it (serve starts); and
// where ACME manages the name, its certificate is ordered and then served as usual.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { configDir, postern, spawnServer } from '../support/child-server.ts';
import { pebbleForServer } from '../support/pebble.ts';
import { startTestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

const DAY = 86_400_000;

async function expiredCertificate(hostname: string) {
  return createSelfSignedCertificate({
    hostnames: [hostname],
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 3 * DAY),
  });
}

test('serve starts with an expired certificate file, serves it on 25 and 465 with an error logged; check reports it', async (t) => {
  const expired = await expiredCertificate('mx.example.com');
  const { root, file, cleanup } = configDir({
    tls: { certificates: [{ cert: './mx.crt', key: './mx.key' }] },
  });
  t.after(cleanup);
  const cert = path.join(root, 'mx.crt');
  fs.writeFileSync(cert, expired.cert);
  fs.writeFileSync(path.join(root, 'mx.key'), expired.key, { mode: 0o600 });
  const leaf = new X509Certificate(expired.cert);

  // The expired file had stopped the start ("the server exited during startup").
  const server = await spawnServer(file);
  t.after(() => server.stop());
  const lines = server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; cert?: string; submissions?: string });
  const error = lines.find((line) => line.level === 50 && line.msg.includes('expired on'));
  assert.ok(error, server.output());
  assert.equal(
    error.msg.split(' and is still loaded')[0],
    `TLS: the certificate in ${cert} for mx.example.com expired on ${leaf.validToDate.toISOString()}`,
  );

  // Port 25: STARTTLS offered, with the expired certificate.
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  assert.ok((await client.command('EHLO client.example.net')).lines.includes('STARTTLS'));
  assert.equal((await client.command('STARTTLS')).code, 220);
  const secure = await client.startTls();
  t.after(() => secure.close());
  assert.equal(secure.tlsSocket!.getPeerX509Certificate()!.fingerprint256, leaf.fingerprint256);
  assert.equal((await secure.command('EHLO client.example.net')).code, 250);

  // Submission serves it too (its clients will complain: the error says to renew).
  const started = lines.find((line) => line.submissions !== undefined);
  const submissionsPort = Number(started?.submissions?.split(':').pop());
  assert.ok(submissionsPort > 0, server.output());
  const { client: submission, greeting } = await SmtpClient.openTls(submissionsPort);
  t.after(() => submission.close());
  assert.equal(greeting.code, 220);
  assert.equal(submission.tlsSocket!.getPeerX509Certificate()!.fingerprint256, leaf.fingerprint256);

  // check calls it a problem that needs fixing, a warning: serve starts with it (exit 0 says so).
  const check = await postern(['check', '--config', file]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^warning: tls\.certificates: .*mx\.crt: expired on .*replace it/m);
  assert.doesNotMatch(check.stdout, /is still loaded/, 'said once, in the words of check, not those of serve too');
});

test('an expired file for a name ACME manages: serve starts, ACME orders, and its certificate is served after', async (t) => {
  const { dns, pebble, httpPort, dir, ca } = await pebbleForServer(t, 'postern-expired-acme-');
  const expired = await expiredCertificate('mail.example.test');
  const cert = path.join(dir, 'mail.crt');
  const key = path.join(dir, 'mail.key');
  fs.writeFileSync(cert, expired.cert);
  fs.writeFileSync(key, expired.key, { mode: 0o600 });
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
    tls: {
      selfSigned: false,
      certificates: [{ cert, key }],
      acme: {
        directory: pebble.directory,
        directoryCa: ca,
        termsOfServiceAgreed: true,
        hostnames: ['mail.example.test'],
        http01: { listen: `127.0.0.1:${httpPort}` },
      },
    },
  });
  t.after(() => server.stop());
  const served = async (options: { servername?: string }) => {
    const { client } = await SmtpClient.openTls(server.submissionsPort, options);
    const peer = client.tlsSocket!.getPeerX509Certificate()!;
    await client.close();
    return peer;
  };
  const expiredFingerprint = new X509Certificate(expired.cert).fingerprint256;
  assert.equal((await served({ servername: 'mail.example.test' })).fingerprint256, expiredFingerprint);
  const issued = () => server.certificates.list().find((c) => c.source.includes(path.join('tls', 'acme')));
  for (let i = 0; i < 150 && !issued(); i++) await sleep(100);
  assert.ok(issued(), `issued within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  for (const options of [{ servername: 'mail.example.test' }, { servername: '' }]) {
    const peer = await served(options);
    assert.equal(peer.fingerprint256, issued()!.fingerprint256, JSON.stringify(options));
    assert.notEqual(peer.issuer, peer.subject, 'issued by the CA');
  }
});
