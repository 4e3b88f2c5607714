// SMTP conversations with the real server over TCP on 127.0.0.1: storage, routing, limits, shutdown.
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../src/store/sqlite/index.ts';
import { inboxOf, startTestServer, TEST_PASSWORD_HASH, type TestOverrides, withoutTrace } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

type Context = { after(fn: () => Promise<void>): void };
const clients = new WeakMap<Context, SmtpClient[]>();

/** A server for this test; on cleanup its clients are closed first, so stop() finds them gone. */
async function server(t: Context, overrides?: TestOverrides) {
  const s = await startTestServer(overrides);
  clients.set(t, []);
  t.after(async () => {
    for (const c of clients.get(t) ?? []) await c.close();
    await s.stop();
  });
  return s;
}

async function client(t: Context, port: number, options: { greet?: boolean; allowHalfOpen?: boolean } = {}) {
  const c = await SmtpClient.connect(port, '127.0.0.1', options);
  clients.get(t)?.push(c);
  if (options.greet !== false) assert.equal((await c.read()).code, 220);
  return c;
}

/** Runs the commands in turn and returns "code enhanced" per reply. */
async function converse(c: SmtpClient, lines: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const line of lines) out.push(codeOf(await c.command(line)));
  return out;
}

const BODY = 'From: a@example.net\r\nTo: alice@example.com\r\nSubject: hello\r\n\r\nline one\r\n.leading dot\r\n\r\n';
const STUFFED = BODY.replace(/^\./gm, '..');

test('a full transaction is stored with Return-Path and Received, content exact', async (t) => {
  const s = await server(t);
  const c = await client(t, s.port);
  assert.deepEqual(
    await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>', 'DATA']),
    ['250', '250 2.1.0', '250 2.1.5', '354'],
  );
  c.send(`${STUFFED}.\r\n`);
  const queued = await c.read();
  assert.equal(codeOf(queued), '250 2.0.0');
  assert.deepEqual(await converse(c, ['QUIT']), ['221 2.0.0']);
  await c.closed();

  const [stored, ...rest] = await s.inbox('alice@example.com');
  assert.equal(rest.length, 0);
  const text = stored!.toString('latin1');
  assert.match(text, /^Return-Path: <a@example\.net>\r\nReceived: from client\.example\.net \(\[127\.0\.0\.1\]\)\r\n/);
  assert.match(text, /\r\n\tby mx\.example\.com \(Postern\) with ESMTP id \S+\r\n\tfor <alice@example\.com>;\r\n/);
  const id = /id (\S+)/.exec(text)![1]!;
  assert.ok(queued.lines[0]!.includes(id), 'the 250 names the Received id');
  assert.equal(withoutTrace(stored!).toString('latin1'), BODY, 'dot-unstuffed content, byte for byte');
});

test('three recipients: one stored content, each INBOX has it', async (t) => {
  const s = await server(t);
  await s.store.createAccount('carol@example.com', TEST_PASSWORD_HASH);
  const c = await client(t, s.port);
  const rcpts = ['alice', 'bob', 'carol'].map((u) => `RCPT TO:<${u}@example.com>`);
  assert.deepEqual(await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>', ...rcpts, 'DATA']), [
    '250',
    '250 2.1.0',
    '250 2.1.5',
    '250 2.1.5',
    '250 2.1.5',
    '354',
  ]);
  c.send(`${STUFFED}.\r\n`);
  assert.equal(codeOf(await c.read()), '250 2.0.0');
  const inboxes = await Promise.all(['alice', 'bob', 'carol'].map((u) => s.inbox(`${u}@example.com`)));
  for (const inbox of inboxes) assert.equal(inbox.length, 1);
  assert.deepEqual(inboxes[1], inboxes[0]);
  assert.deepEqual(inboxes[2], inboxes[0]);
  assert.doesNotMatch(inboxes[0]![0]!.toString(), /\tfor </, 'no "for" with several recipients (Bcc privacy)');
  const db = new DatabaseSync(path.join(s.dataDir, DATABASE_FILE_NAME), { readOnly: true });
  try {
    assert.deepEqual({ ...db.prepare('SELECT count(*) AS n FROM messages').get() }, { n: 1 }, 'one stored content');
  } finally {
    db.close();
  }
});

test('recipients: unknown local user 550 5.1.1, other domain 554 5.7.1, postmaster routed', async (t) => {
  const s = await server(t);
  await s.store.createAccount('postmaster@example.com', TEST_PASSWORD_HASH);
  const c = await client(t, s.port);
  assert.deepEqual(
    await converse(c, [
      'EHLO client.example.net',
      'MAIL FROM:<a@example.net>',
      'RCPT TO:<nobody@example.com>',
      'RCPT TO:<alice@example.org>',
      'RCPT TO:<ALICE@Example.COM>',
      'RCPT TO:<Postmaster>',
    ]),
    ['250', '250 2.1.0', '550 5.1.1', '554 5.7.1', '250 2.1.5', '250 2.1.5'],
  );
});

test('mail to <Postmaster> alone: Received says for <postmaster@our hostname> (RFC 5321 §4.4 wants a mailbox)', async (t) => {
  const s = await server(t);
  await s.store.createAccount('postmaster@example.com', TEST_PASSWORD_HASH);
  const c = await client(t, s.port);
  assert.deepEqual(
    await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>', 'RCPT TO:<Postmaster>', 'DATA']),
    ['250', '250 2.1.0', '250 2.1.5', '354'],
  );
  c.send(`${STUFFED}.\r\n`);
  assert.equal(codeOf(await c.read()), '250 2.0.0');
  const [stored] = await s.inbox('postmaster@example.com');
  assert.match(stored!.toString('latin1'), /\r\n\tfor <postmaster@mx\.example\.com>;\r\n/);
});

test('a UTF-8 EHLO name goes into Received as its A-label unless the message is SMTPUTF8 (RFC 6532 §3.7)', async (t) => {
  const s = await server(t);
  const c = await client(t, s.port);
  for (const [mail, want] of [
    ['MAIL FROM:<a@example.net>', /^Received: from xn--mnchen-3ya\.example \(/m],
    ['MAIL FROM:<a@example.net> SMTPUTF8', /^Received: from münchen\.example \(/m],
  ] as const) {
    assert.deepEqual(await converse(c, ['EHLO münchen.example', mail, 'RCPT TO:<alice@example.com>', 'DATA']), [
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '354',
    ]);
    c.send(`${STUFFED}.\r\n`);
    assert.equal(codeOf(await c.read()), '250 2.0.0');
    const stored = (await s.inbox('alice@example.com')).at(-1);
    assert.match(stored!.toString('utf8'), want);
  }
  const [plain] = await s.inbox('alice@example.com');
  const head = plain!.subarray(0, plain!.indexOf('\r\n\r\n')).toString('latin1');
  assert.ok(/^[\x00-\x7f]*$/.test(head), head);
});

test('pipelining: every command in one write, replies in order', async (t) => {
  // The engine's ordering under a whole session in one write; RFC 2920 forbids such a client, so
  // the default reject_unauth_pipelining is off here (its own test is in test/server/restrictions.test.ts).
  const s = await server(t, { restrictions: { data: [] } });
  const c = await client(t, s.port);
  c.send(
    'EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n' +
      `RCPT TO:<nobody@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n${STUFFED}.\r\nQUIT\r\n`,
  );
  const codes = (await c.readUntilClosed()).map(codeOf);
  assert.deepEqual(codes, ['250', '250 2.1.0', '250 2.1.5', '550 5.1.1', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0']);
  assert.equal((await s.inbox('bob@example.com')).length, 1);
});

test('BDAT over TCP (RFC 3030)', async (t) => {
  const s = await server(t, { restrictions: { data: [] } }); // one write: see the pipelining test above
  const c = await client(t, s.port);
  const [head, tail] = [BODY.slice(0, 40), BODY.slice(40)];
  c.send(
    `EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n` +
      `BDAT ${head.length}\r\n${head}BDAT ${tail.length} LAST\r\n${tail}`,
  );
  assert.deepEqual((await c.readN(5)).map(codeOf), ['250', '250 2.1.0', '250 2.1.5', '250 2.0.0', '250 2.0.0']);
  const [stored] = await s.inbox('alice@example.com');
  assert.equal(withoutTrace(stored!).toString('latin1'), BODY);
});

test('maxConnections 2: a third connection gets 421 4.3.2 and is closed', async (t) => {
  const s = await server(t, { smtp: { maxConnections: 2 } });
  await client(t, s.port);
  await client(t, s.port);
  const third = await client(t, s.port, { greet: false });
  assert.deepEqual((await third.readUntilClosed()).map(codeOf), ['421 4.3.2']);
});

test('idle timeout: 421 4.4.2 and close', async (t) => {
  const s = await server(t, { smtp: { idleTimeoutMs: 200 } });
  const c = await client(t, s.port);
  assert.deepEqual(await converse(c, ['EHLO client.example.net']), ['250']);
  const started = Date.now();
  assert.deepEqual((await c.readUntilClosed(3000)).map(codeOf), ['421 4.4.2']);
  assert.ok(Date.now() - started >= 150, 'not before the timeout');
});

test('idle timeout frees the connection slot even when the client never closes its side', async (t) => {
  const s = await server(t, { smtp: { idleTimeoutMs: 200, maxConnections: 1 } });
  const stubborn = await client(t, s.port, { allowHalfOpen: true });
  assert.equal(codeOf(await stubborn.read(3000)), '421 4.4.2');
  await sleep(1500); // the timeout, then the 1 s linger after the final reply
  const next = await client(t, s.port, { greet: false });
  assert.equal((await next.read()).code, 220, 'the slot was freed');
});

test('a client that half-closes (FIN) after its last command is answered; the message is stored once', async (t) => {
  const s = await server(t);
  // RFC 5321 §3.8: what the client sent is answered before the server closes. A 250 never heard would
  // have the client send the message again; a message dropped for it would be lost until then.
  for (const [last, expected] of [
    ['.\r\nQUIT\r\n', ['250 2.0.0', '221 2.0.0']],
    ['.\r\n', ['250 2.0.0']],
  ] as const) {
    const c = await client(t, s.port, { allowHalfOpen: true });
    assert.deepEqual(await converse(c, ['EHLO client.example.net']), ['250']);
    c.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
    assert.deepEqual((await c.readN(3)).map(codeOf), ['250 2.1.0', '250 2.1.5', '354']);
    c.socket.end(`From: a@example.net\r\nSubject: half-close\r\n\r\nhello\r\n${last}`, 'latin1'); // FIN; the client still reads
    assert.deepEqual((await c.readUntilClosed(3000)).map(codeOf), expected, JSON.stringify(last));
  }
  assert.equal((await s.inbox('alice@example.com')).length, 2, 'each message stored, once');
  // Nothing pending: a half-open connection is closed at once, not held until the idle timeout.
  const idle = await client(t, s.port, { allowHalfOpen: true });
  assert.deepEqual(await converse(idle, ['EHLO client.example.net']), ['250']);
  const ended = Date.now();
  idle.socket.end();
  assert.deepEqual(await idle.readUntilClosed(3000), []);
  assert.ok(Date.now() - ended < 1000, 'closed at once');
});

test('maxMessageSize: SIZE over it 552, content over it 552, and the session goes on', async (t) => {
  const s = await server(t, { smtp: { maxMessageSize: 2048 } });
  const c = await client(t, s.port);
  assert.deepEqual(await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net> SIZE=4096']), [
    '250',
    '552 5.3.4',
  ]);
  assert.deepEqual(await converse(c, ['MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>', 'DATA']), [
    '250 2.1.0',
    '250 2.1.5',
    '354',
  ]);
  c.send(`${'x'.repeat(78)}\r\n`.repeat(40) + '.\r\n');
  assert.equal(codeOf(await c.read()), '552 5.3.4');
  assert.deepEqual(await converse(c, ['NOOP']), ['250 2.0.0']);
  assert.deepEqual(await s.inbox('alice@example.com'), []);
});

test('graceful shutdown: an idle client gets 421; a DATA in flight still gets its 250', async (t) => {
  const s = await server(t);
  const idle = await client(t, s.port);
  const busy = await client(t, s.port);
  assert.deepEqual(
    await converse(busy, [
      'EHLO client.example.net',
      'MAIL FROM:<a@example.net>',
      'RCPT TO:<alice@example.com>',
      'DATA',
    ]),
    ['250', '250 2.1.0', '250 2.1.5', '354'],
  );
  busy.send(STUFFED.slice(0, 30));
  const stopping = s.stopServer();
  assert.deepEqual((await idle.readUntilClosed()).map(codeOf), ['421 4.3.2']);
  await sleep(50);
  assert.equal(busy.isClosed, false, 'the busy session is left to finish');
  busy.send(`${STUFFED.slice(30)}.\r\n`);
  assert.deepEqual((await busy.readUntilClosed()).map(codeOf), ['250 2.0.0', '421 4.3.2']);
  await stopping;
  await assert.rejects(SmtpClient.connect(s.port), 'no longer listening');
  const store = await openSqliteStore({ dataDir: s.dataDir });
  try {
    const [stored] = await inboxOf(store, 'alice@example.com');
    assert.equal(withoutTrace(stored!).toString('latin1'), BODY);
  } finally {
    await store.close();
  }
});

test('graceful shutdown: a message the store is writing when grace ends gets its 250 before the cut', async (t) => {
  const s = await server(t, { smtp: { shutdownGraceMs: 100 } });
  const c = await client(t, s.port);
  assert.deepEqual(
    await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>', 'DATA']),
    ['250', '250 2.1.0', '250 2.1.5', '354'],
  );
  // Another process holds the write lock: the server's commit waits for it (busy_timeout), past the grace.
  const other = new DatabaseSync(path.join(s.dataDir, DATABASE_FILE_NAME), { timeout: 5000 });
  other.exec('BEGIN IMMEDIATE');
  c.send(`${STUFFED}.\r\n`);
  await sleep(500); // the message reaches the store, which waits for the lock
  const stopping = s.stopServer();
  await sleep(400); // the grace is over; the store still waits for the lock
  assert.equal(c.isClosed, false, 'not cut while its message is being stored');
  other.exec('ROLLBACK');
  other.close();
  assert.deepEqual((await c.readUntilClosed(3000)).map(codeOf), ['250 2.0.0', '421 4.3.2']);
  await stopping;
  const store = await openSqliteStore({ dataDir: s.dataDir });
  try {
    assert.equal((await inboxOf(store, 'alice@example.com')).length, 1, 'stored once, and the client knows');
  } finally {
    await store.close();
  }
});

test('graceful shutdown: a transaction that stalls before DATA gets 421 when the grace ends', async (t) => {
  const s = await server(t, { smtp: { shutdownGraceMs: 300 } });
  const stalled = await client(t, s.port);
  assert.deepEqual(await converse(stalled, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>']), [
    '250',
    '250 2.1.0',
  ]);
  const started = Date.now();
  const stopping = s.stopServer();
  assert.deepEqual((await stalled.readUntilClosed(3000)).map(codeOf), ['421 4.3.2']);
  assert.ok(Date.now() - started >= 250, 'the transaction had its grace period');
  await stopping;
});

test('graceful shutdown: the wall clock stepped back an hour meanwhile neither stretches nor cuts the grace', async (t) => {
  const s = await server(t, { smtp: { shutdownGraceMs: 300 } });
  const stalled = await client(t, s.port);
  assert.deepEqual(await converse(stalled, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>']), [
    '250',
    '250 2.1.0',
  ]);
  const wallClock = Date.now;
  t.after(() => {
    Date.now = wallClock;
  });
  const started = performance.now();
  const stopping = s.stopServer();
  Date.now = () => wallClock() - 3_600_000; // NTP steps the clock back during the grace
  assert.deepEqual((await stalled.readUntilClosed(3000)).map(codeOf), ['421 4.3.2']);
  Date.now = wallClock;
  await stopping;
  const took = performance.now() - started;
  assert.ok(took >= 250 && took < 2500, `the grace as configured, on the monotonic clock (${Math.round(took)} ms)`);
});

test('an account removed between RCPT and the end of data: 550 5.1.1, not a retry that cannot succeed', async (t) => {
  const s = await server(t);
  const c = await client(t, s.port);
  assert.deepEqual(
    await converse(c, ['EHLO client.example.net', 'MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>', 'DATA']),
    ['250', '250 2.1.0', '250 2.1.5', '354'],
  );
  assert.equal(await s.store.removeAccount('alice@example.com'), true);
  c.send(`${STUFFED}.\r\n`);
  assert.equal(codeOf(await c.read()), '550 5.1.1');
  assert.deepEqual(await converse(c, ['NOOP']), ['250 2.0.0'], 'the session goes on');
});
