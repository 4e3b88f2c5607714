// Acknowledge only what is durable (ARCHITECTURE.md principle 4): SIGKILL the server under load, then
// every message that got its 250 must be in the store, exactly once, and the store must open cleanly.
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import { addUser, configDir, spawnServer } from '../support/child-server.ts';
import { startTestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { type Load, loadUnderway, sender } from '../support/smtp-load.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

const SESSIONS = 10;
const LOAD_MS = 300;
const MAX_PER_SESSION = 2000; // bounds each loop; the kill comes long before

test('SIGKILL under load: every acknowledged message survives, none twice', async (t) => {
  const dir = configDir(); // log level info: the startup line carries the port
  t.after(() => dir.cleanup());
  await addUser(dir.file, 'alice@example.com');
  const first = await spawnServer(dir.file);
  t.after(() => first.stop('SIGKILL'));

  const load: Load = { acked: new Set(), attempted: 0 };
  let counter = 0;
  const options = { max: MAX_PER_SESSION, recipients: () => ['alice@example.com'], mayBreak: true };
  const senders = Array.from({ length: SESSIONS }, () => sender(first.port, () => ++counter, load, options));
  await loadUnderway(load, 10, LOAD_MS);
  assert.equal(await first.stop('SIGKILL'), null, 'killed by the signal');
  await Promise.all(senders);
  t.diagnostic(`${load.acked.size} acknowledged of ${load.attempted} attempted before SIGKILL`);
  assert.ok(load.acked.size >= 10, `enough load to mean something (${load.acked.size} acknowledged)`);

  // The store opens cleanly after the crash: SQLite recovers the WAL.
  const dataDir = path.join(dir.root, 'data');
  const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE_NAME));
  try {
    assert.deepEqual({ ...db.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
  } finally {
    db.close();
  }
  const store = await openSqliteStore({ dataDir });
  let subjects: string[];
  try {
    const alice = await store.findAccount('alice@example.com');
    const inbox = await store.getMailbox(alice!.id, 'INBOX');
    subjects = (await store.listMessages(inbox!.id)).map((m) => m.summary.subject);
  } finally {
    await store.close();
  }
  const seen = new Map<string, number>();
  for (const s of subjects) seen.set(s, (seen.get(s) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([s]) => s);
  assert.deepEqual(twice, [], 'no message stored twice');
  const missing = [...load.acked].filter((n) => !seen.has(`msg-${n}`));
  assert.deepEqual(missing, [], 'every acknowledged message is stored');
  assert.ok(subjects.length <= load.attempted, 'nothing stored that was never sent');

  // And the server starts again on the same data and takes mail.
  const second = await spawnServer(dir.file);
  t.after(() => second.stop('SIGKILL'));
  const { client } = await SmtpClient.open(second.port);
  t.after(() => client.close());
  assert.equal((await client.command('EHLO again.example.net')).code, 250); // EHLO ends a group (RFC 2920 §3.1)
  client.send('MAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  assert.deepEqual(
    (await client.readN(3)).map((r) => r.code),
    [250, 250, 354],
  );
  client.send('Subject: after restart\r\n\r\nok\r\n.\r\n');
  assert.equal((await client.read()).code, 250);
  assert.equal(await second.stop('SIGTERM'), 0, 'a clean shutdown on SIGTERM');
});

test('a store that cannot write: the message gets 451 4.3.0, never 250, and the client keeps it to retry', async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const message = (subject: string) => `From: bob@example.net\r\nSubject: ${subject}\r\n\r\nhello\r\n`;
  assert.equal((await sendToAlice(server, 'bob@example.net', message('before'))).code, 250);
  const store = server.store as unknown as { simulateWriterCrash(): Promise<void> };
  await store.simulateWriterCrash();
  const refused = await sendToAlice(server, 'bob@example.net', message('during'));
  assert.equal(codeOf(refused), '451 4.3.0');
  assert.match(refused.text, /Message store unavailable, try again later/);
  assert.deepEqual(
    (await aliceMailbox(server, 'INBOX')).map((m) => /^Subject: (.*)\r$/m.exec(m)?.[1]),
    ['before'],
    'nothing stored for the refused one',
  );
});

test('a store failure is logged with its reason, not a stack trace per message', async (t) => {
  const server = await startTestServer({ log: { level: 'info' } });
  t.after(() => server.stop());
  const store = server.store as unknown as { simulateWriterCrash(): Promise<void> };
  await store.simulateWriterCrash();
  const refused = await sendToAlice(server, 'bob@example.net', 'From: bob@example.net\r\nSubject: x\r\n\r\nhello\r\n');
  assert.equal(codeOf(refused), '451 4.3.0');
  const line = server.logs().find((l) => l.msg === 'store failed; answered 451');
  assert.ok(line, 'the refusal is logged');
  assert.match(String(line.reason), /store writer thread was terminated/);
  assert.equal(line.err, undefined, 'no stack: a full disk would write one per message');
  // As every refusal line: the reply's codes, so that a search by code finds it.
  assert.equal(line.code, 451);
  assert.equal(line.enhanced, '4.3.0');
});
