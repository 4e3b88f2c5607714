// The Internet's most common sending MTA against ours: a private Postfix instance (Debian `postfix`,
// test/support/postfix.ts) relays what its sendmail(1) is given to Postern's SMTP port, over STARTTLS,
// and both sides are read: Postern's store for what arrived, Postfix's log for how it went.
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { postfixUnavailable, type RunningPostfix, startPostfix } from '../support/postfix.ts';
import { startTestServer, TEST_PASSWORD_HASH, type TestServer, withoutTrace } from '../support/server.ts';

// Skipped, with the reason in the report, where Postfix is not installed (.ci/run installs it) or not root.
const unavailable = postfixUnavailable();

let sequence = 0;
/** A message as sendmail(1) takes it (LF line ends), with a Message-ID to find it in Postfix's log. */
function message(subject: string, body: string, headers: string[] = []): { id: string; text: string } {
  const id = `${Date.now()}.${++sequence}@postfix-interop.example.net`;
  const text = [
    'From: Sender <sender@example.net>',
    'To: alice@example.com',
    `Subject: ${subject}`,
    'Date: Mon, 30 Nov 2026 03:00:00 +0000',
    `Message-ID: <${id}>`,
    ...headers,
    '',
    body,
  ].join('\n');
  return { id, text };
}

/** The stored body (after the header's blank line), CRLF as on the wire. */
function bodyOf(stored: Buffer): Buffer {
  const at = stored.indexOf('\r\n\r\n');
  assert.ok(at >= 0, 'the stored message has a header and a body');
  return stored.subarray(at + 4);
}

const crlf = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');

describe('Postfix as the sending MTA', { skip: unavailable ?? false, timeout: 120_000 }, () => {
  let server: TestServer;
  let postfix: RunningPostfix;
  before(async () => {
    server = await startTestServer();
    await server.store.createAccount('carol@example.com', TEST_PASSWORD_HASH);
    postfix = await startPostfix({
      relayPort: server.port,
      // The SMTP client's side of the dialogue in the log (commands and replies, not content): the
      // MAIL FROM parameters it chose are what the tests check.
      extraMain: ['debug_peer_list = 127.0.0.1', 'debug_peer_level = 1'],
    });
  });
  after(async () => {
    await postfix?.stop();
    await server?.stop();
  });

  /** Sends and waits for Postfix to be done with it; returns the queue id and its log lines. */
  async function relay(from: string, recipients: string[], m: { id: string; text: string }, options?: string[]) {
    await postfix.send(from, recipients, m.text, options);
    return postfix.delivered(m.id);
  }

  /** The MAIL FROM the SMTP client sent for a queue id, from the debug log of the same smtp process. */
  function mailFrom(queueId: string): string {
    const lines = postfix.log().split('\n');
    const at = lines.findIndex((line) => line.includes(` ${queueId}: to=`));
    const pid = /\/smtp\[(\d+)\]: /.exec(lines[at] ?? '')?.[1];
    assert.ok(pid, `an smtp delivery line for ${queueId}`);
    const command = lines
      .slice(0, at)
      .reverse()
      .find((line) => line.includes(`/smtp[${pid}]: > 127.0.0.1[127.0.0.1]:${server.port}: MAIL FROM:`));
    assert.ok(command, `the MAIL FROM before ${queueId}'s delivery is logged`);
    return command.slice(command.indexOf('MAIL FROM:'));
  }

  test('a plain message arrives once, over STARTTLS, with both hops in Received', async () => {
    const before = (await server.inbox('alice@example.com')).length;
    const m = message('plain from Postfix', 'Hello from Postfix.\n');
    const { queueId, lines } = await relay('sender@example.net', ['alice@example.com'], m);
    assert.match(
      lines.join('\n'),
      /to=<alice@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+,.* status=sent \(250 2\.0\.0 /,
    );
    assert.match(
      postfix.log(),
      /TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLSv1\.[23] with cipher /,
    );

    const inbox = await server.inbox('alice@example.com');
    assert.equal(inbox.length, before + 1, 'stored once');
    const stored = inbox.at(-1)!.toString('utf8');
    assert.match(stored, /^Return-Path: <sender@example\.net>\r\n/);
    // Ours first (RFC 5321 §4.4: each hop prepends), ESMTPS: the message came over TLS (RFC 3848 §2).
    assert.match(
      stored,
      /\r\nReceived: from postfix\.example\.net \([^)]*\[127\.0\.0\.1\]\)\r\n\t\(using TLSv1\.[23] with cipher [^)]+\)\r\n\tby mx\.example\.com \(Postern\) with ESMTPS id [^\r]+\r\n\tfor <alice@example\.com>;/,
    );
    // Postfix's own hop: the pickup of the local submission, with its queue id.
    assert.match(
      stored,
      new RegExp(`\\r\\nReceived: by postfix\\.example\\.net \\(Postfix, from userid 0\\)\\r\\n\\tid ${queueId};`),
    );
    assert.match(stored, new RegExp(`Message-ID: <${m.id.replace(/\./g, '\\.')}>\\r\\n`));
    assert.deepEqual(bodyOf(inbox.at(-1)!), crlf('Hello from Postfix.\n'));
  });

  test('an 8-bit body goes with BODY=8BITMIME and arrives byte for byte', async () => {
    const body = 'Grüße aus Köln — ✉ ½ € ß\nZeile zwei: ÄÖÜ äöü\n';
    const m = message('8bit', body, [
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ]);
    const { queueId } = await relay('sender@example.net', ['alice@example.com'], m, ['-B', '8BITMIME']);
    assert.match(mailFrom(queueId), /^MAIL FROM:<sender@example\.net> SIZE=\d+ BODY=8BITMIME$/);
    assert.deepEqual(bodyOf((await server.inbox('alice@example.com')).at(-1)!), crlf(body));
  });

  test('a ~2 MB message goes with SIZE and arrives whole', async () => {
    const line = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.'; // 79 octets
    const lines = Array.from({ length: 26_000 }, (_, i) => `${String(i).padStart(6, '0')} ${line}`);
    const body = `${lines.join('\n')}\n`;
    const m = message('big', body);
    const { queueId } = await relay('sender@example.net', ['alice@example.com'], m);
    const size = Number(/ SIZE=(\d+)/.exec(mailFrom(queueId))?.[1]);
    assert.ok(size > 2_000_000, `SIZE=${size}, the message's size announced (RFC 1870 §3)`);
    const stored = (await server.inbox('alice@example.com')).at(-1)!;
    assert.ok(bodyOf(stored).equals(crlf(body)), 'the body is intact');
  });

  test('several recipients in one transaction: one stored copy, in each INBOX', async () => {
    const recipients = ['alice@example.com', 'bob@example.com', 'carol@example.com'];
    const before = await Promise.all(recipients.map((r) => server.inbox(r)));
    const contents = () => {
      const db = new DatabaseSync(path.join(server.dataDir, DATABASE_FILE_NAME), { readOnly: true });
      try {
        return Number((db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n);
      } finally {
        db.close();
      }
    };
    const storedBefore = contents();
    const m = message('to three', 'One transaction, three recipients.\n');
    const { lines } = await relay('sender@example.net', recipients, m);
    const sent = lines.filter((line) => line.includes('status=sent'));
    assert.equal(sent.length, 3, 'each recipient sent');
    const replies = new Set(sent.map((line) => /\((250 [^)]*)\)$/.exec(line)?.[1]));
    assert.equal(replies.size, 1, `one transaction, one 250 for all: ${[...replies].join(' | ')}`);
    assert.equal(contents(), storedBefore + 1, 'one stored content');
    const after = await Promise.all(recipients.map((r) => server.inbox(r)));
    for (const [i, inbox] of after.entries()) assert.equal(inbox.length, before[i]!.length + 1, recipients[i]);
    assert.deepEqual(after[1]!.at(-1), after[0]!.at(-1));
    assert.deepEqual(after[2]!.at(-1), after[0]!.at(-1));
    assert.doesNotMatch(after[0]!.at(-1)!.toString(), /\tfor </, 'no "for" with several recipients');
  });

  test('dot lines: stuffed by Postfix, exact in the store', async () => {
    const body = '.\n..\n.leading dot\n...three\nend.\n.\n';
    const m = message('dots', body);
    await relay('sender@example.net', ['alice@example.com'], m);
    assert.deepEqual(bodyOf((await server.inbox('alice@example.com')).at(-1)!), crlf(body));
  });

  test('an SMTPUTF8 sender address is accepted and stored', async () => {
    const sender = 'jörg.müller@example.net';
    const m = message('utf8 sender', 'From a UTF-8 address.\n');
    const { queueId, lines } = await relay(sender, ['alice@example.com'], m);
    // Postfix asks for SMTPUTF8 itself (smtputf8_autodetect_classes: sendmail): the envelope needs it.
    assert.match(mailFrom(queueId), /^MAIL FROM:<jörg\.müller@example\.net> SIZE=\d+ SMTPUTF8$/u);
    assert.match(lines.join('\n'), /status=sent \(250 2\.0\.0 /);
    const stored = (await server.inbox('alice@example.com')).at(-1)!.toString('utf8');
    assert.match(stored, /^Return-Path: <jörg\.müller@example\.net>\r\n/u);
    assert.match(stored, /by mx\.example\.com \(Postern\) with UTF8SMTPS id /, 'RFC 6531 §3.7.3');
    assert.equal(withoutTrace(Buffer.from(stored, 'utf8')).includes('From a UTF-8 address.'), true);
  });

  test('an unknown recipient: 550 from Postern, bounced by Postfix; the good one in the same message delivered', async () => {
    const before = (await server.inbox('alice@example.com')).length;
    const m = message('one good, one unknown', 'Half of this arrives.\n');
    const { lines } = await relay('sender@example.net', ['alice@example.com', 'nobody@example.com'], m);
    const log = lines.join('\n');
    assert.match(log, /to=<alice@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+,.* status=sent \(250 2\.0\.0 /);
    assert.match(
      log,
      /to=<nobody@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+,.* dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 [^)]*\(in reply to RCPT TO command\)\)/,
    );
    assert.match(log, /sender non-delivery notification: [0-9A-F]+/);
    const inbox = await server.inbox('alice@example.com');
    assert.equal(inbox.length, before + 1);
    assert.match(inbox.at(-1)!.toString(), /Subject: one good, one unknown\r\n/);
  });

  test("Postfix's log: no protocol errors, lost connections, TLS failures or deferrals", () => {
    const log = postfix.log();
    assert.match(log, /status=sent/, 'the log is the one the deliveries wrote');
    for (const bad of [
      /protocol error/i,
      /lost connection/i,
      /TLS.*fail/i,
      /deferred/i,
      /warning:/,
      /fatal:/,
      /panic:/,
    ]) {
      const line = log.split('\n').find((l) => bad.test(l));
      assert.equal(line, undefined, `${bad}: ${line}`);
    }
  });
});
