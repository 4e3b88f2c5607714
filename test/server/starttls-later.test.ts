// A server started without any certificate (tls.acme still ordering, no self-signed stand-in): port 25
// says nothing of STARTTLS until a certificate is loaded, then offers it at the next EHLO without a
// restart; and forced TLS defers mail (4xx) meanwhile instead of bouncing it for our set-up problem.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { startTestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

test('no certificate yet: no STARTTLS, STARTTLS 454, forced TLS answers MAIL 454; a certificate loaded later is offered at the next EHLO', async (t) => {
  const server = await startTestServer({ tls: { selfSigned: false, requireOnSmtp: true } });
  t.after(() => server.stop());
  assert.equal(server.certificates.size, 0);
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  const ehlo = await client.command('EHLO client.example.net');
  assert.equal(ehlo.code, 250);
  assert.ok(!ehlo.lines.includes('STARTTLS'), 'not offered without a certificate');
  // RFC 3207 §4: TLS not available for a temporary reason.
  assert.equal((await client.command('STARTTLS')).code, 454);
  const mail = await client.command('MAIL FROM:<sender@example.net>');
  assert.equal(`${mail.code} ${mail.enhanced}`, '454 4.7.0', 'deferred, not 530: the sender cannot comply');

  // What the ACME manager does once its certificate is issued.
  const issued = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  server.certificates.addPem(issued.cert, issued.key, { source: 'acme/mx.example.com.crt', default: true });
  const again = await client.command('EHLO client.example.net');
  assert.ok(again.lines.includes('STARTTLS'), `offered at the next EHLO: ${again.text}`);
  assert.equal((await client.command('MAIL FROM:<sender@example.net>')).code, 530, 'now the client can comply');
  assert.equal((await client.command('STARTTLS')).code, 220);
  const secure = await client.startTls();
  t.after(() => secure.close());
  assert.ok(secure.tlsSocket!.getPeerX509Certificate()!.subjectAltName?.includes('DNS:mx.example.com'));
  assert.equal((await secure.command('EHLO client.example.net')).code, 250);
  assert.equal((await secure.command('MAIL FROM:<sender@example.net>')).code, 250);

  // A new connection gets it from its first EHLO.
  const fresh = await SmtpClient.open(server.port);
  t.after(() => fresh.client.close());
  assert.ok((await fresh.client.command('EHLO client.example.net')).lines.includes('STARTTLS'));
});
