// `postern check` on TLS: an expired PEM file (a warning, as docs/tls.md says), ACME certificates
// judged by their renewal time rather than a fixed number of days, and ACME hostnames that leave the
// server's hostname out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkConfig } from '../../src/cli/commands/check.ts';
import { loadConfig } from '../../src/config/load.ts';
import { migrateSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { configDir, postern } from '../support/child-server.ts';

const DAY = 86_400_000;

type Context = { after(fn: () => unknown): void };

function dir(t: Context, extra: Record<string, unknown>) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  migrateSqliteStore(path.join(d.root, 'data'));
  return d;
}

const acme = (hostnames?: string[]) => ({
  acme: {
    directory: 'https://127.0.0.1:9/dir',
    termsOfServiceAgreed: true,
    ...(hostnames ? { hostnames } : {}),
    http01: { listen: '127.0.0.1:0' },
  },
});

/** A certificate ACME would have stored for `hostname`, valid from notBefore to notAfter. */
async function storeAcmeCertificate(root: string, hostname: string, notBefore: Date, notAfter: Date): Promise<void> {
  const acmeDir = path.join(root, 'data', 'tls', 'acme');
  fs.mkdirSync(acmeDir, { recursive: true, mode: 0o700 });
  const pair = await createSelfSignedCertificate({ hostnames: [hostname], notBefore, notAfter });
  fs.writeFileSync(path.join(acmeDir, `${hostname}.crt`), pair.cert);
  fs.writeFileSync(path.join(acmeDir, `${hostname}.key`), pair.key, { mode: 0o600 });
}

const notRenewed = (warnings: string[]) => warnings.filter((w) => w.includes('ACME has not renewed it'));

test('check: an expired certificate file is a warning, result OK and exit 0, as docs/tls.md says', async (t) => {
  const { root, file } = dir(t, { tls: { certificates: [{ cert: './cert.pem', key: './key.pem' }] } });
  const pair = await createSelfSignedCertificate({
    hostnames: ['mx.example.com'],
    notBefore: new Date(Date.now() - 40 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  fs.writeFileSync(path.join(root, 'cert.pem'), pair.cert);
  fs.writeFileSync(path.join(root, 'key.pem'), pair.key, { mode: 0o600 });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^warning: tls\.certificates: .*cert\.pem: expired on /m);
  assert.match(result.stdout, /: OK \(1 warning\)\n$/);
  const docs = fs.readFileSync(path.join(import.meta.dirname, '../../docs/tls.md'), 'utf8').replace(/\s+/g, ' ');
  assert.doesNotMatch(docs, /`postern check` reports an expired file as an error/);
  assert.match(docs, /`postern check` reports an expired file as a warning \(the result stays OK, exit 0/);
});

test('check: a new short-lived ACME certificate is not "not renewed"; one past its renewal time is', async (t) => {
  const { root, file } = dir(t, { tls: acme() });
  const { config } = loadConfig(file);
  const now = new Date();
  // Let's Encrypt's 6-day certificate, just issued: renewal is due 2 days before its end.
  await storeAcmeCertificate(
    root,
    'mx.example.com',
    new Date(now.getTime() - 60_000),
    new Date(now.getTime() + 6 * DAY),
  );
  assert.deepEqual(notRenewed((await checkConfig(config, file, now)).warnings), []);
  const dayFour = new Date(now.getTime() + 3.5 * DAY);
  assert.deepEqual(notRenewed((await checkConfig(config, file, dayFour)).warnings), [], 'before its renewal time');
  const dayFive = new Date(now.getTime() + 4.5 * DAY);
  const [late] = notRenewed((await checkConfig(config, file, dayFive)).warnings);
  assert.match(
    String(late),
    /^tls\.acme: the certificate for mx\.example\.com expires in 1 days and ACME has not renewed it \(due since \d{4}-/,
  );

  // A 60-second certificate (a test CA's), 10 s old: due at 40 s, not before.
  await storeAcmeCertificate(
    root,
    'mx.example.com',
    new Date(now.getTime() - 10_000),
    new Date(now.getTime() + 50_000),
  );
  assert.deepEqual(notRenewed((await checkConfig(config, file, now)).warnings), []);
  assert.equal(notRenewed((await checkConfig(config, file, new Date(now.getTime() + 31_000))).warnings).length, 1);

  // A 90-day certificate 70 days old: 20 days left, past the 30 days before its end ACME renews at.
  await storeAcmeCertificate(
    root,
    'mx.example.com',
    new Date(now.getTime() - 70 * DAY),
    new Date(now.getTime() + 20 * DAY),
  );
  assert.match(String(notRenewed((await checkConfig(config, file, now)).warnings)[0]), /expires in 19 days/);
});

test('check: tls.acme.hostnames without the hostname are a warning; with it, or with a PEM file naming it, none', async (t) => {
  const names = (warnings: string[]) => warnings.filter((w) => /hostname mx\.example\.com/.test(w));
  const without = dir(t, { tls: acme(['other.example.net']) });
  const report = await checkConfig(loadConfig(without.file).config, without.file);
  assert.equal(names(report.warnings).length, 1, report.warnings.join('\n'));
  assert.match(
    names(report.warnings)[0]!,
    /^tls\.acme\.hostnames \(other\.example\.net\) do not include the hostname mx\.example\.com, the name serve gives in EHLO and the MX target/,
  );

  const withIt = dir(t, { tls: acme(['other.example.net', 'MX.example.com']) });
  assert.deepEqual(names((await checkConfig(loadConfig(withIt.file).config, withIt.file)).warnings), []);
  const byDefault = dir(t, { tls: acme() });
  assert.deepEqual(names((await checkConfig(loadConfig(byDefault.file).config, byDefault.file)).warnings), []);

  const pem = dir(t, {
    tls: { ...acme(['other.example.net']), certificates: [{ cert: './cert.pem', key: './key.pem' }] },
  });
  const pair = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  fs.writeFileSync(path.join(pem.root, 'cert.pem'), pair.cert);
  fs.writeFileSync(path.join(pem.root, 'key.pem'), pair.key, { mode: 0o600 });
  assert.deepEqual(names((await checkConfig(loadConfig(pem.file).config, pem.file)).warnings), []);
});
