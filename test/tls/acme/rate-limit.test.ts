// A CA that rate-limits (RFC 8555 §6.6: 429 with Retry-After): the order ends at once instead of waiting
// hours inside acme-client, and no order goes to that CA before the time it gave, after a restart or a
// reload either. Its own process: acme-client's settings are process-wide, and these keep their defaults.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import acme from 'acme-client';
import { AcmeRateLimitedError } from '../../../src/tls/acme/issue.ts';
import { retryAfterSeconds } from '../../../src/tls/acme/rate-limit.ts';
import { createSelfSignedCertificate } from '../../../src/tls/create-certificate.ts';
import { captureLogger } from '../tls-kit.ts';
import { managerFor, orderFrom } from './acme-kit.ts';

/** A CA whose every answer is 429 with `retryAfter`, trusted for this process; counts the requests. */
async function limitingCa(retryAfter: string) {
  const own = await createSelfSignedCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'] });
  let requests = 0;
  const server = https.createServer(own, (_, res) => {
    requests++;
    res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': retryAfter });
    res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, own.cert] });
  const directory = `https://127.0.0.1:${(server.address() as AddressInfo).port}/dir`;
  return {
    directory,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('Retry-After is read as seconds or as an HTTP date (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-11-29T06:00:00Z');
  assert.equal(retryAfterSeconds('7200', now), 7200);
  assert.equal(retryAfterSeconds('Sun, 29 Nov 2026 08:00:00 GMT', now), 7200);
  assert.equal(retryAfterSeconds('Sun, 29 Nov 2026 05:00:00 GMT', now), 0, 'a past date: no wait');
  assert.equal(retryAfterSeconds('soon', now), undefined);
  assert.equal(retryAfterSeconds(undefined, now), undefined);
});

test('a CA asking for two hours ends the order at once, with the time, after one request', {
  timeout: 30_000,
}, async () => {
  const ca = await limitingCa('7200');
  const before = Date.now();
  try {
    await assert.rejects(orderFrom(ca.directory), (error: Error) => {
      assert.ok(error instanceof AcmeRateLimitedError, `${error.name}: ${error.message}`);
      const wait = error.retryAt.getTime() - before;
      assert.ok(wait >= 7_190_000 && wait <= 7_300_000, `retry at +${wait} ms`);
      assert.match(error.message, /the CA limits orders .*not to be asked again before \d{4}-/);
      return true;
    });
    assert.equal(ca.requests(), 1, 'not asked again: acme-client would have waited 2 h five times');
  } finally {
    await ca.close();
  }
});

test('the manager waits as long as the CA asked, across a restart, and a reload does not override it', {
  timeout: 30_000,
}, async () => {
  const ca = await limitingCa('7200');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-limit-'));
  const manager = (logger = captureLogger().logger) => managerFor(ca.directory, dataDir, { logger });
  try {
    const first = manager();
    await first.start();
    await first.settled();
    await first.stop();
    const wait = (first.status()[0]?.nextCheck.getTime() ?? 0) - Date.now();
    assert.ok(wait > 7_000_000, `the next order in ${wait} ms, not the 5 minutes of the backoff`);
    const saved = JSON.parse(
      await readFile(path.join(dataDir, 'tls', 'acme', 'mx.example.test.failures.json'), 'utf8'),
    );
    assert.ok(Date.parse(saved.notBefore) > Date.now() + 7_000_000);

    const log = captureLogger();
    const second = manager(log.logger);
    await second.start();
    await second.settled();
    assert.ok((second.status()[0]?.nextCheck.getTime() ?? 0) - Date.now() > 7_000_000, 'kept across a restart');
    assert.deepEqual(second.retryFailed(), [], 'a reload does not override the CA');
    await second.settled();
    await second.stop();
    assert.ok(
      log.lines.some((l) => /reload: not ordering mx\.example\.test again: the CA asked to wait/.test(String(l.msg))),
    );
    assert.equal(ca.requests(), 1, 'one request in all');
  } finally {
    await ca.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
