/**
 * PostgreSQL's disk full, for real: the test database lives in a tablespace on a 24 MiB tmpfs, and
 * deliveries of incompressible messages fill it. The store rejects with StoreFullError saying so (SMTP
 * then answers 452 4.3.1, as test/server/full-disk.test.ts shows for SQLite), and what it acknowledged
 * is all there. Needs root (the mount) and a superuser login to a PostgreSQL server on this machine
 * (CREATE TABLESPACE in a directory its server process owns).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { type Delivery, StoreFullError } from '../../src/store/store.ts';
import { queryPostgres, testPostgresServerUrl } from '../support/postgres.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

/** A message of about 512 KiB that no compression (PostgreSQL's TOAST) makes smaller than 380 KiB. */
function largeDelivery(accountId: number, n: number): Delivery {
  const body = randomBytes(384 * 1024)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return {
    mailFrom: 'alice@example.com',
    recipients: [{ address: 'bob@example.com', accountId }],
    content: new TextEncoder().encode(`From: <alice@example.com>\r\nSubject: m${n}\r\n\r\n${body}\r\n`),
    receivedAt: new Date(),
  };
}

test('postgres: a full disk is StoreFullError saying so, and every delivery it acknowledged is there', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: mounts a small tmpfs for a tablespace');
  const serverUrl = testPostgresServerUrl();
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(serverUrl).hostname)) {
    return t.skip('the test PostgreSQL is not on this machine: its tablespace cannot be put on a small tmpfs here');
  }
  const rows = await queryPostgres(
    serverUrl,
    "SELECT setting AS dir, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super FROM pg_settings WHERE name = 'data_directory'",
  );
  const { dir: dataDirectory, super: superuser } = rows[0] as { dir: string; super: boolean };
  if (!superuser) return t.skip('the test PostgreSQL login is no superuser: CREATE TABLESPACE needs one');
  const owner = fs.statSync(dataDirectory); // the server process's user, who must own the tablespace

  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-pg-full-'));
  const location = path.join(mountPoint, 'tablespace');
  const tablespace = `postern_full_${suffix}`;
  const database = `postern_test_full_${suffix}`;
  t.after(async () => {
    await queryPostgres(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await queryPostgres(serverUrl, `DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => {});
    execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0755', 'tmpfs', mountPoint]);
  fs.mkdirSync(location, { mode: 0o700 });
  fs.chownSync(location, owner.uid, owner.gid);
  await queryPostgres(serverUrl, `CREATE TABLESPACE ${tablespace} LOCATION '${location}'`);
  await queryPostgres(serverUrl, `CREATE DATABASE ${database} TABLESPACE ${tablespace}`);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;

  const store = await openPostgresStore({ url: url.toString(), poolSize: 2 });
  t.after(() => store.close());
  const bob = await store.createAccount('bob@example.com', PHC);
  let stored = 0;
  let failure: unknown;
  // Bounded: 24 MiB holds fewer than 60 of these, with the database's own files.
  for (let n = 0; n < 100 && failure === undefined; n++) {
    try {
      await store.deliver(largeDelivery(bob.id, n));
      stored++;
    } catch (error) {
      failure = error;
    }
  }
  assert.ok(failure instanceof StoreFullError, `a StoreFullError after ${stored} deliveries, not ${String(failure)}`);
  assert.match(
    (failure as Error).message,
    /^delivery transaction failed: PostgreSQL's disk is full \(SQLSTATE 53100 disk_full\): free space on the database server \(the server said: .*No space left on device/,
  );
  assert.ok(stored > 0, 'some deliveries fitted before the disk filled');
  const inbox = await store.getMailbox(bob.id, 'INBOX');
  assert.equal(inbox?.messageCount, stored, 'every acknowledged delivery is there, and nothing of the failed one');
});
