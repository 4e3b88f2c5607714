// The SQLite engine: the shared contract (test/store/contract.ts), then what only this engine has.
// Not run on PostgreSQL, and why: file and directory modes, WAL mode and PRAGMAs (PostgreSQL keeps
// no file of ours; its settings are checked in postgres.test.ts), the writer thread (PostgreSQL has
// no such thread: its counterpart, killed connections, is tested there), busy_timeout against
// another process's lock (PostgreSQL waits on row locks instead: the two-node tests), and the worker
// loading as .ts. Group commit, migration, a newer schema and reopening run on both engines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { test } from 'node:test';
import { openConnection } from '../../src/store/sqlite/connection.ts';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import { SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { SchemaTooNewError, StoreUnavailableError } from '../../src/store/store.ts';
import { runStoreContract, sampleDelivery } from './contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'postern-'));
}

runStoreContract('sqlite', async () => {
  const dir = tempDir();
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  return {
    store,
    // Another connection, as the CLI would open: the store's reader sees its commit at once (WAL).
    async execute(sql, values) {
      const db = new DatabaseSync(path.join(dir, 'data', DATABASE_FILE_NAME), { timeout: 5000 });
      try {
        db.prepare(sql).run(...(values as SQLInputValue[]));
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await store.close().catch(() => {}); // the test may have closed it
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Runs a test with a store in a fresh temp dir, removed afterwards. */
async function withTempDir(fn: (dataDir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(path.join(dir, 'data'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

test('creates the data directory 0700 and the database 0600, -wal included', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.deliver(sampleDelivery([bob]));
      assert.equal(modeOf(dataDir), 0o700);
      assert.equal(modeOf(path.join(dataDir, DATABASE_FILE_NAME)), 0o600);
      assert.equal(modeOf(path.join(dataDir, `${DATABASE_FILE_NAME}-wal`)), 0o600);
    } finally {
      await store.close();
    }
  }));

test('a large message handed over moves to the writer thread instead of being copied; one not handed over stays', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const body = Buffer.alloc(200_000, 0x62);
      const moved = new Uint8Array(body);
      await store.deliver({ ...sampleDelivery([bob]), content: moved, handOver: true });
      assert.equal(moved.byteLength, 0, 'the memory went to the writer thread');
      const kept = new Uint8Array(body);
      await store.deliver({ ...sampleDelivery([bob]), content: kept });
      assert.equal(kept.byteLength, 200_000, 'a caller that did not hand it over keeps its bytes');
      const view = new Uint8Array(Buffer.concat([body, Buffer.alloc(10)])).subarray(0, 200_000);
      await store.deliver({ ...sampleDelivery([bob]), content: view, handOver: true });
      assert.equal(view.byteLength, 200_000, 'a view into larger memory is copied, never moved');
    } finally {
      await store.close();
    }
  }));

test('tightens a database file left world-readable, and its -wal and -shm (another program made them)', () =>
  withTempDir(async (dataDir) => {
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const file = path.join(dataDir, DATABASE_FILE_NAME);
    fs.writeFileSync(file, '', { mode: 0o644 });
    // Another program (the sqlite3 shell, say) has the file open in WAL mode: its -wal and -shm were
    // made with the file's mode of then, 0644.
    const other = new DatabaseSync(file);
    other.exec('PRAGMA journal_mode = WAL; CREATE TABLE other (x); INSERT INTO other VALUES (1)');
    assert.equal(modeOf(`${file}-wal`), 0o644);
    const store = await openSqliteStore({ dataDir });
    try {
      assert.equal(modeOf(file), 0o600);
      assert.equal(modeOf(`${file}-wal`), 0o600);
      assert.equal(modeOf(`${file}-shm`), 0o600);
    } finally {
      await store.close();
      other.close();
    }
  }));

test('migrates a new file to the latest schema version and leaves it in WAL mode', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    await store.close();
    const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
    try {
      assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
      assert.equal(db.prepare('PRAGMA user_version').get()?.user_version, SQLITE_SCHEMA_VERSION);
      assert.equal(db.prepare('SELECT max(version) AS v FROM schema_version').get()?.v, SQLITE_SCHEMA_VERSION);
      assert.equal(db.prepare('SELECT count(*) AS n FROM schema_version').get()?.n, SQLITE_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  }));

test('opens connections with synchronous=FULL, foreign keys and a busy timeout', () =>
  withTempDir(async (dataDir) => {
    fs.mkdirSync(dataDir);
    const db = openConnection(path.join(dataDir, 'settings.sqlite'), { busyTimeoutMs: 1234, role: 'reader' });
    try {
      assert.equal(db.prepare('PRAGMA synchronous').get()?.synchronous, 2); // 2 = FULL
      assert.equal(db.prepare('PRAGMA foreign_keys').get()?.foreign_keys, 1);
      assert.equal(db.prepare('PRAGMA busy_timeout').get()?.timeout, 1234);
      assert.equal(db.prepare('PRAGMA query_only').get()?.query_only, 1);
    } finally {
      db.close();
    }
  }));

test('refuses a database with a schema version it does not know', () =>
  withTempDir(async (dataDir) => {
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
    db.exec('PRAGMA user_version = 99');
    db.close();
    await assert.rejects(openSqliteStore({ dataDir }), SchemaTooNewError);
    await assert.rejects(openSqliteStore({ dataDir }), /schema is version 99, newer than this Postern knows/);
  }));

test('group commit: 100 concurrent deliveries share commits', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const before = store.stats();
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.deliver(sampleDelivery([bob], `batch ${i}`))));
      const after = store.stats();
      const commits = after.commits - before.commits;
      assert.equal(after.deliveries - before.deliveries, 100);
      assert.ok(commits < 100, `100 deliveries took ${commits} commits`);
    } finally {
      await store.close();
    }
  }));

test('one batch: ascending UIDs and mod-sequences, counters written back, a failed delivery only a gap', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const carol = await store.createAccount('carol@example.com', PHC);
      await store.deliver(sampleDelivery([bob], 'before'));
      const before = store.stats();
      // Issued in one turn, so they reach the writer together; carol goes between the deliveries.
      const outcomes = await Promise.allSettled([
        store.deliver(sampleDelivery([bob], 'one')),
        store.deliver(sampleDelivery([carol], 'to carol')),
        store.removeAccount('carol@example.com'),
        store.deliver(sampleDelivery([carol], 'too late')),
        store.createAccount('dave@example.com', PHC),
        store.deliver(sampleDelivery([bob], 'two')),
        store.deliver(sampleDelivery([bob], 'three')),
      ]);
      assert.equal(store.stats().commits - before.commits, 1, 'one transaction');
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
      );
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.ok(inbox);
      const messages = await store.listMessages(inbox.id);
      assert.deepEqual(
        messages.map((m) => m.uid),
        [1, 2, 3, 4],
      );
      const modSeqs = messages.map((m) => m.modSeq);
      assert.ok(
        modSeqs.every((m, i) => i === 0 || m > (modSeqs[i - 1] as bigint)),
        `ascending: ${modSeqs.join(' ')}`,
      );
      assert.equal(inbox.uidNext, 5);
      assert.equal(inbox.highestModSeq, modSeqs.at(-1));
      const dave = await store.findAccount('dave@example.com');
      assert.ok(dave);
      const daveInbox = await store.getMailbox(dave.id, 'INBOX');
      assert.equal(daveInbox?.uidNext, 1);
      // The next transaction goes on from the written-back counters.
      const next = await store.deliver(sampleDelivery([bob], 'after'));
      assert.equal(next.placements[0]?.uid, 5);
    } finally {
      await store.close();
    }
  }));

test('an SQLite error inside one delivery fails its whole batch, which leaves nothing behind', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.deliver(sampleDelivery([bob], 'before'));
      // A delivery runs without a savepoint (src/store/sqlite/writes.ts): an error SQLite raises in
      // the middle of one, here from a trigger another connection adds, rolls back the transaction.
      const other = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
      other.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON mailbox_messages
        WHEN (SELECT header_subject FROM messages WHERE id = NEW.message_id) = 'boom'
        BEGIN SELECT RAISE(ABORT, 'boom refused'); END`);
      const outcomes = await Promise.allSettled([
        store.deliver(sampleDelivery([bob], 'one')),
        store.deliver(sampleDelivery([bob], 'boom')),
        store.deliver(sampleDelivery([bob], 'two')),
      ]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).constructor.name : o.status)),
        ['StoreUnavailableError', 'StoreUnavailableError', 'StoreUnavailableError'],
      );
      assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /boom refused/);
      other.exec('DROP TRIGGER refuse_boom');
      other.close();
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.deepEqual(
        (await store.listMessages(inbox!.id)).map((m) => m.uid),
        [1],
        'nothing of the failed batch is stored',
      );
      // The next transaction starts from the stored counters: the failed batch's UIDs were never used.
      const next = await store.deliver(sampleDelivery([bob], 'after'));
      assert.equal(next.placements[0]?.uid, 2);
      assert.equal((await store.getMailbox(bob.id, 'INBOX'))?.uidNext, 3);
    } finally {
      await store.close();
    }
  }));

test('keeps accounts and messages across close and reopen', () =>
  withTempDir(async (dataDir) => {
    const first = await openSqliteStore({ dataDir });
    const bob = await first.createAccount('bob@example.com', PHC);
    const delivery = sampleDelivery([bob]);
    const receipt = await first.deliver(delivery);
    const inboxBefore = await first.getMailbox(bob.id, 'INBOX');
    await first.close();

    const second = await openSqliteStore({ dataDir });
    try {
      assert.deepEqual(await second.findAccount('bob@example.com'), bob);
      const placement = receipt.placements[0]!;
      assert.deepEqual(await second.readMessage(placement.mailboxId, placement.uid), delivery.content);
      assert.deepEqual(await second.getMailbox(bob.id, 'INBOX'), inboxBefore);
      const next = await second.deliver(sampleDelivery([bob], 'after reopen'));
      assert.equal(next.placements[0]!.uid, 2);
    } finally {
      await second.close();
    }
  }));

test('sees an account another connection (the CLI) added while open', () =>
  withTempDir(async (dataDir) => {
    const server = await openSqliteStore({ dataDir });
    const cli = await openSqliteStore({ dataDir });
    try {
      await cli.createAccount('bob@example.com', PHC);
      const bob = await server.findAccount('bob@example.com');
      assert.ok(bob);
      const receipt = await server.deliver(sampleDelivery([bob]));
      assert.equal(receipt.placements[0]!.uid, 1);
      await assert.rejects(server.createAccount('bob@example.com', PHC), { code: 'ACCOUNT_EXISTS' });
    } finally {
      await cli.close();
      await server.close();
    }
  }));

test('a pending deliver() rejects when the writer thread is killed, and so do later ones', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 10_000 });
    const bob = await store.createAccount('bob@example.com', PHC);
    // Another process holds the write lock, so the delivery is certainly still pending.
    const other = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
    other.exec('BEGIN IMMEDIATE');
    const pending = store.deliver(sampleDelivery([bob]));
    const crashed = store.simulateWriterCrash();
    await assert.rejects(pending, StoreUnavailableError);
    other.exec('ROLLBACK');
    other.close();
    await crashed;
    await assert.rejects(store.deliver(sampleDelivery([bob])), StoreUnavailableError);
    await store.close();
  }));

test('a deliver() rejects when its commit fails (lock held past busy_timeout)', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 100 });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const other = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(
        store.deliver(sampleDelivery([bob])),
        /write transaction failed: database is locked \(another process holds the write lock: a postern serve, a postern command or a sqlite3 shell\)/,
      );
      other.exec('ROLLBACK');
      other.close();
      assert.equal((await store.getMailbox(bob.id, 'INBOX'))?.messageCount, 0);
      const receipt = await store.deliver(sampleDelivery([bob]));
      assert.equal(receipt.placements[0]!.uid, 1, 'the failed delivery used no UID');
    } finally {
      await store.close();
    }
  }));

test('the writer worker loads as a .ts file under type stripping', () =>
  withTempDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    assert.equal(store.stats().commits, 0);
    await store.close();
  }));

test('a database file removed, replaced or truncated under the store: nothing more is acknowledged, and onFatal says so once', async (t) => {
  for (const change of ['removed', 'replaced', 'truncated'] as const) {
    await t.test(change, () =>
      withTempDir(async (dataDir) => {
        const file = path.join(dataDir, DATABASE_FILE_NAME);
        // Opened and closed once, so the schema is checkpointed into the file: it has a size to lose.
        await (await openSqliteStore({ dataDir })).close();
        const fatal: Error[] = [];
        const store = await openSqliteStore({ dataDir, onFatal: (error) => fatal.push(error) });
        try {
          const bob = await store.createAccount('bob@example.com', PHC);
          assert.equal((await store.deliver(sampleDelivery([bob]))).placements[0]!.uid, 1);
          assert.equal(fatal.length, 0);
          if (change === 'removed') fs.renameSync(file, `${file}.moved`);
          if (change === 'replaced') {
            fs.copyFileSync(file, `${file}.copy`);
            fs.renameSync(`${file}.copy`, file);
          }
          if (change === 'truncated') fs.truncateSync(file, 0);
          // Committed into a file nobody will read again: the delivery must not be acknowledged.
          await assert.rejects(store.deliver(sampleDelivery([bob])), (error: Error) => {
            assert.ok(error instanceof StoreUnavailableError);
            assert.match(error.message, new RegExp(`${DATABASE_FILE_NAME} was ${change}`));
            return true;
          });
          await assert.rejects(store.deliver(sampleDelivery([bob])), StoreUnavailableError);
          assert.equal(fatal.length, 1);
          assert.match(fatal[0]!.message, /^the SQLite store can take no more mail: .* while the server used it$/);
        } finally {
          await store.close().catch(() => {});
        }
      }),
    );
  }
});

test('the writer thread dying is reported through onFatal; closing the store is not', () =>
  withTempDir(async (dataDir) => {
    const fatal: Error[] = [];
    const store = await openSqliteStore({ dataDir, onFatal: (error) => fatal.push(error) });
    await store.simulateWriterCrash();
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]!.message, /store writer thread was terminated/);
    await store.close();
    const calm: Error[] = [];
    const other = await openSqliteStore({ dataDir, onFatal: (error) => calm.push(error) });
    await other.close();
    assert.deepEqual(calm, [], 'a normal close is no failure');
  }));

test('a -wal removed under the store: the refused delivery is rolled back, so the close does not store it after all', () =>
  withTempDir(async (dataDir) => {
    const file = path.join(dataDir, DATABASE_FILE_NAME);
    const store = await openSqliteStore({ dataDir, onFatal: () => {} });
    const bob = await store.createAccount('bob@example.com', PHC);
    assert.equal((await store.deliver(sampleDelivery([bob]))).placements[0]!.uid, 1);
    fs.rmSync(`${file}-wal`);
    await assert.rejects(
      store.deliver(sampleDelivery([bob])),
      /postern\.sqlite-wal was removed while the server used it/,
    );
    await store.close(); // folds the deleted WAL, with the acknowledged delivery, into the database
    const reopened = await openSqliteStore({ dataDir });
    try {
      const inbox = await reopened.getMailbox(bob.id, 'INBOX');
      assert.equal(
        inbox?.messageCount,
        1,
        'the acknowledged one kept, the refused one not stored (its retry would double it)',
      );
    } finally {
      await reopened.close();
    }
  }));

test('a counter an older Postern stored past 2^53 - 1 is brought to the bound at open: `postern stats` reads every counter again', () =>
  withTempDir(async (dataDir) => {
    await (await openSqliteStore({ dataDir })).close();
    const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
    try {
      db.prepare('INSERT INTO counters (name, value) VALUES (?, ?), (?, ?), (?, ?)').run(
        'restriction:a',
        2n ** 53n + 1n,
        'restriction:b',
        -(2n ** 62n),
        'restriction:c',
        3,
      );
    } finally {
      db.close();
    }
    const store = await openSqliteStore({ dataDir });
    try {
      assert.deepEqual(await store.readCounters('restriction:'), {
        'restriction:a': Number.MAX_SAFE_INTEGER,
        'restriction:b': Number.MIN_SAFE_INTEGER,
        'restriction:c': 3,
      });
    } finally {
      await store.close();
    }
  }));

test('removeAccount empties a large mailbox in short transactions, keeping content other accounts hold', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data'), removalBatch: 100 });
  t.after(() => store.close());
  const bob = await store.createAccount('bob@example.com', PHC);
  const carol = await store.createAccount('carol@example.com', PHC);
  await Promise.all(Array.from({ length: 240 }, (_, i) => store.deliver(sampleDelivery([bob], `for bob ${i}`))));
  const shared = await Promise.all(
    Array.from({ length: 10 }, (_, i) => store.deliver(sampleDelivery([bob, carol], `for both ${i}`))),
  );
  const before = store.stats().commits;
  assert.equal(await store.removeAccount('bob@example.com'), true);
  // 250 messages, 100 a transaction: 100, 100, then 50 with the account. One transaction held the
  // write lock for all of them, past a server's 5 s busy timeout for a mailbox of some 300,000.
  assert.equal(store.stats().commits - before, 3);
  assert.equal(await store.findAccount('bob@example.com'), undefined);
  const carolInbox = await store.getMailbox(carol.id, 'INBOX');
  assert.equal(carolInbox?.messageCount, 10);
  for (let uid = 1; uid <= 10; uid++) {
    const content = await store.readMessage(carolInbox!.id, uid);
    assert.match(new TextDecoder().decode(content), /Subject: for both \d\r\n/, `carol's UID ${uid} is whole`);
  }
  assert.equal(shared.length, 10);
  const db = new DatabaseSync(path.join(dir, 'data', DATABASE_FILE_NAME), { readOnly: true });
  try {
    // Only the ten carol still holds: bob's own content went with his placements.
    assert.equal(Number(db.prepare('SELECT count(*) AS n FROM messages').get()?.n), 10);
  } finally {
    db.close();
  }
});
