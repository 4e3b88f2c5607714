// What the writer says when SQLite calls the database malformed: corrupt, or (after a disk I/O error on
// its connection) unreadable because of the disk, which a restored backup would not cure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { test } from 'node:test';
import { openConnection } from '../../../src/store/sqlite/connection.ts';
import { migrateSqlite } from '../../../src/store/sqlite/migrations.ts';
import { SqliteWriter } from '../../../src/store/sqlite/writes.ts';

/** node:sqlite's errors carry SQLite's extended result code as `errcode`. */
const sqliteError = (message: string, errcode: number) => Object.assign(new Error(message), { errcode });
const IOERR_READ = 266; // SQLITE_IOERR_READ: primary code 10
const CORRUPT = 11;

/**
 * A writer on a real database whose BEGIN fails with the errors queued in `failures`: a disk that
 * fails cannot be made here safely, and what is tested is what the writer makes of SQLite's codes.
 */
function writerWithFailures(t: test.TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = openConnection(path.join(dir, 'postern.sqlite'), { busyTimeoutMs: 100, role: 'writer' });
  t.after(() => db.close());
  migrateSqlite(db);
  const failures: Error[] = [];
  const failing = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property === 'prepare') {
        return (sql: string) => {
          const statement = target.prepare(sql);
          if (sql !== 'BEGIN IMMEDIATE') return statement;
          return {
            run: () => {
              const failure = failures.shift();
              if (failure) throw failure;
              return statement.run();
            },
          } as unknown as StatementSync;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as DatabaseSync;
  return { writer: new SqliteWriter(failing), failures };
}

test('a malformed database with no I/O error before it is said to be corrupt', (t) => {
  const { writer, failures } = writerWithFailures(t);
  failures.push(sqliteError('database disk image is malformed', CORRUPT));
  const { committed, broken } = writer.writeBatch([]);
  assert.equal(committed, false);
  assert.equal(broken, 'the database is corrupt (database disk image is malformed)');
});

test('after a disk I/O error, "malformed" sends the admin to dmesg and integrity_check, not to a backup', (t) => {
  const { writer, failures } = writerWithFailures(t);
  failures.push(sqliteError('disk I/O error', IOERR_READ));
  const first = writer.writeBatch([]);
  assert.equal(first.committed, false);
  assert.equal(first.broken, undefined, 'an I/O error alone may pass: the next batch is tried');
  failures.push(sqliteError('database disk image is malformed', CORRUPT));
  const { broken } = writer.writeBatch([]);
  assert.equal(
    broken,
    'the database cannot be read after a disk I/O error (database disk image is malformed): check the file ' +
      'system (dmesg) and run PRAGMA integrity_check before restoring anything',
  );
  assert.doesNotMatch(String(broken), /is corrupt/);
});

test('the writer still commits when BEGIN does not fail', (t) => {
  const { writer } = writerWithFailures(t);
  assert.deepEqual(writer.writeBatch([]), { committed: true, results: [] });
});
