/** AcmeManager without a CA: what it refuses to start with, and that stop() closes its servers. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AcmeManager, type AcmeManagerOptions } from '../../../src/tls/acme/manager.ts';
import type { AcmeSetupError } from '../../../src/tls/acme/setup-error.ts';
import { CertificateStore } from '../../../src/tls/certificate-store.ts';
import { captureLogger } from '../tls-kit.ts';

const base = (): AcmeManagerOptions => ({
  directory: 'https://127.0.0.1:1/dir',
  termsOfServiceAgreed: true,
  hostnames: [],
  dataDir: '/nonexistent',
  store: new CertificateStore(),
  logger: captureLogger().logger,
});

test('no challenge type enabled: refused', () => {
  assert.throws(() => new AcmeManager(base()), /http01 or tlsAlpn01/);
});

for (const hostname of ['../etc/passwd', '.example.com', 'a/b.example.com', 'mail.example.com.']) {
  test(`a hostname that cannot be a file name is refused: ${hostname}`, () => {
    assert.throws(() => new AcmeManager({ ...base(), hostnames: [hostname], http01: {} }), /not a hostname/);
  });
}

test('stop() closes both challenge servers', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-stop-'));
  try {
    const manager = new AcmeManager({
      ...base(),
      dataDir,
      http01: { listen: '127.0.0.1:0' },
      tlsAlpn01: { listen: '127.0.0.1:0' },
    });
    await manager.start();
    const ports = manager.servers.map((server) => server.port);
    assert.equal(ports.length, 2);
    for (const port of ports) assert.equal(await connects(port), true);
    await manager.stop();
    for (const port of ports) assert.equal(await connects(port), false);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

test('a challenge port another program holds stops the start with the key and the address; the other responder is closed', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-taken-'));
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const taken = `127.0.0.1:${(holder.address() as net.AddressInfo).port}`;
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const freePort = (free.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  try {
    const manager = new AcmeManager({
      ...base(),
      dataDir,
      http01: { listen: `127.0.0.1:${freePort}` },
      tlsAlpn01: { listen: taken },
    });
    await assert.rejects(manager.start(), (error: Error) => {
      assert.equal((error as AcmeSetupError).code, 'ACME_SETUP');
      assert.match(
        error.message,
        new RegExp(`^tls\\.acme\\.tlsAlpn01\\.listen: ${taken} is in use by another program \\(`),
      );
      return true;
    });
    assert.equal(await connects(freePort), false, 'the http-01 responder started first is closed again');
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  }
});
