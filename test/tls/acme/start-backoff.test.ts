// What the start says about a hostname whose orders failed before it: a CA's rate limit is named as
// such, with its time, and no reload is advised (a reload does not override the CA: retryFailed()).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { formatFailureRecord } from '../../../src/tls/acme/files.ts';
import { captureLogger } from '../tls-kit.ts';
import { managerFor } from './acme-kit.ts';

const HOUR = 3_600_000;

/** A manager for mx.example.test started on `record` as an earlier process left it; its start warnings. */
async function startWarnings(record: Parameters<typeof formatFailureRecord>[0]) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postern-acme-start-'));
  try {
    await mkdir(path.join(dataDir, 'tls', 'acme'), { recursive: true });
    await writeFile(path.join(dataDir, 'tls', 'acme', 'mx.example.test.failures.json'), formatFailureRecord(record));
    const log = captureLogger();
    // No CA is asked: the record says to wait, and the test stops the manager at once.
    const manager = managerFor('https://127.0.0.1:1/dir', dataDir, { logger: log.logger });
    await manager.start();
    await manager.stop(0);
    return log.lines.filter((line) => line.level === 40 && line.hostname === 'mx.example.test');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('rate-limited by the CA before this start: the start says so and when, and advises no reload', async () => {
  const notBefore = new Date(Date.now() + 2 * HOUR);
  const [warning, ...rest] = await startWarnings({
    failures: 1,
    at: new Date(),
    error: 'the CA limits orders: too many new orders recently',
    notBefore,
  });
  assert.deepEqual(rest, []);
  assert.ok(warning, 'a warning at start');
  assert.match(warning.msg, /the CA's rate limit/);
  assert.ok(warning.msg.includes(notBefore.toISOString()), warning.msg);
  assert.match(warning.msg, /RFC 8555 §6\.6/);
  assert.match(warning.msg, /a reload does not order sooner/);
  assert.doesNotMatch(warning.msg, /to order at once/);
  assert.equal(warning.notBefore, notBefore.toISOString());
});

test('a plain backoff before this start: the start advises a reload once the cause is fixed', async () => {
  const [warning] = await startWarnings({ failures: 2, at: new Date(), error: 'DNS problem: NXDOMAIN' });
  assert.match(
    String(warning?.msg),
    /failed 2 time\(s\) before this start; the next order waits until .*to order at once/,
  );
});
