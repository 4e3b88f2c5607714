/**
 * AcmeManager against a real ACME server: Debian's pebble on loopback, whose validator resolves the
 * test hostnames through our loopback DNS server (to 127.0.0.1) and connects to our challenge servers.
 * Issue with http-01 and with tls-alpn-01, restart without ordering, renew, and fail with a logged reason.
 */
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import acme from 'acme-client';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { AcmeManager, type AcmeManagerOptions } from '../../../src/tls/acme/manager.ts';
import { CertificateStore } from '../../../src/tls/certificate-store.ts';
import { freePort, type Pebble, startPebble } from '../../support/pebble.ts';
import { captureLogger, handshake, type LogLine, startTlsSocketServer } from '../tls-kit.ts';

let dns: TestDnsServer;
let pebble: Pebble;
let httpPort: number;
let tlsPort: number;
const dirs: string[] = [];
const managers: AcmeManager[] = [];

before(async () => {
  dns = await startTestDnsServer({
    records: {
      'mail.example.test': { A: ['127.0.0.1'] },
      'alpn.example.test': { A: ['127.0.0.1'] },
      'first.example.test': { A: ['127.0.0.1'] },
      'second.example.test': { A: ['127.0.0.1'] },
    },
  });
  [httpPort, tlsPort] = [await freePort(), await freePort()];
  pebble = await startPebble({ httpPort, tlsPort, dnsServer: dns.server });
});

after(async () => {
  for (const manager of managers) await manager.stop();
  await pebble?.stop();
  await dns?.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-'));
  dirs.push(dir);
  return dir;
}

/** Starts a manager and waits (bounded) for its first round of orders. */
async function run(options: Partial<AcmeManagerOptions> & { dataDir: string; hostnames: string[] }) {
  const { logger, lines } = captureLogger();
  const store = new CertificateStore();
  const manager = new AcmeManager({
    directory: pebble.directory,
    directoryCa: pebble.ca,
    email: 'postmaster@example.test',
    termsOfServiceAgreed: true,
    store,
    logger,
    pollMinMs: 200,
    ...options,
  });
  managers.push(manager);
  const issued: string[] = [];
  manager.on('issued', (hostname) => issued.push(hostname));
  await manager.start();
  await bounded(manager.settled(), 60_000, `ACME round\n${pebble.output().slice(-3000)}`);
  return { manager, store, lines, issued };
}

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const errorLines = (lines: LogLine[]) => lines.filter((line) => line.level >= 50);

/** The leaf chains up to pebble's root: each certificate is signed by the next, the last by the root. */
async function assertIssuedByPebble(chainPem: string, hostname: string): Promise<X509Certificate> {
  const chain = chainPem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((pem) => pem.includes('BEGIN'));
  const certs = [...chain, await pebble.rootCertificate()].map((pem) => new X509Certificate(pem));
  for (let i = 0; i + 1 < certs.length; i++) assert.ok(certs[i]!.verify(certs[i + 1]!.publicKey), `link ${i}`);
  assert.equal(certs[0]!.subjectAltName, `DNS:${hostname}`);
  return certs[0]!;
}

let mailDataDir: string;
let mailFingerprint: string;

test('http-01: orders, stores 0600 files, loads the store, serves it over TLS', async () => {
  mailDataDir = await newDataDir();
  const { manager, store, lines, issued } = await run({
    dataDir: mailDataDir,
    hostnames: ['mail.example.test'],
    http01: { listen: `127.0.0.1:${httpPort}` },
  });
  assert.deepEqual(errorLines(lines), []);
  assert.deepEqual(issued, ['mail.example.test']);
  const acmeDir = path.join(mailDataDir, 'tls', 'acme');
  const chain = await readFile(path.join(acmeDir, 'mail.example.test.crt'), 'utf8');
  const leaf = await assertIssuedByPebble(chain, 'mail.example.test');
  mailFingerprint = leaf.fingerprint256;
  for (const file of ['mail.example.test.key', 'account.key']) {
    assert.equal((await stat(path.join(acmeDir, file))).mode & 0o777, 0o600, file);
  }
  const account = JSON.parse(await readFile(path.join(acmeDir, 'account.json'), 'utf8'));
  assert.equal(account.directory, pebble.directory);
  assert.match(account.url, /^https:\/\/127\.0\.0\.1:\d+\//);
  const [info] = store.list();
  assert.equal(info?.fingerprint256, mailFingerprint);
  assert.equal(manager.status()[0]?.notAfter?.getTime(), leaf.validToDate.getTime());
  const server = await startTlsSocketServer(() => ({
    secureContext: store.secureContext(),
    SNICallback: store.SNICallback,
  }));
  try {
    const served = await handshake(server.port, { servername: 'mail.example.test' });
    assert.equal(served.certificate.fingerprint256, mailFingerprint);
  } finally {
    await server.close();
  }
  await manager.stop();
});

test('tls-alpn-01: orders through the acme-tls/1 responder', async () => {
  const dataDir = await newDataDir();
  const { store, lines, issued } = await run({
    dataDir,
    hostnames: ['alpn.example.test'],
    tlsAlpn01: { listen: `127.0.0.1:${tlsPort}` },
    keyType: 'rsa-2048',
  });
  assert.deepEqual(errorLines(lines), []);
  assert.deepEqual(issued, ['alpn.example.test']);
  const chain = await readFile(path.join(dataDir, 'tls', 'acme', 'alpn.example.test.crt'), 'utf8');
  await assertIssuedByPebble(chain, 'alpn.example.test');
  assert.equal(store.list()[0]?.keyType, 'rsa');
});

test('a restart reads the certificate on disk and orders nothing', async () => {
  assert.ok(mailFingerprint, 'needs the http-01 test first');
  const { store, issued, manager } = await run({
    dataDir: mailDataDir,
    hostnames: ['mail.example.test'],
    http01: { listen: `127.0.0.1:${httpPort}` },
  });
  assert.deepEqual(issued, []);
  assert.equal(store.list()[0]?.fingerprint256, mailFingerprint);
  assert.ok(manager.status()[0]!.nextCheck.getTime() > Date.now() + 11 * 3_600_000); // next look in 12 h
  await manager.stop();
});

test('renewal: a certificate due for renewal is ordered again, and the store serves the new one', async () => {
  assert.ok(mailFingerprint, 'needs the http-01 test first');
  const keyPath = path.join(mailDataDir, 'tls', 'acme', 'mail.example.test.key');
  const keyBefore = await readFile(keyPath, 'utf8');
  const { store, issued, lines, manager } = await run({
    dataDir: mailDataDir,
    hostnames: ['mail.example.test'],
    http01: { listen: `127.0.0.1:${httpPort}` },
    // Ten years on, every certificate pebble issues is due (renewBeforeDays can no longer make a fresh
    // one due: that ordered new certificates in a loop).
    now: () => new Date(Date.now() + 3650 * 86_400_000),
  });
  assert.deepEqual(errorLines(lines), []);
  assert.deepEqual(issued, ['mail.example.test']);
  const renewed = store.list()[0]!;
  assert.notEqual(renewed.fingerprint256, mailFingerprint);
  const onDisk = await readFile(path.join(mailDataDir, 'tls', 'acme', 'mail.example.test.crt'), 'utf8');
  assert.equal(new X509Certificate(onDisk).fingerprint256, renewed.fingerprint256);
  // The same key, certified again: a TLSA 3 1 1 record (DANE, RFC 7671 §8.1) stays true.
  assert.equal(await readFile(keyPath, 'utf8'), keyBefore, 'the key file is unchanged');
  assert.ok(
    new X509Certificate(onDisk).publicKey.equals(createPublicKey(keyBefore)),
    'the new certificate has the old key',
  );
  await bounded(manager.checkNow(), 60_000, 'second renewal'); // still due: renews again
  assert.equal(issued.length, 2);
  await manager.stop();
});

test('a failing order is logged at error level with the reason and retried after 5, then 10 minutes', async () => {
  const { manager, lines, store } = await run({
    dataDir: await newDataDir(),
    hostnames: ['missing.example.test'], // not in the DNS zone: pebble's validation fails
    http01: { listen: `127.0.0.1:${httpPort}` },
  });
  const ordering = lines.find((line) => line.msg === 'ACME: ordering a certificate');
  assert.equal(ordering?.hostname, 'missing.example.test', 'said at info level before the order starts');
  const [error] = errorLines(lines);
  assert.equal(error?.hostname, 'missing.example.test');
  assert.match(String(error?.reason), /missing\.example\.test/);
  assert.equal(store.size, 0);
  const first = manager.status()[0]!;
  assert.equal(first.failures, 1);
  assert.ok(
    Math.abs(first.nextCheck.getTime() - Date.now() - 300_000) < 10_000,
    `next ${first.nextCheck.toISOString()}`,
  );
  await bounded(manager.checkNow(), 60_000, 'retry');
  const second = manager.status()[0]!;
  assert.equal(second.failures, 2);
  assert.ok(Math.abs(second.nextCheck.getTime() - Date.now() - 600_000) < 10_000);
  assert.equal(errorLines(lines).length, 2);
});

test('a changed keyType orders a certificate with a new key at the next start, not at the next renewal', async () => {
  for (const manager of managers) await manager.stop(); // the earlier tests' responders hold the port
  const dataDir = await newDataDir();
  const options = { dataDir, hostnames: ['mail.example.test'], http01: { listen: `127.0.0.1:${httpPort}` } };
  const first = await run(options);
  assert.deepEqual(first.issued, ['mail.example.test']);
  assert.equal(first.store.list()[0]?.keyType, 'ec');
  await first.manager.stop();
  const { store, issued, lines, manager } = await run({ ...options, keyType: 'rsa-2048' });
  assert.deepEqual(errorLines(lines), []);
  assert.deepEqual(issued, ['mail.example.test'], 'ordered again at once');
  assert.equal(store.list()[0]?.keyType, 'rsa');
  const key = await readFile(path.join(dataDir, 'tls', 'acme', 'mail.example.test.key'), 'utf8');
  assert.equal(createPublicKey(key).asymmetricKeyType, 'rsa');
  assert.ok(lines.some((line) => /another key type than tls\.acme\.keyType/.test(String(line.msg))));
  await manager.stop();
});

test('a changed tls.acme.email reaches the CA: the account is updated at the next order (RFC 8555 §7.3.2)', async () => {
  const dataDir = await newDataDir();
  const http01 = { listen: `127.0.0.1:${httpPort}` };
  const first = await run({ dataDir, hostnames: ['first.example.test'], http01, email: 'old@example.test' });
  await first.manager.stop();
  // The admin changes the address; the next order (a new name here) updates the account first.
  const second = await run({ dataDir, hostnames: ['second.example.test'], http01, email: 'new@example.test' });
  await second.manager.stop();
  assert.deepEqual(second.issued, ['second.example.test']);
  const record = JSON.parse(await readFile(path.join(dataDir, 'tls/acme/account.json'), 'utf8')) as {
    url: string;
    contact: string[];
  };
  assert.deepEqual(record.contact, ['mailto:new@example.test']);
  const client = new acme.Client({
    directoryUrl: pebble.directory,
    accountKey: await readFile(path.join(dataDir, 'tls/acme/account.key')),
    accountUrl: record.url,
  });
  const account = await client.createAccount({ onlyReturnExisting: true });
  assert.deepEqual(account.contact, ['mailto:new@example.test'], 'was still mailto:old@example.test');
});
