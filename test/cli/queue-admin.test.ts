// `postern queue show` and `postern queue delete`: nothing delivers the outbound queue yet, so the admin
// reads a queued message's envelope, takes the message as stored to another MTA (--raw), and removes
// jobs; one a node holds a live lease on only with --force. `help queue` says plainly that nothing
// sends these messages.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { outboundJob } from '../../src/store/outbound-job.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { addUser, configDir, postern } from '../support/child-server.ts';

/** 8-bit octets, a NUL, a bare CR and an escape sequence: --raw must hand on the bytes as queued. */
const CONTENT = Buffer.concat([
  Buffer.from('Received: from c.example.net by mx.example.com\r\nSubject: caf\u00e9\r\n\r\n', 'utf8'),
  Buffer.from([0x00, 0xff, 0x0d, 0x1b, 0x5d, 0x35, 0x32, 0x3b, 0x0d, 0x0a]),
]);

async function withDir(t: { after(fn: () => void): void }) {
  const d = configDir();
  t.after(() => d.cleanup());
  await addUser(d.file, 'alice@example.com'); // makes the store
  return d;
}

async function withData<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ dataDir: path.join(root, 'data') });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function job(id: string, recipients = ['r@example.net', 'R2@Example.org']) {
  return outboundJob({
    id,
    mailFrom: 'alice@example.com',
    recipients,
    content: CONTENT,
    receivedAt: new Date('2025-01-02T03:04:05.678Z'),
    body: '8BITMIME',
    smtputf8: true,
  });
}

test('queue show: the envelope and what to do with it; --raw: the message byte for byte', async (t) => {
  const d = await withDir(t);
  const queued = await withData(d.root, (store) => store.enqueueJob(job('env-1')));
  const shown = await postern(['queue', 'show', String(queued.id), '--config', d.file]);
  assert.equal(shown.code, 0, shown.stderr);
  const fields = Object.fromEntries(
    shown.stdout
      .split('\n\n')[0]!
      .split('\n')
      .map((line) => [line.slice(0, 10).trim(), line.slice(10)]),
  );
  assert.deepEqual(fields, {
    job: String(queued.id),
    id: 'env-1',
    from: '<alice@example.com>',
    to: 'r@example.net, R2@Example.org',
    size: `${CONTENT.byteLength} octets`,
    body: '8BITMIME, SMTPUTF8',
    received: '2025-01-02T03:04:05.678Z',
    due: queued.dueAt.toISOString(),
    attempts: '0',
  });
  assert.match(shown.stdout, /Outbound delivery is not implemented yet: nothing will send this message, and no bounce/);
  assert.match(shown.stdout, new RegExp(`postern queue show ${queued.id} --raw > job-${queued.id}\\.eml`));
  assert.match(shown.stdout, new RegExp(`To remove it: postern queue delete ${queued.id}\\n$`));

  const raw = await rawOutput(['queue', 'show', String(queued.id), '--raw', '--config', d.file]);
  assert.equal(raw.code, 0);
  assert.deepEqual(raw.stdout, CONTENT);
});

test('queue show: an unknown job, or another kind of job, is an error naming it (exit 1); a bad number exit 2', async (t) => {
  const d = await withDir(t);
  const other = await withData(d.root, (store) => store.enqueueJob({ kind: 'test', payload: '{"content":"eA=="}' }));
  for (const id of [String(other.id), '999999']) {
    for (const extra of [[], ['--raw']]) {
      const r = await postern(['queue', 'show', id, ...extra, '--config', d.file]);
      assert.equal(r.code, 1, `${id} ${extra}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `postern: job ${id}: no such job in the outbound queue (postern queue list shows them)\n`);
    }
  }
  for (const bad of ['0', '-1', '1.5', 'x', '9007199254740993']) {
    const r = await postern(['queue', 'show', bad, '--config', d.file]);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, bad === '-1' ? /unknown option -1/ : /is not a job number/);
  }
  const two = await postern(['queue', 'show', '1', '2', '--config', d.file]);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /usage: postern queue show <job> \[--raw\]/);
  const flag = await postern(['queue', 'delete', '1', '--raw', '--config', d.file]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /queue delete: --raw does not apply here/);
});

test('queue delete: removes the jobs named, says which were not there, and leaves the others', async (t) => {
  const d = await withDir(t);
  const [a, b, c] = await withData(d.root, async (store) => [
    await store.enqueueJob(job('a')),
    await store.enqueueJob(job('b')),
    await store.enqueueJob(job('c')),
  ]);
  const deleted = await postern(['queue', 'delete', String(a!.id), String(c!.id), '--config', d.file]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout, `deleted job ${a!.id}\ndeleted job ${c!.id}\n`);
  const left = await withData(d.root, (store) => store.listJobs({ kind: 'outbound' }));
  assert.deepEqual(
    left.map((j) => j.id),
    [b!.id],
  );
  const again = await postern(['queue', 'delete', String(a!.id), String(b!.id), '--config', d.file]);
  assert.equal(again.code, 1, 'one was not there');
  assert.equal(again.stdout, `deleted job ${b!.id}\n`, 'the others still go');
  assert.match(again.stderr, new RegExp(`^postern: job ${a!.id}: no such job in the outbound queue`));
  const empty = await postern(['queue', 'list', '--config', d.file]);
  assert.equal(empty.stdout, 'the outbound queue is empty\n');
  const none = await postern(['queue', 'delete', '--config', d.file]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: postern queue delete <job>\.\.\. \[--force\]/);
});

test('queue delete: a job a node holds a live lease on is left, unless --force', async (t) => {
  const d = await withDir(t);
  const held = await withData(d.root, async (store) => {
    const queued = await store.enqueueJob(job('held'));
    await store.claimJobs({ claimant: 'mx2.example.com:4242', limit: 1, leaseMs: 3_600_000 });
    return (await store.getJob(queued.id))!;
  });
  const shown = await postern(['queue', 'show', String(held.id), '--config', d.file]);
  assert.match(
    shown.stdout,
    new RegExp(`\\nheld by +mx2\\.example\\.com:4242 until ${held.claimedUntil!.toISOString()}\\n`),
  );
  const refused = await postern(['queue', 'delete', String(held.id), '--config', d.file]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.match(
    refused.stderr,
    new RegExp(
      `^postern: job ${held.id}: mx2\\.example\\.com:4242 holds it until ${held.claimedUntil!.toISOString()} and may be delivering it now; nothing done \\(--force deletes it anyway`,
    ),
  );
  assert.ok(await withData(d.root, (store) => store.getJob(held.id)), 'still queued');
  const forced = await postern(['queue', 'delete', String(held.id), '--force', '--config', d.file]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, `deleted job ${held.id}\n`);
  assert.equal(await withData(d.root, (store) => store.getJob(held.id)), undefined);
});

test('help queue says that nothing delivers the queue yet, and how to get a message out', async () => {
  const help = await postern(['help', 'queue']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Nothing delivers\s+it yet \(outbound delivery is not implemented\) and no bounce is sent/);
  assert.match(
    help.stdout,
    /^ {2}queue show <job> \[--raw\] +a queued message's envelope \(--raw: the message as stored/m,
  );
  assert.match(help.stdout, /^ {2}queue delete <job>\.\.\. \[--force\] +remove queued messages/m);
});

/** bin/postern with stdout as bytes, not decoded: --raw's octets must come through unchanged. */
async function rawOutput(args: string[]): Promise<{ code: number | null; stdout: Buffer }> {
  const { execFile } = await import('node:child_process');
  const { POSTERN, ROOT } = await import('../support/child-server.ts');
  return new Promise((resolve) => {
    execFile(POSTERN, args, { cwd: ROOT, encoding: 'buffer', timeout: 20_000 }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout });
    });
  });
}
