// The PostgreSQL engine: the shared contract (test/store/contract.ts), then what only this engine
// has. Not run on SQLite, and why: the server's synchronous_commit (SQLite's synchronous=FULL is
// checked in sqlite.test.ts), an unreachable server (SQLite opens a local file), several nodes
// migrating one database at once (one SQLite file has one node; its IMMEDIATE transaction covers a
// CLI racing the server), killed connections (SQLite's counterpart is the writer-thread crash).
// Cluster primitives across nodes: postgres-cluster.test.ts and test/server/two-nodes.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { DeliveryBatcher } from '../../src/store/postgres/delivery-batcher.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres/migrations.ts';
import { createPool } from '../../src/store/postgres/postgres-store.ts';
import { SchemaTooNewError, StoreUnavailableError } from '../../src/store/store.ts';
import { createTestDatabase, queryPostgres as query, withTestDatabase } from '../support/postgres.ts';
import { runStoreContract, sampleDelivery, sampleMessage } from './contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

runStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  try {
    const store = await openPostgresStore({ url: database.url, poolSize: 4 });
    return {
      store,
      async execute(sql, values) {
        let n = 0;
        await query(
          database.url,
          sql.replace(/\?/g, () => `$${++n}`),
          values,
        );
      },
      async cleanup() {
        await store.close().catch(() => {}); // the test may have closed it
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
});

test('postgres: migrates a new database to the latest schema version', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url });
    assert.deepEqual(
      store.migration.applied.map((m) => m.version),
      Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
    );
    await store.close();
    const rows = await query(url, 'SELECT version FROM schema_version ORDER BY version');
    assert.equal(rows.length, POSTGRES_SCHEMA_VERSION);
    const again = await openPostgresStore({ url });
    assert.deepEqual(again.migration.applied, [], 'nothing left to migrate on the second start');
    await again.close();
  }));

test('postgres: refuses a database with a schema version it does not know', () =>
  withTestDatabase(async ({ url }) => {
    await (await openPostgresStore({ url })).close();
    await query(url, 'INSERT INTO schema_version (version, applied_at) VALUES (99, 0)');
    await assert.rejects(openPostgresStore({ url }), SchemaTooNewError);
    await assert.rejects(openPostgresStore({ url }), /schema is version 99, newer than this Postern knows/);
  }));

test('postgres: two nodes starting at once on an empty database migrate it once', () =>
  withTestDatabase(async ({ url }) => {
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url, poolSize: 2 })));
    const applied = stores.map((store) => store.migration.applied.length);
    assert.equal(
      applied.reduce((a, b) => a + b, 0),
      POSTGRES_SCHEMA_VERSION,
    );
    await Promise.all(stores.map((store) => store.close()));
  }));

test('postgres: an unreachable server is a clear StoreUnavailableError naming it, without the password', async () => {
  const url = 'postgres://postern:s3cret-pw@127.0.0.1:1/postern';
  await assert.rejects(openPostgresStore({ url }), (error: Error) => {
    assert.ok(error instanceof StoreUnavailableError);
    assert.match(error.message, /cannot connect to PostgreSQL at postgres:\/\/postern:\*\*\*@127\.0\.0\.1:1\/postern/);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
});

test('postgres: group commit: 100 concurrent deliveries share commits', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 4 });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const before = store.stats();
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.deliver(sampleDelivery([bob], `batch ${i}`))));
      const after = store.stats();
      assert.equal(after.deliveries - before.deliveries, 100);
      const commits = after.commits - before.commits;
      assert.ok(commits >= 1 && commits < 100, `100 deliveries took ${commits} commits`);
    } finally {
      await store.close();
    }
  }));

test('postgres: our sessions commit with synchronous_commit=on even where the database turned it off', () =>
  withTestDatabase(async ({ url, name }) => {
    await query(url, `ALTER DATABASE ${name} SET synchronous_commit = off`);
    assert.equal((await query(url, 'SHOW synchronous_commit'))[0]?.synchronous_commit, 'off');
    const pool = createPool({ url, poolSize: 1 });
    try {
      const { rows } = await pool.query('SHOW synchronous_commit');
      assert.equal(rows[0]?.synchronous_commit, 'on');
    } finally {
      await pool.end();
    }
  }));

test('postgres: connections killed mid-delivery fail those deliveries as unavailable (451), never as stored; then it recovers', (t) =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 4, applicationName: 'victim' });
    // Holds bob's mailbox rows, which every delivery locks (FOR UPDATE), so the deliveries are
    // certainly in flight, waiting inside their statements, when their connections are killed.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM mailboxes WHERE account_id = $1 FOR UPDATE', [bob.id]);
      const outcomes = Array.from({ length: 60 }, (_, i) =>
        store.deliver(sampleDelivery([bob], `during ${i}`)).then(
          () => ({ subject: `during ${i}`, stored: true }),
          (error: Error) => {
            // What the SMTP session turns into 451 4.3.0 (test/server covers the reply).
            assert.ok(error instanceof StoreUnavailableError, `${error.name}: ${error.message}`);
            return { subject: `during ${i}`, stored: false };
          },
        ),
      );
      const waiting = async () =>
        Number(
          (
            await query(
              url,
              "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'victim' AND wait_event_type = 'Lock'",
            )
          )[0]?.n,
        );
      const deadline = Date.now() + 5000;
      while ((await waiting()) === 0) {
        if (Date.now() > deadline) assert.fail('no delivery came to wait on the mailbox lock');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const killed = await query(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim' AND pid <> pg_backend_pid()",
      );
      assert.ok(killed.length > 0);
      await blocker.query('ROLLBACK');
      const results = await Promise.all(outcomes);
      const failed = results.filter((r) => !r.stored);
      t.diagnostic(`${results.length - failed.length} stored, ${failed.length} failed as unavailable`);
      assert.ok(failed.length > 0, 'the deliveries on the killed connections failed');
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      const stored = new Set((await store.listMessages(inbox!.id)).map((m) => m.summary.subject));
      for (const result of results) {
        if (result.stored) assert.ok(stored.has(result.subject), `${result.subject} was acknowledged and is stored`);
        else assert.ok(!stored.has(result.subject), `${result.subject} failed and is not stored`);
      }
      const after = await store.deliver(sampleDelivery([bob], 'after the kill'));
      assert.equal(after.placements.length, 1, 'the pool opens new connections');
    } finally {
      await blocker.end();
      await store.close();
    }
  }));

test('postgres: postern_deliver still takes the version-4 form, so a node not yet upgraded keeps delivering to INBOX', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.ok(inbox);
      // What delivery-batcher.ts sent before schema version 5: accounts, no targets, no flags.
      const meta = {
        accounts: [bob.id],
        from: 'Alice <alice@example.com>',
        subject: 'from an old node',
        date: null,
        messageId: null,
        mailFrom: 'alice@example.com',
        recipients: '["bob@example.com"]',
        receivedAt: Date.parse('2025-01-02T03:04:05Z'),
      };
      const rows = await query(
        url,
        'SELECT o_item, o_account, o_mailbox, o_uid FROM postern_deliver($1::jsonb, ARRAY[$2::bytea])',
        [JSON.stringify([meta]), Buffer.from(sampleMessage('old'))],
      );
      assert.deepEqual(
        rows.map((row) => [row.o_item, Number(row.o_account), Number(row.o_mailbox), Number(row.o_uid)]),
        [[1, bob.id, inbox.id, 1]],
      );
      const [message] = await store.listMessages(inbox.id);
      assert.equal(message?.summary.subject, 'from an old node');
      assert.deepEqual(message?.flags, []);
      assert.equal(await store.getMailbox(bob.id, 'Junk'), undefined);
    } finally {
      await store.close();
    }
  }));

test('postgres: a batch item whose metadata jsonb cannot hold is refused alone, not the batch', () =>
  withTestDatabase(async ({ url }) => {
    // summarize() cleans From and Subject, so only a caller handing its own summary reaches this:
    // the batcher still refuses such an item before it joins the one jsonb parameter of a batch.
    const store = await openPostgresStore({ url });
    const pool = createPool({ url, poolSize: 1 });
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      const batcher = new DeliveryBatcher(pool, { maxInFlight: 1 });
      const delivery = sampleDelivery([bob]);
      const checked = { targets: [{ accountId: bob.id, mailbox: 'INBOX' as const }], flags: '' };
      const summary = { from: 'Alice', subject: 'ok', date: null, messageId: null };
      const results = await Promise.allSettled([
        batcher.deliver(delivery, summary, checked),
        batcher.deliver(delivery, { ...summary, subject: 'lone \uD800' }, checked),
        batcher.deliver(delivery, { ...summary, from: 'nul \u0000' }, checked),
        batcher.deliver(delivery, summary, checked),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? 'stored' : (r.reason as Error).constructor.name)),
        ['stored', 'InvalidTextError', 'InvalidTextError', 'stored'],
      );
      const inbox = await store.getMailbox(bob.id, 'INBOX');
      assert.equal(inbox?.messageCount, 2);
    } finally {
      await pool.endWithin(5000);
      await store.close();
    }
  }));

test('postgres: a counter an older Postern stored past 2^53 - 1 reads as the bound, not rounded', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({ url });
    try {
      // 2^53 + 1 has no double: Number() of the int8 text pg hands over would give 2^53, past the bound.
      await query(
        url,
        "INSERT INTO counters (name, value) VALUES ('restriction:a', 9007199254740993), ('restriction:b', -(2::bigint ^ 62)::bigint), ('restriction:c', 3)",
      );
      assert.deepEqual(await store.readCounters('restriction:'), {
        'restriction:a': Number.MAX_SAFE_INTEGER,
        'restriction:b': Number.MIN_SAFE_INTEGER,
        'restriction:c': 3,
      });
    } finally {
      await store.close();
    }
  }));
