// An ACME CA that cannot be reached is named in the error with the reason (a refused connection),
// not as acme-client's TypeError. Its own process: acme-client's retries are turned off here, which
// is global to the process, so that the order fails at once instead of after 75 s of retries.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import acme from 'acme-client';
import { createSelfSignedCertificate } from '../../../src/tls/create-certificate.ts';
import { captureLogger } from '../tls-kit.ts';
import { managerFor, orderFrom } from './acme-kit.ts';

(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;

test('an unreachable CA: the error names the directory and why (ECONNREFUSED), not a TypeError', async () => {
  await assert.rejects(
    orderFrom('https://127.0.0.1:9/dir'), // the discard port: nothing listens on loopback
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
  const manager = (logger = captureLogger().logger) => managerFor('https://127.0.0.1:9/dir', dataDir, { logger });
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

    const secondLog = captureLogger();
    const second = manager(secondLog.logger);
    await second.start();
    await second.settled();
    await second.stop();
    const [status] = second.status();
    assert.equal(status?.failures, 1, 'no order at start: the backoff from before the restart holds');
    const waitMs = (status?.nextCheck.getTime() ?? 0) - before;
    assert.ok(waitMs >= 4.9 * 60_000 && waitMs <= 5.5 * 60_000, `next try ${waitMs} ms after the failure`);
    // Said at start: an admin who fixed the cause and restarted must not be left wondering why nothing is ordered.
    const waiting = secondLog.lines.find((line) => line.level === 40 && line.hostname === 'mx.example.test');
    assert.ok(waiting, 'a warning names the host in backoff');
    assert.match(String(waiting.msg), /failed 1 time\(s\) before this start; the next order waits until \d{4}-/);
    assert.ok(
      String(waiting.msg).includes('Reload (SIGHUP: systemctl reload postern) to order at once'),
      String(waiting.msg),
    );
    assert.match(String(waiting.reason), /ECONNREFUSED/);

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

test('a CA whose HTTPS certificate is not trusted: the error says to set directoryCa', async () => {
  const own = await createSelfSignedCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'] });
  const server = https.createServer(own, (_, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await assert.rejects(orderFrom(`https://127.0.0.1:${port}/dir`), (error: Error) => {
      assert.equal(
        error.message,
        `ACME: cannot reach the CA at https://127.0.0.1:${port}/dir: its HTTPS certificate is not trusted ` +
          '(DEPTH_ZERO_SELF_SIGNED_CERT); for a private CA, set tls.acme.directoryCa to the PEM file of its CA certificate',
      );
      return true;
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('a reload (SIGHUP) orders the failed hostnames again at once, past the backoff; good ones are left', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-retry-'));
  // good.example.test has a certificate on disk, valid for a year: nothing to order for it.
  const good = await createSelfSignedCertificate({ hostnames: ['good.example.test'] });
  await mkdir(path.join(dataDir, 'tls', 'acme'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(dataDir, 'tls', 'acme', 'good.example.test.crt'), good.cert);
  await writeFile(path.join(dataDir, 'tls', 'acme', 'good.example.test.key'), good.key, { mode: 0o600 });
  const log = captureLogger();
  const manager = managerFor('https://127.0.0.1:9/dir', dataDir, {
    logger: log.logger,
    hostnames: ['good.example.test', 'mx.example.test'],
  });
  try {
    await manager.start();
    await manager.settled();
    const mx = () => manager.status().find((s) => s.hostname === 'mx.example.test');
    assert.equal(mx()?.failures, 1);
    assert.ok((mx()?.nextCheck.getTime() ?? 0) > Date.now() + 60_000, 'backing off');
    assert.ok(manager.status().find((s) => s.hostname === 'good.example.test')?.notAfter, 'loaded from disk');
    assert.deepEqual(manager.retryFailed(), ['mx.example.test'], 'the good one is left alone');
    await manager.settled();
    assert.equal(mx()?.failures, 2, 'tried again at once (and failed again: the CA is still down)');
    assert.ok(log.lines.some((line) => String(line.msg).startsWith('ACME: reload: ordering again now')));
  } finally {
    await manager.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
