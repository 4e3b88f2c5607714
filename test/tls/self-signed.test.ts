/** The development certificate: made once, kept, made again when it would not do, also while running. */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { ensureSelfSigned, SelfSignedRenewal, selfSignedPaths } from '../../src/tls/self-signed.ts';
import { captureLogger } from './tls-kit.ts';

const DAY = 86_400_000;
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-self-signed-'));
  dirs.push(dir);
  return dir;
}

test('first start: an ECDSA P-256 certificate for the hostname, one year, private files', async () => {
  const dir = await dataDir();
  const made = await ensureSelfSigned({ dataDir: dir, hostname: 'Mail.Example.com' });
  assert.equal(made.action, 'created');
  const paths = selfSignedPaths(dir);
  assert.equal(made.certPath, paths.certPath);
  assert.equal(await readFile(paths.certPath, 'utf8'), made.cert);
  assert.equal(await readFile(paths.keyPath, 'utf8'), made.key);
  assert.equal((await stat(paths.dir)).mode & 0o777, 0o700);
  assert.equal((await stat(paths.keyPath)).mode & 0o777, 0o600);
  const cert = new X509Certificate(made.cert);
  assert.equal(cert.subjectAltName, 'DNS:mail.example.com');
  const key = createPrivateKey(made.key);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const days = (cert.validToDate.getTime() - cert.validFromDate.getTime()) / DAY;
  assert.ok(days > 364 && days < 366, `valid for ${days} days`);
  assert.equal(new CertificateStore().addPem(made.cert, made.key).hostnames[0], 'mail.example.com');
});

test('later starts reuse it', async () => {
  const dir = await dataDir();
  const made = await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
  const again = await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
  assert.equal(again.action, 'reused');
  assert.equal(again.cert, made.cert);
  assert.equal(again.key, made.key);
});

test('a key of ours left open to others (a restore, a chmod -R) is made 0600 again when reused', async () => {
  const { chmod } = await import('node:fs/promises');
  const dir = await dataDir();
  await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
  const { keyPath } = selfSignedPaths(dir);
  await chmod(keyPath, 0o644);
  const again = await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
  assert.equal(again.action, 'reused');
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
});

const remakes: [name: string, change: (dir: string) => Promise<Partial<Parameters<typeof ensureSelfSigned>[0]>>][] = [
  ['nearing expiry', async () => ({ now: () => new Date(Date.now() + 340 * DAY) })],
  ['another hostname', async () => ({ hostname: 'mx.example.com' })],
  ['an unreadable certificate', async (dir) => writeFile(selfSignedPaths(dir).certPath, 'garbage').then(() => ({}))],
  [
    'a key that does not match',
    async (dir) => {
      const other = await ensureSelfSigned({ dataDir: await dataDir(), hostname: 'mail.example.com' });
      await writeFile(selfSignedPaths(dir).keyPath, other.key);
      return {};
    },
  ],
];
for (const [name, change] of remakes) {
  test(`made anew for ${name}`, async () => {
    const dir = await dataDir();
    const made = await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
    const options = await change(dir);
    const again = await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com', ...options });
    assert.equal(again.action, 'renewed');
    assert.notEqual(again.cert, made.cert);
    assert.equal(await readFile(selfSignedPaths(dir).certPath, 'utf8'), again.cert);
  });
}

test('a certificate with 40 days left is still reused (renewal starts at 30)', async () => {
  const dir = await dataDir();
  await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com' });
  const later = await ensureSelfSigned({
    dataDir: dir,
    hostname: 'mail.example.com',
    now: () => new Date(Date.now() + 325 * DAY),
  });
  assert.equal(later.action, 'reused');
});

test('a short-lived one is renewed when a third of its lifetime remains, not 30 days before', async () => {
  const dir = await dataDir();
  await ensureSelfSigned({ dataDir: dir, hostname: 'mail.example.com', validityDays: 3 });
  const at = (days: number) => () => new Date(Date.now() + days * DAY);
  const options = { dataDir: dir, hostname: 'mail.example.com', validityDays: 3 };
  assert.equal((await ensureSelfSigned({ ...options, now: at(1.5) })).action, 'reused');
  assert.equal((await ensureSelfSigned({ ...options, now: at(2.5) })).action, 'renewed');
});

test('while running: an install that throws is logged, the current one kept, and installed at the next look', async () => {
  const dir = await dataDir();
  const { logger, lines } = captureLogger();
  let offset = 0;
  const base = { dataDir: dir, hostname: 'mail.example.com', now: () => new Date(Date.now() + offset) };
  const current = await ensureSelfSigned(base);
  const installed: string[] = [];
  let refuse = true;
  const renewal = new SelfSignedRenewal({
    ...base,
    logger,
    current,
    checkEveryMs: 10,
    install: (made) => {
      if (refuse) throw new Error('refused');
      installed.push(made.cert);
    },
  });
  renewal.start();
  try {
    offset = 340 * DAY;
    for (let i = 0; i < 200 && !lines.some((line) => line.level === 50); i++) await sleep(10);
    const error = lines.find((line) => line.level === 50);
    assert.match(String(error?.msg), /renewing the self-signed certificate failed; the current one .* stays in use/);
    refuse = false;
    for (let i = 0; i < 200 && installed.length === 0; i++) await sleep(10);
    const onDisk = await readFile(selfSignedPaths(dir).certPath, 'utf8');
    assert.deepEqual(installed, [onDisk], 'the file made at the failed look, installed once');
    assert.notEqual(onDisk, current.cert);
    assert.equal(lines.filter((line) => line.msg.startsWith('TLS: renewed the self-signed certificate')).length, 1);
  } finally {
    await renewal.stop();
  }
});
