// MAIL FROM and the store's free space: 452 4.3.1 before the client sends a message there is no room for.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { FreeSpace } from '../../src/server/free-space.ts';
import { startTestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

test('a store file system with less than 1.5 × maxMessageSize free answers MAIL FROM 452 4.3.1', async (t) => {
  // Postfix's rule, met for real: no file system here has 1.5 × 2^52 octets free.
  const server = await startTestServer({ smtp: { maxMessageSize: 2 ** 52 }, log: { level: 'info' } });
  t.after(() => server.stop());
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  const refused = await client.command('MAIL FROM:<bob@example.net>');
  assert.equal(refused.code, 452);
  assert.match(refused.text, /^452 4\.3\.1 Insufficient system storage/);
  assert.ok(
    server.logs().some((line) => /less than 1\.5 × smtp\.maxMessageSize/.test(String(line.msg))),
    'the admin is told why, once',
  );
});

test('with room for the largest message, MAIL FROM goes on as before', async (t) => {
  const { bavail, bsize } = fs.statfsSync('/tmp');
  assert.ok(bavail * bsize > 100 * 1024 * 1024, 'the test needs 100 MB free in /tmp');
  const server = await startTestServer({ smtp: { maxMessageSize: 1024 * 1024 } });
  t.after(() => server.stop());
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.equal((await client.command('MAIL FROM:<bob@example.net>')).code, 250);
});

test('FreeSpace asks the file system at most once a second, says when it changes, and keeps its answer when statfs fails', () => {
  const lines: string[] = [];
  const logger = createLogger('info', {
    write: (line: string) => lines.push(JSON.parse(line).msg),
  } as unknown as NodeJS.WritableStream);
  let free = 10 * 1024 * 1024;
  let calls = 0;
  let failing = false;
  const space = new FreeSpace({
    dir: '/srv/mail',
    maxMessageSize: 4 * 1024 * 1024, // 6 MB needed
    logger,
    statfs: () => {
      calls++;
      if (failing) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      return { bavail: free / 4096, bsize: 4096 };
    },
  });
  assert.equal(space.enough(0), true);
  free = 5 * 1024 * 1024;
  assert.equal(space.enough(500), true, 'within the second: the last answer');
  assert.equal(calls, 1);
  assert.equal(space.enough(1000), false);
  assert.equal(space.enough(2000), false);
  assert.deepEqual(lines, [
    'store: /srv/mail has 5.0 MB free, less than 1.5 × smtp.maxMessageSize (6.0 MB): MAIL FROM is answered 452 4.3.1 until space is freed',
  ]);
  failing = true;
  assert.equal(space.enough(3000), false, 'a failed statfs changes nothing');
  failing = false;
  free = 7 * 1024 * 1024;
  assert.equal(space.enough(4000), true);
  assert.equal(lines[1], 'store: /srv/mail has 7.0 MB free again: MAIL FROM is accepted');
});

test('FreeSpace rechecks on the monotonic clock: a wall clock stepped back does not freeze its answer', (t) => {
  let calls = 0;
  const space = new FreeSpace({
    dir: '/srv/mail',
    maxMessageSize: 1024,
    logger: createLogger('silent'),
    statfs: () => {
      calls++;
      return { bavail: 1_000_000, bsize: 4096 };
    },
  });
  const wallClock = Date.now;
  const monotonic = performance.now.bind(performance);
  t.after(() => {
    Date.now = wallClock;
    performance.now = monotonic;
  });
  space.enough();
  Date.now = () => wallClock() - 3_600_000; // NTP steps the clock back an hour
  const start = monotonic();
  performance.now = () => start + 1001;
  space.enough();
  assert.equal(calls, 2, 'asked again a second later, whatever the wall clock says');
});

test('FreeSpace says what is needed to the tenth of a MB: 1.5 × 1 MB is not "1 MB"', () => {
  const lines: string[] = [];
  const logger = createLogger('info', {
    write: (line: string) => lines.push(JSON.parse(line).msg),
  } as unknown as NodeJS.WritableStream);
  const space = new FreeSpace({
    dir: '/srv/mail',
    maxMessageSize: 1024 * 1024,
    logger,
    statfs: () => ({ bavail: 256, bsize: 4096 }), // 1 MB free
  });
  assert.equal(space.enough(0), false);
  assert.deepEqual(lines, [
    'store: /srv/mail has 1.0 MB free, less than 1.5 × smtp.maxMessageSize (1.5 MB): MAIL FROM is answered 452 4.3.1 until space is freed',
  ]);
});

test('FreeSpace says amounts under a megabyte in KB or bytes, not "0.0 MB"', () => {
  const lines: string[] = [];
  const logger = createLogger('info', {
    write: (line: string) => lines.push(JSON.parse(line).msg),
  } as unknown as NodeJS.WritableStream);
  let free = 12 * 1024;
  const space = new FreeSpace({
    dir: '/srv/mail',
    maxMessageSize: 16 * 1024, // 24 KB needed
    logger,
    statfs: () => ({ bavail: free, bsize: 1 }),
  });
  assert.equal(space.enough(0), false);
  free = 0;
  space.recheck();
  assert.equal(space.enough(10), false);
  free = 2 * 1024 * 1024;
  space.recheck();
  assert.equal(space.enough(20), true);
  free = 500;
  space.recheck();
  assert.equal(space.enough(30), false);
  assert.deepEqual(lines, [
    'store: /srv/mail has 12.0 KB free, less than 1.5 × smtp.maxMessageSize (24.0 KB): MAIL FROM is answered 452 4.3.1 until space is freed',
    'store: /srv/mail has 2.0 MB free again: MAIL FROM is accepted',
    'store: /srv/mail has 500 bytes free, less than 1.5 × smtp.maxMessageSize (24.0 KB): MAIL FROM is answered 452 4.3.1 until space is freed',
  ]);
});
