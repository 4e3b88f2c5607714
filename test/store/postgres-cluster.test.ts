// The cluster primitives on PostgreSQL, with two stores on separate connection pools standing for
// two nodes: queue claims raced from both never hand a job out twice (FOR UPDATE SKIP LOCKED), and
// a mailbox change committed on one node is heard on the other within a second (LISTEN/NOTIFY).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.ts';
import type { MailboxChange } from '../../src/store/store.ts';
import { withTestDatabase } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';
import { sampleDelivery } from './contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

async function twoNodes<T>(work: (a: PostgresStore, b: PostgresStore, url: string) => Promise<T>): Promise<T> {
  return withTestDatabase(async ({ url }) => {
    const a = await openPostgresStore({ url, poolSize: 6, applicationName: 'node-a' });
    const b = await openPostgresStore({ url, poolSize: 6, applicationName: 'node-b' });
    try {
      return await work(a, b, url);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

test('two nodes racing for 400 queue jobs never claim one twice, and together claim them all', () =>
  twoNodes(async (a, b) => {
    const ids = new Set<number>();
    for (let i = 0; i < 400; i++) ids.add((await a.enqueueJob({ kind: 'test', payload: `{"n":${i}}` })).id);
    const claimedBy = new Map<number, string>();
    const duplicates: number[] = [];
    // Four workers per node, each claiming small batches until the queue is empty (bounded).
    const worker = async (store: PostgresStore, name: string) => {
      for (let round = 0; round < 400; round++) {
        const jobs = await store.claimJobs({ claimant: name, limit: 3, leaseMs: 60_000 });
        if (jobs.length === 0) return;
        for (const job of jobs) {
          if (claimedBy.has(job.id)) duplicates.push(job.id);
          claimedBy.set(job.id, name);
        }
      }
    };
    await Promise.all([...[1, 2, 3, 4].map((i) => worker(a, `a${i}`)), ...[1, 2, 3, 4].map((i) => worker(b, `b${i}`))]);
    assert.deepEqual(duplicates, [], 'no job claimed twice');
    assert.deepEqual(new Set(claimedBy.keys()), ids, 'every job claimed');
    const byNode = (prefix: string) => [...claimedBy.values()].filter((name) => name.startsWith(prefix)).length;
    assert.ok(byNode('a') > 0 && byNode('b') > 0, `both nodes got work (a ${byNode('a')}, b ${byNode('b')})`);
    // Each holder finishes its own jobs; nothing is left.
    for (const [id, name] of claimedBy) assert.equal(await (name.startsWith('a') ? a : b).completeJob(id, name), true);
    assert.deepEqual(
      await b.claimJobs({ claimant: 'late', limit: 10, leaseMs: 1000, now: new Date(Date.now() + 3_600_000) }),
      [],
    );
  }));

test('a delivery committed on one node is heard on the other within a second', () =>
  twoNodes(async (a, b) => {
    const bob = await a.createAccount('bob@example.com', PHC);
    const inbox = await b.getMailbox(bob.id, 'INBOX');
    assert.ok(inbox);
    const heard: { change: MailboxChange; at: number }[] = [];
    await b.watchChanges((change) => heard.push({ change, at: Date.now() }));
    for (let i = 0; i < 5; i++) {
      const sentAt = Date.now();
      await a.deliver(sampleDelivery([bob], `across ${i}`));
      await waitFor(() => heard.length > i, 1000);
      assert.ok(heard[i]!.at - sentAt < 1000, `heard after ${heard[i]!.at - sentAt} ms`);
      assert.deepEqual(heard[i]!.change, { kind: 'message-added', accountId: bob.id, mailboxId: inbox.id, uid: i + 1 });
    }
  }));

test('change notifications resume after the listening connection is killed, with a resync first', () =>
  twoNodes(async (a, b, url) => {
    const bob = await a.createAccount('bob@example.com', PHC);
    const heard: MailboxChange[] = [];
    await b.watchChanges((change) => heard.push(change));
    // What an admin's pg_terminate_backend, a failover or a network cut does to the listener.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
        ['node-b (changes)'],
      );
      assert.deepEqual(rows, [{ killed: true }]);
    } finally {
      await admin.end();
    }
    await waitFor(() => heard.some((change) => change.kind === 'resync'), 5000);
    await a.deliver(sampleDelivery([bob], 'after the reconnect'));
    await waitFor(() => heard.some((change) => change.kind === 'message-added'), 2000);
  }));
