// An ACME CA that cannot be reached is named in the error with the reason (a refused connection),
// not as acme-client's TypeError. Its own process: acme-client's retries are turned off here, which
// is global to the process, so that the order fails at once instead of after 75 s of retries.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import acme from 'acme-client';
import { Http01Challenges } from '../../../src/tls/acme/http-01.ts';
import { issueCertificate } from '../../../src/tls/acme/issue.ts';
import { AcmeManager } from '../../../src/tls/acme/manager.ts';
import { CertificateStore } from '../../../src/tls/certificate-store.ts';
import { captureLogger } from '../tls-kit.ts';

(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;

test('an unreachable CA: the error names the directory and why (ECONNREFUSED), not a TypeError', async () => {
  const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
  await assert.rejects(
    issueCertificate({
      directory: 'https://127.0.0.1:9/dir', // the discard port: nothing listens on loopback
      account: { key },
      termsOfServiceAgreed: true,
      hostname: 'mx.example.test',
      keyType: 'ecdsa-p256',
      http01: new Http01Challenges(),
    }),
    (error: Error) => {
      assert.ok(!(error instanceof TypeError), `${error.name}: ${error.message}`);
      assert.equal(
        error.message,
        'ACME: cannot reach the CA at https://127.0.0.1:9/dir: connect ECONNREFUSED 127.0.0.1:9',
      );
      return true;
    },
  );
});

test('the failure backoff survives a restart: a new process waits as the old one would have', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-backoff-'));
  const manager = () =>
    new AcmeManager({
      directory: 'https://127.0.0.1:9/dir',
      termsOfServiceAgreed: true,
      hostnames: ['mx.example.test'],
      dataDir,
      store: new CertificateStore(),
      logger: captureLogger().logger,
      http01: {},
    });
  try {
    const first = manager();
    const before = Date.now();
    await first.start();
    await first.settled();
    await first.stop();
    assert.equal(first.status()[0]?.failures, 1);
    const file = path.join(dataDir, 'tls', 'acme', 'mx.example.test.failures.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(saved.failures, 1);
    assert.match(saved.error, /ECONNREFUSED/);

    const second = manager();
    await second.start();
    await second.settled();
    await second.stop();
    const [status] = second.status();
    assert.equal(status?.failures, 1, 'no order at start: the backoff from before the restart holds');
    const waitMs = (status?.nextCheck.getTime() ?? 0) - before;
    assert.ok(waitMs >= 4.9 * 60_000 && waitMs <= 5.5 * 60_000, `next try ${waitMs} ms after the failure`);

    await writeFile(file, 'not json');
    const third = manager();
    await third.start();
    await third.settled();
    await third.stop();
    assert.equal(
      third.status()[0]?.failures,
      1,
      'an unreadable record loses only the backoff: it orders (and fails) at once',
    );

    await rm(file);
    await mkdir(file); // a record that cannot be read at all (EISDIR, as EACCES would be)
    const fourth = manager();
    await fourth.start();
    await fourth.settled();
    await fourth.stop();
    assert.equal(fourth.status()[0]?.failures, 1, 'the start goes on without the backoff');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
