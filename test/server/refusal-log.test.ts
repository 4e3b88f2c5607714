// The lines of the refusals that come after the message's data (src/server/inbound.ts), over SMTP
// against the real server: each keeps to the client's log budget (src/log/client-budget.ts) as the
// session's own refusals do, and says what the client was answered.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../../src/accounts/password.ts';
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { fakeMilter, z } from '../support/fake-milter.ts';
import { startTestServer, type TestOverrides, type TestServer, tempDir } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { sendToAlice } from '../support/transaction.ts';

type Context = { after(fn: () => unknown): void };

const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    'reject.example': {
      MX: [{ priority: 10, exchange: 'mx.reject.example' }],
      A: ['192.0.2.50'],
      TXT: ['v=spf1 -all'],
    },
    'mx.reject.example': { A: ['192.0.2.50'] },
    '_dmarc.reject.example': { TXT: ['v=DMARC1; p=reject'] },
  },
};

const PASSWORD = 'correct horse battery staple';

/** A server whose milter refuses every message it sees with a text holding an ESC sequence. */
async function serverWith(t: Context, overrides: TestOverrides = {}): Promise<TestServer> {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? ['y', z('554 5.7.1 Virus \u001b[31mfound')] : ['c']));
  t.after(() => milter.close());
  const dir = tempDir('postern-refusal-log-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const header = path.join(dir, 'header_checks');
  fs.writeFileSync(header, '/^Subject: refuse me/ REJECT 5.7.1 Not this subject\n');
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 300, tries: 1 },
    filter: { headerChecks: header, milters: [{ socket: milter.spec }], phishing: { enabled: false } },
    log: { level: 'info' },
    ...overrides,
  });
  t.after(() => server.stop());
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
  return server;
}

const message = (from: string, extra = '', subject = 'hello') =>
  `${extra}From: <${from}>\r\nTo: <alice@example.com>\r\nSubject: ${subject}\r\n` +
  'Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.net>\r\n\r\nHello.\r\n';

const hops = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `Received: from h${i}.example by h${i + 1}.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n`,
  ).join('');

/** Each refusal after the data on port 25, with the reply it gets (code and enhanced code). */
const AFTER_DATA: [name: string, mailFrom: string, content: string, expected: string][] = [
  ['a first line of white space', 'bob@example.net', ` folded\r\n${message('bob@example.net')}`, '554 5.6.0'],
  ['a mail loop', 'bob@example.net', message('bob@example.net', hops(100)), '554 5.4.6'],
  [
    'a header too large',
    'bob@example.net',
    message('bob@example.net', Array.from({ length: 1001 }, (_, i) => `X-F${i}: v\r\n`).join('')),
    '552 5.3.4',
  ],
  ['DMARC p=reject', 'a@reject.example', message('ceo@reject.example'), '550 5.7.1'],
  ['a header_checks REJECT', 'bob@example.net', message('bob@example.net', '', 'refuse me'), '550 5.7.1'],
  ["a milter's reply", 'bob@example.net', message('bob@example.net'), '554 5.7.1'],
];

/** Logs in as carol on 465 and sends a message whose From (or Sender) is not hers. */
async function submitForeign(server: TestServer): Promise<string[]> {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal((await client.command('EHLO client.example')).code, 250);
  const plain = Buffer.from(`\0carol@example.com\0${PASSWORD}`).toString('base64');
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain}`)), '235 2.7.0');
  const codes: string[] = [];
  for (const header of ['From: <alice@example.com>', 'From: <carol@example.com>\r\nSender: <alice@example.com>']) {
    assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
    assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
    assert.equal((await client.command('DATA')).code, 354);
    codes.push(codeOf(await client.command(`${header}\r\nTo: <bob@example.com>\r\nSubject: s\r\n\r\nhi\r\n.`)));
  }
  assert.equal(codeOf(await client.command('QUIT')), '221 2.0.0');
  await client.close();
  return codes;
}

test("refusals after the data keep to the client's log budget: past it they are counted, not written", async (t) => {
  const server = await serverWith(t, {
    smtp: { maxErrors: 1000, maxCommandsBeforeMail: 1000, softErrorLimit: 1000, errorSleepMs: 0 },
  });
  // The client's 100 lines of the minute: unknown commands, each a line of the session's.
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO client.example')).code, 250);
  for (let i = 0; i < 100; i++) assert.equal((await client.command('FOO')).code, 500);
  assert.equal(codeOf(await client.command('QUIT')), '221 2.0.0');
  await client.close();
  const spent = server.logs().length;
  assert.equal(server.logs().filter((l) => l.code === 500).length, 100);
  for (const [name, mailFrom, content, expected] of AFTER_DATA) {
    assert.equal(codeOf(await sendToAlice(server, mailFrom, content)), expected, name);
  }
  assert.deepEqual(await submitForeign(server), ['550 5.7.1', '550 5.7.1']);
  await server.stopServer(); // the budget's summary is written as the server stops
  const after = server.logs().slice(spent);
  const written = after.filter((l) => l.client !== undefined && l.notLogged === undefined);
  assert.deepEqual(
    written.map((l) => l.msg),
    ['login'],
    'past the budget, only the login: it comes once per session whatever the client does',
  );
  const summary = after.find((l) => l.notLogged !== undefined);
  assert.equal(summary?.client, '127.0.0.1');
  // Each refusal, and the header_checks rule's own line (`header_checks: reject`).
  assert.equal(summary?.notLogged, AFTER_DATA.length + 2 + 1, 'every refusal counted');
  assert.equal(summary?.level, 40, 'the mail loop is a warning: so is the summary');
});

test("a refusal after the data says what the client was answered: a milter's code, enhanced code and text", async (t) => {
  const server = await serverWith(t);
  const refused = await sendToAlice(server, 'bob@example.net', message('bob@example.net'));
  assert.equal(refused.text, '554 5.7.1 Virus ?[31mfound\r\n');
  const line = server.logs().find((l) => String(l.msg).startsWith('content filter: '));
  assert.ok(line, JSON.stringify(server.logs().map((l) => l.msg)));
  assert.equal(line.code, 554);
  assert.equal(line.enhanced, '5.7.1');
  assert.equal(line.reply, 'Virus ?[31mfound', 'the text as the client got it');
  assert.match(String(line.reason), /^milter /);
  assert.equal(line.msg, 'content filter: answered 554 5.7.1 Virus ?[31mfound');
  // The other refusals' lines carry their code and enhanced code as well.
  assert.equal(
    codeOf(await sendToAlice(server, 'bob@example.net', ` folded\r\n${message('bob@example.net')}`)),
    '554 5.6.0',
  );
  const folded = server.logs().find((l) => String(l.msg).startsWith('message refused: its first line'));
  assert.deepEqual([folded?.code, folded?.enhanced], [554, '5.6.0']);
});
