// Header changes from a milter that may not enter the message as they come (a name with a colon,
// space or control; a value with a bare CR, a NUL, a line break not followed by WSP, an empty line,
// a line over 998 octets): a scripted milter on loopback sends each to the real server, and what
// alice's INBOX holds (SQLite) and the warning logged are read back. Postfix's cleanup folds a
// line that does not start with WSP with a TAB (cleanup_out_header); the rest is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, fakeMilter, u32, z } from '../support/fake-milter.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

const MESSAGE =
  'From: <bob@example.net>\r\nTo: <alice@example.com>\r\nSubject: hi\r\n' +
  'Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <h1@example.net>\r\n\r\nHello\r\n';

const header = (message: string) => message.slice(0, message.indexOf('\r\n\r\n') + 2);
const body = (message: string) => message.slice(message.indexOf('\r\n\r\n') + 4);

/** What the milter sends at eom (between a good X-Before and a good X-After), and what must follow. */
const cases: {
  name: string;
  send: Answer;
  /** `header`: the name as the warning logs it. */
  refused?: { header: string; reason: RegExp };
  folded?: { header: string; stored: string };
}[] = [
  {
    name: 'a colon in the name',
    send: ['h', z('X-A:b', 'v')],
    refused: { header: 'X-A:b', reason: /^a colon in the name$/ },
  },
  {
    name: 'a space in the name',
    send: ['h', z('X A', 'v')],
    refused: { header: 'X A', reason: /^a space in the name$/ },
  },
  {
    name: 'a control character in the name',
    send: ['h', z('X-\x01A', 'v')],
    // The log writes a control as text (src/log/logger.ts): never the character itself.
    refused: { header: 'X-\\u0001A', reason: /^control character U\+0001 in the name$/ },
  },
  {
    name: 'an LF in the name',
    send: ['h', z('Bcc: evil@example.net\nX-A', 'v')],
    refused: { header: 'Bcc: evil@example.net\\u000aX-A', reason: /in the name$/ },
  },
  { name: 'an empty name', send: ['h', z('', 'v')], refused: { header: '', reason: /^an empty name$/ } },
  {
    name: 'a bare CR in the value',
    send: ['h', z('X-A', 'one\rBcc: evil@example.net')],
    refused: { header: 'X-A', reason: /^a bare CR in the value$/ },
  },
  {
    name: 'a NUL in the value (a third string in the packet)',
    send: ['h', z('X-A', 'one', 'Bcc: evil@example.net')],
    refused: { header: 'X-A', reason: /^a NUL in the value$/ },
  },
  {
    name: 'an empty line in the value: the end of the header, fields moved into the body',
    send: ['h', z('X-A', 'one\n\nInjected: body')],
    refused: { header: 'X-A', reason: /^an empty line in the value/ },
  },
  {
    name: 'a line of white space in an inserted value',
    send: ['i', Buffer.concat([u32(1), z('X-A', 'one\r\n \r\nInjected: body')])],
    refused: { header: 'X-A', reason: /^an empty line in the value/ },
  },
  {
    name: 'a line over 998 octets',
    send: ['h', z('X-A', 'x'.repeat(995))],
    refused: { header: 'X-A', reason: /^a line of 1000 octets \(998 at most\)$/ },
  },
  {
    name: 'a changed Subject with an empty line',
    send: ['m', Buffer.concat([u32(1), z('Subject', 'hi\n\nInjected: body')])],
    refused: { header: 'Subject', reason: /^an empty line in the value/ },
  },
  {
    name: 'a bare LF before a second field: folded, never a field of its own',
    send: ['h', z('X-A', 'one\nBcc: evil@example.net')],
    folded: { header: 'X-A', stored: 'X-A: one\r\n\tBcc: evil@example.net\r\n' },
  },
  {
    name: 'a CRLF before a second field in an inserted value: folded',
    send: ['i', Buffer.concat([u32(1), z('X-A', 'one\r\nBcc: evil@example.net')])],
    folded: { header: 'X-A', stored: 'X-A: one\r\n\tBcc: evil@example.net\r\n' },
  },
  {
    name: 'a changed Subject with a second field: folded',
    send: ['m', Buffer.concat([u32(1), z('Subject', 'hi\nBcc: evil@example.net')])],
    folded: { header: 'Subject', stored: 'Subject: hi\r\n\tBcc: evil@example.net\r\n' },
  },
];

test("a milter's header change that would break the message is refused or folded, with a warning naming the milter", async (t) => {
  let eom: Answer[] = [];
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [...eom, ['c']] : ['c']));
  t.after(() => milter.close());
  const server = await startTestServer({
    filter: { milters: [{ socket: milter.spec, name: 'scripted' }], phishing: { enabled: false } },
    log: { level: 'warn' },
  });
  t.after(() => server.stop());
  for (const c of cases) {
    await t.test(c.name, async () => {
      eom = [['h', z('X-Before', 'kept')], c.send, ['h', z('X-After', 'kept')]];
      const warnedBefore = warnings(server).length;
      const answer = await sendToAlice(server, 'bob@example.net', MESSAGE);
      assert.equal(answer.code, 250, answer.text);
      const stored = (await aliceMailbox(server, 'INBOX')).at(-1) ?? '';
      const head = header(stored);
      assert.equal(body(stored), 'Hello\r\n', 'the body is as sent');
      assert.doesNotMatch(head, /^(Bcc|Injected):/im, "no field of the milter's making");
      // Every line of the header section is a field or a continuation of one.
      for (const line of head.slice(0, -2).split('\r\n')) assert.match(line, /^([\x21-\x39\x3b-\x7e]+:|[ \t])/);
      const warned = warnings(server).slice(warnedBefore);
      assert.equal(warned.length, 1, `one warning: ${JSON.stringify(warned)}`);
      const [line] = warned;
      if (c.refused) {
        // The message as it was before that change: the changes before and after it made.
        assert.ok(head.endsWith(`${header(MESSAGE)}X-Before: kept\r\nX-After: kept\r\n`), JSON.stringify(head));
        assert.equal(line?.msg, 'milter header change refused');
        assert.equal(line?.header, c.refused.header);
        assert.match(String(line?.reason), c.refused.reason);
      } else if (c.folded) {
        assert.ok(head.includes(c.folded.stored), JSON.stringify(head));
        assert.match(head, /X-Before: kept\r\n(.*\r\n)*X-After: kept\r\n$/);
        assert.equal(line?.msg, 'milter header value folded');
        assert.equal(line?.header, c.folded.header);
      }
    });
  }
});

function warnings(server: TestServer): Record<string, unknown>[] {
  return server.logs().filter((l) => l.milter === 'scripted' && l.level === 40);
}

test('a windows-1251 Subject a milter changes to "[SPAM] " + its octets is stored with those octets, not U+FFFD', async (t) => {
  // rspamd's "rewrite subject" and spamass-milter send back the value they were given: raw 8-bit
  // windows-1251 here ("Привет", unencoded, as old Russian mailers still write it).
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]);
  let given: Buffer = Buffer.alloc(0);
  const milter = await fakeMilter(0, (p) => {
    if (p.code === 'L' && p.data.subarray(0, 8).toString() === 'Subject\0') given = p.data.subarray(8, -1);
    if (p.code !== 'E') return ['c'];
    const value = Buffer.concat([Buffer.from('[SPAM] '), given, Buffer.from([0])]);
    return [['m', Buffer.concat([u32(1), Buffer.from('Subject\0'), value])], ['c']];
  });
  t.after(() => milter.close());
  const server = await startTestServer({
    filter: { milters: [{ socket: milter.spec }], phishing: { enabled: false } },
  });
  t.after(() => server.stop());
  const message = MESSAGE.replace('Subject: hi', `Subject: ${cp1251.toString('latin1')}`);
  const { client } = await SmtpClient.open(server.port);
  for (const command of ['EHLO client.example', 'MAIL FROM:<bob@example.net>', 'RCPT TO:<alice@example.com>', 'DATA']) {
    assert.ok((await client.command(command)).code < 400, command);
  }
  client.send(Buffer.from(`${message}.\r\n`, 'latin1'));
  assert.equal((await client.read()).code, 250);
  await client.close();
  assert.deepEqual(given, cp1251, 'the milter got the octets as they are');
  const [stored] = await server.inbox('alice@example.com');
  const want = Buffer.concat([Buffer.from('\r\nSubject: [SPAM] '), cp1251, Buffer.from('\r\n')]);
  assert.ok(stored?.includes(want), stored?.toString('latin1'));
});
