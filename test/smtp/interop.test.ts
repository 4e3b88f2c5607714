// Real SMTP clients against the real server: nodemailer (Node), swaks (Perl, Debian package) and Python's smtplib.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { hashPassword } from '../../src/accounts/password.ts';
import { startTestServer, type TestServer, withoutTrace } from '../support/server.ts';

const run = promisify(execFile);
const SWAKS = '/usr/bin/swaks';

let server: TestServer;
const PASSWORD = 'correct horse battery staple';
before(async () => {
  server = await startTestServer();
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
});
after(() => server.stop());

/** The newest message in alice's INBOX, as sent (trace headers removed). */
async function lastForAlice(): Promise<string> {
  const inbox = await server.inbox('alice@example.com');
  assert.ok(inbox.length > 0, 'alice has mail');
  return withoutTrace(inbox.at(-1)!).toString('utf8');
}

test('nodemailer: a message with an attachment and a UTF-8 subject', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    ignoreTLS: true,
    name: 'client.example.net',
  });
  try {
    const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const info = await transport.sendMail({
      from: 'sender@example.net',
      to: 'alice@example.com',
      subject: 'Grüße aus Köln ✉',
      text: 'Hallo Alice,\n.\nein Punkt steht allein auf der Zeile darüber.\n',
      attachments: [{ filename: 'data.bin', content: attachment }],
    });
    assert.deepEqual(info.accepted, ['alice@example.com']);
    assert.match(info.response, /^250 2\.0\.0 /);
    const stored = await lastForAlice();
    assert.match(stored, /^Subject: =\?UTF-8\?/m, 'the subject is RFC 2047 encoded');
    assert.match(stored, /filename=data\.bin/);
    assert.ok(stored.includes(attachment.toString('base64').slice(0, 76)), 'the attachment is intact');
    assert.match(stored, /\r\n\.\r\n/, 'the lone dot line survived stuffing and unstuffing');

    const account = await server.store.findAccount('alice@example.com');
    const inbox = await server.store.getMailbox(account!.id, 'INBOX');
    const listed = await server.store.listMessages(inbox!.id);
    assert.equal(listed.at(-1)!.summary.subject, 'Grüße aus Köln ✉', 'the summary decodes the subject');
  } finally {
    transport.close();
  }
});

async function swaks(args: string[], port = server.port): Promise<{ stdout: string; stderr: string }> {
  if (!fs.existsSync(SWAKS)) {
    assert.fail(`${SWAKS} is not installed: run "apt-get install -y swaks" (CI installs it)`);
  }
  const base = ['--server', `127.0.0.1:${port}`, '--helo', 'client.example.net', '--timeout', '10'];
  try {
    // A fresh cwd: swaks reads --body from a file when one of that name exists (./test would).
    return await run(SWAKS, [...base, ...args], { timeout: 20_000, cwd: server.dataDir });
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    assert.fail(`swaks exited ${e.code}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

test('swaks: a plain message', async () => {
  const before = (await server.inbox('alice@example.com')).length;
  const { stdout } = await swaks([
    '--to',
    'alice@example.com',
    '--from',
    'x@example.net',
    '--h-Subject',
    'hello',
    '--body',
    'test',
  ]);
  assert.match(stdout, /<- {2}250 2\.0\.0 Ok: queued as/);
  assert.equal((await server.inbox('alice@example.com')).length, before + 1);
  const stored = await lastForAlice();
  assert.match(stored, /^Subject: hello\r$/m);
  assert.match(stored, /X-Mailer: swaks[^\r]*\r\n\r\ntest\r\n/);
});

test('swaks --pipeline', async () => {
  const { stdout } = await swaks([
    '--pipeline',
    '--to',
    'alice@example.com,bob@example.com',
    '--from',
    'x@example.net',
    '--h-Subject',
    'pipelined',
  ]);
  assert.match(stdout, / -> MAIL FROM:<x@example\.net>\n -> RCPT TO:<alice@example\.com>\n -> RCPT TO:/, 'pipelined');
  assert.match(stdout, /250 2\.0\.0 Ok: queued as/);
  assert.match(await lastForAlice(), /^Subject: pipelined\r$/m);
  const bob = await server.inbox('bob@example.com');
  assert.match(withoutTrace(bob.at(-1)!).toString(), /^Subject: pipelined\r$/m);
});

test('swaks --data with dot lines: stuffed on the wire, exact in the store', async () => {
  // swaks sends the data, then "\r\n.\r\n": the last line needs no CRLF of its own.
  const data = 'Subject: dots\r\nFrom: x@example.net\r\n\r\n.\r\n..two\r\n.three\r\nend';
  const { stdout } = await swaks(['--to', 'alice@example.com', '--from', 'x@example.net', '--data', data]);
  assert.match(stdout, / -> \.\.\r\n -> \.\.\.two\r\n/, 'swaks stuffed the dots');
  assert.equal(await lastForAlice(), `${data}\r\n`);
});

test('swaks: an unknown recipient is refused with 550 5.1.1', async () => {
  const args = ['--server', `127.0.0.1:${server.port}`, '--to', 'nobody@example.com', '--from', 'x@example.net'];
  const err = await run(SWAKS, args, { timeout: 20_000, cwd: server.dataDir }).then(
    () => undefined,
    (e: { code?: number; stdout?: string }) => e,
  );
  assert.ok(err, 'swaks fails');
  assert.match(err.stdout ?? '', /<\*\* 550 5\.1\.1 /);
});

test('swaks --tls --auth on the submission port (STARTTLS, AUTH PLAIN and LOGIN)', async () => {
  const before = (await server.inbox('alice@example.com')).length;
  for (const mechanism of ['PLAIN', 'LOGIN']) {
    const { stdout } = await swaks(
      [
        '--tls',
        '--auth',
        mechanism,
        '--auth-user',
        'carol@example.com',
        '--auth-password',
        PASSWORD,
        '--from',
        'carol@example.com',
        '--to',
        'alice@example.com',
        '--h-Subject',
        `swaks submission ${mechanism}`,
      ],
      server.submissionPort,
    );
    assert.match(stdout, /<- {2}220 2\.0\.0 Ready to start TLS/);
    assert.match(stdout, /<~ {2}235 2\.7\.0 Authentication successful/);
    assert.match(stdout, /<~ {2}250 2\.0\.0 Ok: queued as /);
  }
  assert.equal((await server.inbox('alice@example.com')).length, before + 2);
});

test('swaks --tlsc on the implicit-TLS port, and a wrong password gets 535', async () => {
  const { stdout } = await swaks(
    [
      '--tlsc',
      '--auth',
      'PLAIN',
      '--auth-user',
      'carol@example.com',
      '--auth-password',
      PASSWORD,
      '--from',
      'carol@example.com',
      '--to',
      'bob@example.com',
    ],
    server.submissionsPort,
  );
  assert.match(stdout, /TLS started with cipher TLSv1\.3/);
  assert.match(stdout, /<~ {2}250 2\.0\.0 Ok: queued as /);
  const failed = await run(
    SWAKS,
    [
      '--server',
      `127.0.0.1:${server.submissionsPort}`,
      '--tlsc',
      '--auth',
      'PLAIN',
      '--auth-user',
      'carol@example.com',
      '--auth-password',
      'wrong password',
      '--from',
      'carol@example.com',
      '--to',
      'bob@example.com',
      '--timeout',
      '10',
    ],
    { timeout: 20_000, cwd: server.dataDir },
  ).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? '',
  );
  assert.match(failed, /<~\* 535 5\.7\.8 Authentication credentials invalid/);
});

test('nodemailer over implicit TLS with AUTH', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.submissionsPort,
    secure: true,
    auth: { user: 'carol@example.com', pass: PASSWORD },
    tls: { rejectUnauthorized: false, servername: 'mx.example.com' },
  });
  try {
    const info = await transport.sendMail({
      from: 'Carol <carol@example.com>',
      to: 'alice@example.com',
      subject: 'nodemailer submission',
      text: 'Hello over TLS.',
    });
    assert.match(info.response, /^250 2\.0\.0/);
  } finally {
    transport.close();
  }
  assert.match(await lastForAlice(), /Subject: nodemailer submission/);
});

test("Python's smtplib: send_message with SMTPUTF8 and BODY=8BITMIME in mail_options, as its docs show", async () => {
  // smtplib adds both itself for an international message, so each goes twice on the MAIL line: taken.
  const script = `
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'jörg@example.com'
m['To'] = 'alice@example.com'
m['Subject'] = 'Grüße aus Köln'
m.set_content('Schöne Grüße\\n')
with smtplib.SMTP('127.0.0.1', int(sys.argv[1])) as s:
    s.send_message(m, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
`;
  await run('python3', ['-c', script, String(server.port)], { timeout: 20_000 });
  const stored = await lastForAlice();
  assert.match(stored, /^Subject: Grüße aus Köln$/m);
  assert.match(stored, /Schöne Grüße/);
});
