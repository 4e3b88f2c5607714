// Submission listeners left off at start for want of a TLS certificate start as soon as one is loaded
// (ACME's first), without a restart; a port bound as root before the server gave root up is kept
// for them. They had stayed off until a restart.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { listenAddresses, parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { EarlyPorts } from '../../src/server/early-ports.ts';
import { startServer } from '../../src/server/server.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { acquireTestDns } from '../support/dns.ts';
import { freePort, pebbleForServer } from '../support/pebble.ts';
import { startTestServer, tempDir } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

type Context = { after(fn: () => unknown): void };
type Line = { level: number; msg: string; submission?: { port: number }; submissions?: { port: number } };

/** STARTTLS on the submission port works, and the certificate is the one given. */
async function submissionWorks(t: Context, port: number, servername: string): Promise<X509Certificate> {
  const { client } = await SmtpClient.open(port);
  t.after(() => client.close());
  assert.ok((await client.command('EHLO client.example.net')).lines.includes('STARTTLS'));
  assert.equal((await client.command('STARTTLS')).code, 220);
  const secure = await client.startTls({ servername });
  t.after(() => secure.close());
  assert.equal((await secure.command('EHLO client.example.net')).code, 250);
  return secure.tlsSocket!.getPeerX509Certificate()!;
}

test('tls.acme, no certificate yet: the submission listeners start when ACME delivers one, and say so', async (t) => {
  const { dns, pebble, httpPort, ca } = await pebbleForServer(t, 'postern-late-submission-');
  const server = await startTestServer({
    log: { level: 'info' },
    dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
    tls: {
      selfSigned: false,
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
  const lines = () => server.logs() as Line[];
  assert.equal(server.submissionsPort, 0, 'off at start');
  assert.ok(
    lines().some((l) => l.level === 40 && l.msg.startsWith('submission listeners are off until a TLS certificate')),
    JSON.stringify(lines()),
  );
  let started: Line | undefined;
  for (let i = 0; i < 150 && !started; i++) {
    started = lines().find((l) => l.msg.startsWith('submission listeners started on '));
    if (!started) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(started, `started within 15 s; pebble said:\n${pebble.output().slice(-2000)}`);
  assert.match(
    started.msg,
    /\(STARTTLS\) and 127\.0\.0\.1:\d+ \(TLS\): a TLS certificate is loaded \(mail\.example\.test\)$/,
  );
  const { client, greeting } = await SmtpClient.openTls(started.submissions!.port, { servername: 'mail.example.test' });
  t.after(() => client.close());
  assert.equal(greeting.code, 220);
  const peer = client.tlsSocket!.getPeerX509Certificate()!;
  assert.match(peer.subjectAltName ?? '', /DNS:mail\.example\.test/);
  assert.notEqual(peer.issuer, peer.subject, 'the ACME certificate');
  await submissionWorks(t, started.submission!.port, 'mail.example.test');
});

test('started as root: the submission ports bound then are kept for the listeners, which start on them later', async (t) => {
  const dns = await acquireTestDns();
  t.after(() => dns.release());
  const root = tempDir('postern-late-ports-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const [smtp, submission, submissions] = [await freePort(), await freePort(), await freePort()];
  const config = parseConfig(
    {
      hostname: 'mx.example.com',
      domains: ['example.com'],
      dataDir: path.join(root, 'data'),
      listen: {
        smtp: `127.0.0.1:${smtp}`,
        submission: `127.0.0.1:${submission}`,
        submissions: `127.0.0.1:${submissions}`,
      },
      dnsCheckIntervalMinutes: 0,
      dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
      tls: { selfSigned: false },
    },
    'test',
  );
  const logged: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(chunk.toString());
      done();
    },
  });
  // As serve does as root: bind every port, start, then give back those no listener took.
  const ports = await EarlyPorts.bind(listenAddresses(config));
  const server = await startServer({ config, logger: createLogger('info', sink), ports });
  t.after(() => server.stop());
  await ports.closeUnused();
  assert.equal(server.submissions, undefined, 'off without a certificate');
  // Meanwhile a client is closed at once, not held until a certificate comes.
  const early = net.connect(submissions, '127.0.0.1');
  early.on('error', () => {});
  await once(early, 'close');

  const pair = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  server.certificates.addPem(pair.cert, pair.key, { source: 'late', default: true });
  await waitFor(() => server.submission !== undefined && server.submissions !== undefined, 5000);
  assert.deepEqual(server.submissions, { address: '127.0.0.1', port: submissions }, 'on the port bound early');
  assert.deepEqual(server.submission, { address: '127.0.0.1', port: submission });
  const { client, greeting } = await SmtpClient.openTls(submissions);
  t.after(() => client.close());
  assert.equal(greeting.code, 220);
  const fingerprint = new X509Certificate(pair.cert).fingerprint256;
  assert.equal(client.tlsSocket!.getPeerX509Certificate()!.fingerprint256, fingerprint);
  assert.equal((await submissionWorks(t, submission, 'mx.example.com')).fingerprint256, fingerprint);
  assert.ok(logged.some((line) => line.includes('submission listeners started on 127.0.0.1:')));
});
