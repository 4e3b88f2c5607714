/**
 * The admin's part of the queue in the Store contract, run by runStoreContract (contract.ts) inside
 * each engine's suite: one job read whole (what `postern queue show --raw` hands to another MTA), the
 * jobs counted (what `serve` says at start), and a job removed (`postern queue delete`), never one a
 * node holds a live lease on unless forced: its holder may be delivering it at that moment.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outboundJob } from '../../src/store/outbound-job.ts';
import { OUTBOUND_JOB } from '../../src/store/store.ts';
import type { WithStore } from './policy-contract.ts';

/** 8-bit octets, a NUL and a bare CR: the content comes back as the bytes queued. */
const CONTENT = Uint8Array.from([...Buffer.from('Subject: x\r\n\r\n'), 0x00, 0xff, 0x0d, 0x41, 0x0d, 0x0a]);

export function runQueueAdminStoreContract(withStore: WithStore): void {
  test(
    'queue: getJob reads one job whole, content included; an unknown id is undefined',
    withStore(async (store) => {
      const queued = await store.enqueueJob(
        outboundJob({
          id: 'env-1',
          mailFrom: 'a@example.com',
          recipients: ['r@example.net'],
          content: CONTENT,
          receivedAt: new Date('2025-01-02T03:04:05.678Z'),
          body: '8BITMIME',
          smtputf8: false,
        }),
      );
      const job = await store.getJob(queued.id);
      assert.deepEqual(job, queued);
      const payload = JSON.parse(job?.payload ?? '{}') as { content: string };
      assert.deepEqual(new Uint8Array(Buffer.from(payload.content, 'base64')), CONTENT);
      assert.equal(await store.getJob(queued.id + 1), undefined);
      assert.equal(await store.getJob(0), undefined);
    }),
  );

  test(
    'queue: countJobs counts the jobs of a kind, or all',
    withStore(async (store) => {
      assert.equal(await store.countJobs(OUTBOUND_JOB), 0);
      assert.equal(await store.countJobs(), 0);
      for (let i = 0; i < 3; i++) await store.enqueueJob({ kind: OUTBOUND_JOB, payload: `{"n":${i}}` });
      await store.enqueueJob({ kind: 'test', payload: '{}' });
      assert.equal(await store.countJobs(OUTBOUND_JOB), 3);
      assert.equal(await store.countJobs('test'), 1);
      assert.equal(await store.countJobs(), 4);
      assert.equal(await store.countJobs('none\u0000'), 0, 'a kind the store cannot keep names none');
    }),
  );

  test(
    'queue: deleteJob removes a job no node holds; the second time it is missing',
    withStore(async (store) => {
      const job = await store.enqueueJob({ kind: OUTBOUND_JOB, payload: '{}' });
      const other = await store.enqueueJob({ kind: OUTBOUND_JOB, payload: '{}' });
      const work = await store.enqueueJob({ kind: 'test', payload: '{}' });
      assert.deepEqual(await store.deleteJob(work.id, { kind: OUTBOUND_JOB }), { outcome: 'missing' }, 'another kind');
      assert.ok(await store.getJob(work.id), 'left alone');
      assert.deepEqual(await store.deleteJob(job.id, { kind: OUTBOUND_JOB }), { outcome: 'deleted' });
      assert.deepEqual(await store.deleteJob(job.id), { outcome: 'missing' });
      assert.equal(await store.getJob(job.id), undefined);
      assert.ok(await store.getJob(other.id), 'only that job');
      // Gone means gone: no node claims it afterwards.
      const claimed = await store.claimJobs({ claimant: 'node-a', limit: 10, leaseMs: 60_000 });
      assert.deepEqual(
        claimed.map((j) => j.id),
        [other.id, work.id],
      );
    }),
  );

  test(
    'queue: deleteJob leaves a job under a live lease unless forced; an expired lease is no hold',
    withStore(async (store) => {
      const job = await store.enqueueJob({ kind: OUTBOUND_JOB, payload: '{}' });
      const [claimed] = await store.claimJobs({ claimant: 'node-a:42', limit: 1, leaseMs: 60_000 });
      assert.equal(claimed?.id, job.id);
      const refused = await store.deleteJob(job.id);
      assert.deepEqual(refused, { outcome: 'leased', claimedBy: 'node-a:42', claimedUntil: claimed?.claimedUntil });
      assert.ok(await store.getJob(job.id), 'still queued');
      assert.equal(await store.completeJob(job.id, 'node-a:42'), true, 'its holder still finishes it');

      const second = await store.enqueueJob({ kind: OUTBOUND_JOB, payload: '{}' });
      await store.claimJobs({ claimant: 'node-a:42', limit: 1, leaseMs: 60_000 });
      assert.deepEqual(await store.deleteJob(second.id, { force: true }), { outcome: 'deleted' });
      assert.equal(await store.getJob(second.id), undefined);
      assert.equal(await store.completeJob(second.id, 'node-a:42'), false, 'the holder finds it gone');

      // A lease past its end: the node died, its claim is for the next claimant to take, or an admin.
      const third = await store.enqueueJob({ kind: OUTBOUND_JOB, payload: '{}' });
      await store.claimJobs({ claimant: 'node-b', limit: 1, leaseMs: 1000 });
      assert.equal((await store.deleteJob(third.id)).outcome, 'leased');
      assert.deepEqual(await store.deleteJob(third.id, { now: new Date(Date.now() + 5000) }), {
        outcome: 'deleted',
      });
    }),
  );
}
