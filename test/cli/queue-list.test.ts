// `postern queue list --json` reads job summaries without content (Store.listJobs `withContent: false`);
// its rows keep their shape: the same fields, BODY and SMTPUTF8 (RFC 6152 §3, RFC 6531 §3.4) shown
// only for jobs queued since they were kept.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { outboundJob } from '../../src/store/outbound-job.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { addUser, configDir, postern } from '../support/child-server.ts';

test('queue list --json: the same rows, read without the content', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  await addUser(d.file, 'alice@example.com');
  const store = await openSqliteStore({ dataDir: path.join(d.root, 'data') });
  try {
    await store.enqueueJob(
      outboundJob({
        id: 'env-1',
        mailFrom: '',
        recipients: ['r@example.net', 'R2@Example.org'],
        content: new Uint8Array(4 * 1024 * 1024).fill(0xe9),
        receivedAt: new Date('2025-01-02T03:04:05.678Z'),
        body: '8BITMIME',
        smtputf8: true,
      }),
    );
    // Queued before BODY and SMTPUTF8 were kept, and before there was content in the job.
    await store.enqueueJob({
      kind: 'outbound',
      payload: JSON.stringify({
        id: 'old',
        mailFrom: 'a@example.com',
        recipients: ['b@example.org'],
        size: 7,
        receivedAt: '2025-01-01T00:00:00.000Z',
      }),
      dueAt: new Date('2030-01-01T00:00:00.000Z'),
    });
  } finally {
    await store.close();
  }
  const listed = await postern(['queue', 'list', '--json', '--config', d.file]);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
  assert.equal(rows.length, 2);
  assert.deepEqual(Object.keys(rows[0]!), [
    'job',
    'id',
    'from',
    'to',
    'size',
    'body',
    'smtputf8',
    'received',
    'due',
    'attempts',
  ]);
  assert.deepEqual(
    { ...rows[0], job: 0, due: '' },
    {
      job: 0,
      id: 'env-1',
      from: '',
      to: ['r@example.net', 'R2@Example.org'],
      size: 4 * 1024 * 1024,
      body: '8BITMIME',
      smtputf8: true,
      received: '2025-01-02T03:04:05.678Z',
      due: '',
      attempts: 0,
    },
  );
  assert.deepEqual(
    { ...rows[1], job: 0 },
    {
      job: 0,
      id: 'old',
      from: 'a@example.com',
      to: ['b@example.org'],
      size: 7,
      received: '2025-01-01T00:00:00.000Z',
      due: '2030-01-01T00:00:00.000Z',
      attempts: 0,
    },
  );
  assert.ok(listed.stdout.length < 2000, 'no content in the output');
  const text = await postern(['queue', 'list', '--config', d.file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^\d+\t2025-01-02T03:04:05\.678Z\t<>\tr@example\.net, R2@Example\.org\t4194304 octets\tattempts 0\n/,
  );
});
