// The self-signed certificate was renewed only at start: a server that ran past its year served it
// expired (strict clients then failed STARTTLS). It is renewed while the server runs now, and new
// handshakes get the new certificate while open connections keep theirs. The clock of setupTls is
// moved forward instead of waiting; the look that renews runs every few milliseconds here.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { parseConfig } from '../../src/config/load.ts';
import { setupTls } from '../../src/server/tls-setup.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { selfSignedPaths } from '../../src/tls/self-signed.ts';
import { tempDir } from '../support/server.ts';
import { captureLogger, handshake, startTlsSocketServer } from '../tls/tls-kit.ts';

const DAY = 86_400_000;

async function selfSignedServer(t: { after(fn: () => unknown): void }) {
  const root = tempDir('postern-self-signed-renewal-');
  const config = parseConfig(
    { hostname: 'mx.example.com', domains: ['example.com'], dataDir: path.join(root, 'data') },
    'test',
  );
  const clock = { offset: 0 };
  const { logger, lines } = captureLogger();
  const setup = await setupTls(config, logger, undefined, {
    now: () => new Date(Date.now() + clock.offset),
    selfSignedCheckEveryMs: 20,
  });
  const listener = setup.listener('implicit');
  const server = await startTlsSocketServer(() => listener.options());
  // In this order: a look of the renewal still running would make the directory again as it goes.
  t.after(async () => {
    await server.close();
    await setup.stop();
    await rm(root, { recursive: true, force: true });
  });
  const served = async () => new X509Certificate((await handshake(server.port)).certificate.raw);
  return { config, clock, lines, setup, server, served };
}

/** A connection that stays open, with what it reads. */
async function openConnection(port: number): Promise<{ socket: tls.TLSSocket; echo(text: string): Promise<string> }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    echo: (text) =>
      new Promise((resolve, reject) => {
        socket.once('data', (data) => resolve(data.toString()));
        socket.once('error', reject);
        socket.write(text);
      }),
  };
}

test('the self-signed certificate is renewed while the server runs: new handshakes get the new one', async (t) => {
  const { config, clock, lines, server, served } = await selfSignedServer(t);
  const first = await served();
  assert.ok(first.checkHost('mx.example.com'));
  const started = lines.length;
  const open = await openConnection(server.port);
  t.after(() => open.socket.destroy());

  // Months later, nothing is due yet: still the same certificate, nothing logged.
  clock.offset = 200 * DAY;
  await sleep(100);
  assert.equal((await served()).fingerprint256, first.fingerprint256);

  // 25 days before its expiry (renewal is due 30 days before): a new one, for handshakes from now on.
  clock.offset = 340 * DAY;
  let renewed = first;
  for (let i = 0; i < 100 && renewed.fingerprint256 === first.fingerprint256; i++) {
    await sleep(20);
    renewed = await served();
  }
  assert.notEqual(renewed.fingerprint256, first.fingerprint256, 'renewed within 2 s');
  assert.ok(renewed.checkHost('mx.example.com'));
  assert.ok(renewed.validToDate.getTime() > first.validToDate.getTime() + 300 * DAY);
  assert.notEqual(
    renewed.publicKey.export({ format: 'pem', type: 'spki' }),
    first.publicKey.export({ format: 'pem', type: 'spki' }),
  );
  // The file on disk is the one served (`dns records`, the fingerprint users are told to check).
  const onDisk = new X509Certificate(await readFile(selfSignedPaths(config.dataDir).certPath, 'utf8'));
  assert.equal(onDisk.fingerprint256, renewed.fingerprint256);

  // The connection open before the renewal goes on with its certificate.
  assert.equal(open.socket.getPeerX509Certificate()?.fingerprint256, first.fingerprint256);
  assert.equal(await open.echo('still here'), 'still here');

  // One line, naming the new fingerprint; the looks after it change nothing.
  await sleep(100);
  assert.equal((await served()).fingerprint256, renewed.fingerprint256);
  const said = lines.filter((line) => line.msg.includes('renewed the self-signed certificate'));
  assert.equal(said.length, 1, JSON.stringify(lines.map((line) => line.msg)));
  assert.equal(said[0]?.sha256, renewed.fingerprint256);
  assert.equal(said[0]?.level, 40);
  assert.deepEqual(
    lines.slice(started).map((line) => line.msg),
    [said[0]?.msg],
    'nothing else said since the start',
  );
});

test('once another certificate replaces it (ACME delivered), the self-signed one is no longer renewed', async (t) => {
  const { config, clock, lines, setup, served } = await selfSignedServer(t);
  const file = selfSignedPaths(config.dataDir).certPath;
  const before = await readFile(file, 'utf8');
  const real = await createSelfSignedCertificate({
    hostnames: ['mx.example.com'],
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 400 * DAY),
  });
  const info = setup.certificates.addPem(real.cert, real.key, { source: 'acme/mx.example.com.crt', rank: 0 });
  clock.offset = 340 * DAY;
  await sleep(200);
  assert.equal(await readFile(file, 'utf8'), before, 'not renewed');
  assert.equal((await served()).fingerprint256, info.fingerprint256);
  assert.deepEqual(
    setup.certificates.list().map((cert) => cert.source),
    ['acme/mx.example.com.crt'],
  );
  assert.equal(lines.filter((line) => line.msg.includes('renewed the self-signed')).length, 0);
});
