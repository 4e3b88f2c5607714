// Store.listJobs with `withContent: false`, as `postern queue list` reads the outbound queue, on both
// engines: each payload comes without its `content`, dropped by the engine, so a queue of large
// messages is listed without their bytes ever reaching this process (4.3 GB for 120 such before).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { outboundJob } from '../../src/store/outbound-job.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { postgresPayloadWithoutContent } from '../../src/store/rows.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { OUTBOUND_JOB, type Store } from '../../src/store/store.ts';
import { createTestDatabase } from '../support/postgres.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** What this process holds in JavaScript strings and buffers, after a full collection. */
function jsMemory(): number {
  gc();
  const { heapUsed, external, arrayBuffers } = process.memoryUsage();
  return heapUsed + external + arrayBuffers;
}

const CONTENT_SIZE = 20 * 1024 * 1024;

const engines: Array<[string, () => Promise<{ store: Store; url?: string; cleanup(): Promise<void> }>]> = [
  [
    'sqlite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-'));
      const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
      return {
        store,
        async cleanup() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    'postgres',
    async () => {
      const database = await createTestDatabase();
      const store = await openPostgresStore({ url: database.url, poolSize: 2 });
      return {
        store,
        url: database.url,
        async cleanup() {
          await store.close();
          await database.drop();
        },
      };
    },
  ],
];

for (const [engine, open] of engines) {
  test(`${engine}: the outbound queue is listed without content, in little memory; with content on request`, async () => {
    const { store, cleanup } = await open();
    try {
      const content = new Uint8Array(CONTENT_SIZE).fill(0x41);
      const envelope = {
        mailFrom: 'Ünï@example.com',
        recipients: ['r@example.net', 'R2@Example.org'],
        receivedAt: new Date('2025-01-02T03:04:05.678Z'),
        body: '8BITMIME' as const,
        smtputf8: true,
      };
      await store.enqueueJob(outboundJob({ id: 'big', content, ...envelope }));
      await store.enqueueJob(outboundJob({ id: 'small', content: new Uint8Array([0x68, 0x69]), ...envelope }));
      // Not JSON objects, or not outbound: as stored.
      await store.enqueueJob({ kind: 'test', payload: 'not json {' });
      await store.enqueueJob({ kind: 'test', payload: '[1,{"content":2}]' });
      await store.enqueueJob({ kind: 'test', payload: '{"content":"x","nested":{"content":"y"}}' });

      const before = jsMemory();
      const listed = await store.listJobs({ kind: OUTBOUND_JOB, withContent: false });
      const grown = jsMemory() - before; // `listed` is still held
      assert.ok(grown < 4 * 1024 * 1024, `listing took ${grown} octets of memory; the content is ${CONTENT_SIZE}`);

      assert.deepEqual(
        listed.map((job) => job.payload.length < 1000),
        [true, true],
        'no payload carries the content',
      );
      const expected = {
        mailFrom: envelope.mailFrom,
        recipients: envelope.recipients,
        receivedAt: '2025-01-02T03:04:05.678Z',
        body: '8BITMIME',
        smtputf8: true,
      };
      assert.deepEqual(JSON.parse(listed[0]!.payload), { id: 'big', size: CONTENT_SIZE, ...expected });
      assert.deepEqual(JSON.parse(listed[1]!.payload), { id: 'small', size: 2, ...expected });
      assert.equal(listed[0]!.kind, OUTBOUND_JOB);
      assert.equal(listed[0]!.attempts, 0);
      assert.equal(listed[0]!.claimedBy, null);

      const others = await store.listJobs({ kind: 'test', withContent: false });
      assert.deepEqual(
        others.map((job) => job.payload),
        ['not json {', '[1,{"content":2}]', others[2]!.payload],
      );
      assert.deepEqual(JSON.parse(others[2]!.payload), { nested: { content: 'y' } }, 'only the top-level member');
      assert.equal((await store.listJobs({ withContent: false })).length, 5, 'every kind');

      // Delivery still reads the content: the default, and `withContent: true`, leave it in.
      for (const jobs of [await store.listJobs({ kind: OUTBOUND_JOB }), await store.listJobs({ withContent: true })]) {
        const payload = JSON.parse(jobs[0]!.payload) as { content: string };
        assert.deepEqual(Buffer.from(payload.content, 'base64'), Buffer.from(content));
      }
    } finally {
      await cleanup();
    }
  });
}

test('postgres: past the jsonb size, the payload is read through json_each, to the same summary', async () => {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query('CREATE TABLE jobs (id int, payload text)');
    const payloads = [
      JSON.parse(
        outboundJob({
          id: 'a',
          mailFrom: '',
          recipients: ['x@example.org'],
          content: new Uint8Array(3000).fill(0xc3),
          receivedAt: new Date(0),
          body: '8BITMIME',
          smtputf8: false,
        }).payload,
      ),
      { content: 'x', nested: { content: 'y' }, n: 1.5, ok: null },
      {},
    ].map((value) => JSON.stringify(value));
    for (const [id, payload] of [...payloads, '"text"', 'not json'].entries()) {
      await client.query('INSERT INTO jobs VALUES ($1, $2)', [id, payload]);
    }
    const read = async (jsonbBelow: number) =>
      (await client.query(`SELECT ${postgresPayloadWithoutContent(jsonbBelow)} AS p FROM jobs ORDER BY id`)).rows.map(
        (row: { p: string }, i) => (i < 3 ? JSON.parse(row.p) : row.p),
      );
    const viaJsonb = await read(2 ** 27);
    const viaJson = await read(0);
    assert.deepEqual(viaJson, viaJsonb);
    assert.deepEqual(viaJson, [
      {
        id: 'a',
        mailFrom: '',
        recipients: ['x@example.org'],
        receivedAt: new Date(0).toISOString(),
        size: 3000,
        body: '8BITMIME',
        smtputf8: false,
      },
      { nested: { content: 'y' }, n: 1.5, ok: null },
      {},
      '"text"',
      'not json',
    ]);
  } finally {
    await client.end();
    await database.drop();
  }
});
