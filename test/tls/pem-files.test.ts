/**
 * PemFiles: certificates from files, reloaded without a restart. Each test serves the store on a
 * loopback socket and asks real handshakes which certificate they get, within bounded waits.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { CertificateError, CertificateStore } from '../../src/tls/certificate-store.ts';
import { createSelfSignedCertificate, type PemPair } from '../../src/tls/create-certificate.ts';
import { PemFiles, type PemFilesOptions } from '../../src/tls/pem-files.ts';
import { waitFor } from '../support/wait.ts';
import { captureLogger, handshake, type LogLine, startTlsSocketServer, type TestTlsServer } from './tls-kit.ts';

const servername = 'mail.example.com';
let first: PemPair;
let second: PemPair;
let dir: string;
let files: { cert: string; key: string };
const running: { files?: PemFiles; server?: TestTlsServer }[] = [];
const dirs: string[] = [];

const fingerprint = (pair: PemPair) => new X509Certificate(pair.cert).fingerprint256;

before(async () => {
  [first, second] = await Promise.all([
    createSelfSignedCertificate({ hostnames: [servername] }),
    createSelfSignedCertificate({ hostnames: [servername], keyAlgorithm: 'rsa-2048' }),
  ]);
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-pem-'));
  dirs.push(dir);
  files = { cert: path.join(dir, 'mail.crt'), key: path.join(dir, 'mail.key') };
  await writePair(first, 'in-place');
});

after(async () => {
  for (const { files, server } of running) {
    files?.stop();
    await server?.close();
  }
  for (const made of dirs) await rm(made, { recursive: true, force: true });
});

async function writePair(pair: PemPair, how: 'in-place' | 'rename', mode = 0o600): Promise<void> {
  if (how === 'rename') {
    // How certbot and Kubernetes swap files: whole new files moved over the old names.
    await writeFile(`${files.key}.new`, pair.key, { mode });
    await writeFile(`${files.cert}.new`, pair.cert);
    await rename(`${files.key}.new`, files.key);
    await rename(`${files.cert}.new`, files.cert);
  } else {
    await writeFile(files.key, pair.key, { mode });
    await chmod(files.key, mode);
    await writeFile(files.cert, pair.cert);
  }
}

async function serve(options: Partial<PemFilesOptions> = {}) {
  const { logger, lines } = captureLogger();
  const store = new CertificateStore();
  const pemFiles = new PemFiles({ store, pairs: [files], logger, debounceMs: 50, ...options });
  await pemFiles.start();
  const server = await startTlsSocketServer(() => ({
    secureContext: store.secureContext(),
    SNICallback: store.SNICallback,
  }));
  running.push({ files: pemFiles, server });
  const served = async () => (await handshake(server.port, { servername })).certificate.fingerprint256;
  return { store, pemFiles, lines, served };
}

/** Polls real handshakes until one presents `want`; fails after `ms`. */
async function waitForServed(served: () => Promise<string>, want: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await served()) !== want) {
    if (Date.now() > deadline) throw new Error(`the new certificate was not served within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const errors = (lines: LogLine[]) => lines.filter((line) => line.level >= 50);

test('files replaced by rename: the next handshakes serve the new certificate', async () => {
  const { served, lines } = await serve();
  assert.equal(await served(), fingerprint(first));
  await writePair(second, 'rename');
  await waitForServed(served, fingerprint(second));
  assert.ok(lines.some((line) => line.msg === 'TLS: certificate reloaded'));
});

test('files rewritten in place: the new certificate is served', async () => {
  const { served } = await serve();
  await writePair(second, 'in-place');
  await waitForServed(served, fingerprint(second));
});

test('with watching off, the stat poll finds the change', async () => {
  const { served } = await serve({ watch: false, pollSeconds: 0.2 });
  await writePair(second, 'rename');
  await waitForServed(served, fingerprint(second));
});

test('a broken replacement is logged at error level once and the old certificate stays', async () => {
  const { served, lines } = await serve({ pollSeconds: 0.1 });
  await writeFile(files.cert, 'garbage\n');
  await waitFor(() => errors(lines).length > 0, 5000);
  const [error] = errors(lines);
  assert.equal(error?.cert, files.cert);
  assert.equal(error?.code, 'cert-invalid');
  assert.equal(await served(), fingerprint(first));
  await new Promise((resolve) => setTimeout(resolve, 400)); // several polls later: still one report
  assert.equal(errors(lines).length, 1);
  // A key from another certificate is refused too; then a good pair loads again.
  await writePair({ cert: first.cert, key: second.key }, 'in-place');
  // Reported once the pair has had its time to settle (2.5 s after the last change): room for a busy machine.
  await waitFor(() => errors(lines).some((line) => line.code === 'key-mismatch'), 15_000);
  assert.equal(await served(), fingerprint(first));
  await writePair(second, 'rename');
  await waitForServed(served, fingerprint(second));
});

test('a key file readable by others is warned about; a 0600 one is not', async () => {
  const quiet = await serve();
  assert.equal(quiet.lines.filter((line) => line.key === files.key && line.level === 40).length, 0);
  await writePair(first, 'in-place', 0o644);
  const loud = await serve();
  const warning = loud.lines.find((line) => line.key === files.key && line.level === 40);
  assert.equal(warning?.mode, '0644');
  assert.equal(warning?.msg, `TLS: the private key file ${files.key} is readable by other users; chmod 600 it`);
  await writePair(first, 'in-place', 0o640);
  const group = (await serve()).lines.find((line) => line.key === files.key && line.level === 40);
  assert.equal(group?.msg, `TLS: the private key file ${files.key} is readable by its group; chmod 600 it`);
});

test("a key of another user readable by its group (Debian's root:ssl-cert 0640) gets no chmod 600 advice", async () => {
  // The server reads such a key through its group: chmod 600 would lock it out.
  await writePair(first, 'in-place', 0o640);
  const { uid } = await stat(files.key);
  const serverUid = uid + 1; // a server running as another user than the key's owner
  const keyLines = (lines: LogLine[]) => lines.filter((line) => line.key === files.key);
  const [group] = keyLines((await serve({ serverUid })).lines);
  assert.equal(group?.level, 30, 'info, not a warning');
  assert.match(String(group?.msg), /^TLS: the private key file \S+ is readable by its group \(gid \d+\)$/);
  await chmod(files.key, 0o644);
  const [world] = keyLines((await serve({ serverUid })).lines);
  assert.equal(world?.level, 40);
  assert.equal(
    world?.msg,
    `TLS: the private key file ${files.key} is readable by other users; chmod o-rwx it (its owner and group keep access: the server's user must be one of them)`,
  );
});

test('an encrypted key is reported against the key file, as encrypted', async () => {
  const encrypted = createPrivateKey(first.key).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'secret',
  });
  await writeFile(files.key, encrypted, { mode: 0o600 });
  const { logger } = captureLogger();
  const pemFiles = new PemFiles({ store: new CertificateStore(), pairs: [files], logger });
  await assert.rejects(pemFiles.start(), (err) => {
    assert.ok(err instanceof CertificateError);
    assert.equal(err.source, files.key);
    assert.match(err.message, /the private key is encrypted \(a passphrase protects it\)/);
    return true;
  });
  pemFiles.stop();
});

test('start() refuses a pair that does not load, naming the file', async () => {
  await writePair({ cert: first.cert, key: second.key }, 'in-place');
  const { logger } = captureLogger();
  const pemFiles = new PemFiles({ store: new CertificateStore(), pairs: [files], logger });
  await assert.rejects(
    pemFiles.start(),
    (err) => err instanceof CertificateError && err.code === 'key-mismatch' && err.message.includes(files.cert),
  );
  await rm(files.cert);
  await assert.rejects(pemFiles.start(), (err) => err instanceof CertificateError && err.message.includes('ENOENT'));
  pemFiles.stop();
});

test('an expired pair: start() refuses it (check), or with serveExpired loads it and logs an error naming file, name and date', async () => {
  const expired = await createSelfSignedCertificate({
    hostnames: [servername],
    notBefore: new Date(Date.now() - 400 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  await writePair(expired, 'in-place');
  const refusing = new PemFiles({ store: new CertificateStore(), pairs: [files], logger: captureLogger().logger });
  await assert.rejects(
    refusing.start(),
    (err) => err instanceof CertificateError && err.code === 'expired' && err.message.includes(files.cert),
  );
  refusing.stop();

  // serve's: the expired certificate is served (an MX without it would offer no STARTTLS), said at error level.
  const { lines, served } = await serve({ serveExpired: true });
  assert.equal(await served(), fingerprint(expired));
  const errors = lines.filter((line) => line.level === 50);
  assert.equal(errors.length, 1, JSON.stringify(lines));
  const notAfter = new X509Certificate(expired.cert).validToDate.toISOString();
  assert.ok(
    errors[0]!.msg.startsWith(`TLS: the certificate in ${files.cert} for ${servername} expired on ${notAfter}`),
    errors[0]!.msg,
  );
  // A renewed pair written over it replaces it, as any renewal does.
  await writePair(first, 'rename');
  await waitForServed(served, fingerprint(first));
});

test('a loaded certificate past its end is logged again at each reminder, also one that expired after the start', async () => {
  const shortLived = await createSelfSignedCertificate({
    hostnames: [servername],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 1500),
  });
  await writePair(shortLived, 'in-place');
  const { lines } = await serve({ serveExpired: true, pollSeconds: 0.1, expiredReminderMs: 400, watch: false });
  const expiredLines = () => lines.filter((line) => line.level === 50 && line.msg.includes('expired on'));
  assert.equal(expiredLines().length, 0, 'valid at start');
  await waitFor(() => expiredLines().length >= 1, 5000);
  await waitFor(() => expiredLines().length >= 2, 5000);
  assert.ok(expiredLines().length <= 3, `no more often than the reminder: ${expiredLines().length}`);
});

const HOUR = 3_600_000;

test('a pair installed before its notBefore (past the hour of tolerance) loads by itself when that time comes', async () => {
  // It was refused once and then never looked at again: the poll skips files whose stat is unchanged.
  const soon = await createSelfSignedCertificate({
    hostnames: [servername],
    notBefore: new Date(Date.now() + HOUR + 2500),
  });
  const { served, lines } = await serve({ pollSeconds: 0.2 });
  await writePair(soon, 'rename');
  await waitFor(() => errors(lines).some((line) => line.code === 'not-yet-valid'), 5000);
  assert.equal(await served(), fingerprint(first));
  await waitForServed(served, fingerprint(soon), 8000);
  assert.equal(errors(lines).length, 1, 'refused once, not at every poll until then');
  const refusal = errors(lines).find((line) => line.code === 'not-yet-valid')!;
  assert.match(refusal.msg, /previous certificate stays in use; tried again at \d{4}-/);
  assert.ok(refusal.retryAt, 'the time of the next try is a field');
});

test('reload (SIGHUP) tries every pair again, the failed ones too, and logs one line for each', async () => {
  const otherFiles = { cert: path.join(dir, 'other.crt'), key: path.join(dir, 'other.key') };
  const other = await createSelfSignedCertificate({ hostnames: ['other.example.net'] });
  await writeFile(otherFiles.key, other.key, { mode: 0o600 });
  await writeFile(otherFiles.cert, other.cert);
  const { logger, lines } = captureLogger();
  const store = new CertificateStore();
  // No watch and no poll within the test: only reload() looks at the files.
  const pemFiles = new PemFiles({ store, pairs: [files, otherFiles], logger, watch: false, pollSeconds: 3600 });
  await pemFiles.start();
  running.push({ files: pemFiles });
  const soon = await createSelfSignedCertificate({
    hostnames: ['other.example.net'],
    notBefore: new Date(Date.now() + HOUR + 3000),
  });
  await writeFile(otherFiles.key, soon.key, { mode: 0o600 });
  await writeFile(otherFiles.cert, soon.cert);
  const reload = async () => {
    const from = lines.length;
    await pemFiles.reload();
    return lines.slice(from).filter((line) => line.level >= 30 && !String(line.msg).includes('private key file'));
  };
  const unchanged = new RegExp(`^TLS: reload: ${files.cert} unchanged, serving ${servername} until \\d{4}-`);

  const firstReload = await reload();
  assert.equal(firstReload.length, 2, JSON.stringify(firstReload));
  assert.match(firstReload[0]!.msg, unchanged);
  assert.equal(firstReload[1]!.code, 'not-yet-valid');

  // The same files again: said again, with the reason, instead of nothing at all.
  const secondReload = await reload();
  assert.equal(secondReload.length, 2, JSON.stringify(secondReload));
  assert.match(secondReload[0]!.msg, unchanged);
  assert.equal(secondReload[1]!.level, 50);
  assert.match(
    secondReload[1]!.msg,
    new RegExp(
      `^TLS: reload: ${otherFiles.cert} still does not load \\(${otherFiles.cert}: not valid before .*\\); the previous certificate stays in use`,
    ),
  );
  const fingerprints = () => store.list().map((info) => info.fingerprint256);
  assert.ok(fingerprints().includes(new X509Certificate(other.cert).fingerprint256), 'the old one stays');

  await new Promise((resolve) => setTimeout(resolve, 3200));
  const thirdReload = await reload();
  assert.equal(thirdReload[1]?.msg, 'TLS: certificate reloaded', JSON.stringify(thirdReload));
  assert.equal(thirdReload[1]?.cert, otherFiles.cert);
  assert.ok(fingerprints().includes(new X509Certificate(soon.cert).fingerprint256), 'loaded once its time came');
});

test('a cert and key written 400 ms apart (scp, Ansible): no error, the new pair loads; a pair that stays mismatched is reported once settled', async () => {
  const { served, lines } = await serve();
  await writeFile(files.cert, second.cert); // the new certificate, beside the old key for a moment
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(await served(), fingerprint(first), 'the old pair is served meanwhile');
  await writeFile(files.key, second.key, { mode: 0o600 });
  await waitForServed(served, fingerprint(second));
  assert.deepEqual(errors(lines), [], 'no error for a pair that was still being written');
  assert.equal(lines.filter((line) => line.msg === 'TLS: certificate reloaded').length, 1);

  // Only the certificate replaced, and the key never: an error, once the settle time is over.
  const changed = Date.now();
  await writeFile(files.cert, first.cert);
  await waitFor(() => errors(lines).length > 0, 15_000);
  assert.ok(Date.now() - changed >= 2000, `reported after ${Date.now() - changed} ms, before the files settled`);
  assert.equal(errors(lines)[0]?.code, 'key-mismatch');
  assert.equal(await served(), fingerprint(second), 'the previous certificate stays in use');
});

test('reload (SIGHUP) reports a mismatched pair at once, without waiting for it to settle', async () => {
  const { pemFiles, lines } = await serve({ watch: false, pollSeconds: 3600 });
  await writeFile(files.cert, second.cert);
  await pemFiles.reload();
  assert.equal(errors(lines)[0]?.code, 'key-mismatch');
});

test('a missing file on reload names the error code once', async () => {
  const { pemFiles, lines } = await serve({ watch: false, pollSeconds: 3600 });
  await rm(files.cert);
  await pemFiles.reload();
  const [error] = errors(lines);
  const message = (error?.err as { message?: string } | undefined)?.message;
  assert.equal(message, `${files.cert}: cannot read: ENOENT`, JSON.stringify(error));
});
