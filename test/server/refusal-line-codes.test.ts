// The lines of refusals that are logged where they are decided (the sender-login check, a failed
// login, our own 451 after DATA), over SMTP against the real server: each refusal is one line, and
// that line carries the code and enhanced code the client got, as the listener's own lines do, so
// that `jq 'select(.code >= 400)'` finds every refusal.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { hashPassword } from '../../src/accounts/password.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SubmissionAuth } from '../../src/server/submission-auth.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { type Account, StoreUnavailableError } from '../../src/store/store.ts';
import { startTestServer, type TestOverrides, type TestServer, tempDir } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { sendToAlice } from '../support/transaction.ts';

type Context = { after(fn: () => unknown): void };
type Line = Record<string, unknown>;

const PASSWORD = 'correct horse battery staple';
const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

async function serverWith(t: Context, overrides: TestOverrides = {}): Promise<TestServer> {
  const server = await startTestServer({ log: { level: 'info' }, ...overrides });
  t.after(() => server.stop());
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
  return server;
}

/** Carol logged in on 465, ready for MAIL FROM. */
async function carol(server: TestServer): Promise<SmtpClient> {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  return client;
}

/** The session's lines past its login: what its refusals wrote. */
const refusalLines = (server: TestServer): Line[] =>
  server.logs().filter((l) => l.session !== undefined && l.msg !== 'login' && Number(l.level) >= 30);

test('a logged-in sender not owned by the user: one line for the 553, not a second for the reply', async (t) => {
  const server = await serverWith(t);
  const client = await carol(server);
  assert.equal(codeOf(await client.command('MAIL FROM:<boss@example.com>')), '553 5.7.1');
  await client.close();
  const lines = refusalLines(server);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.rule, l.code, l.enhanced]),
    [['restriction rejected', 'reject_sender_login_mismatch', 553, '5.7.1']],
    `one line per refusal, with the reply's codes: ${JSON.stringify(lines)}`,
  );
});

test('an account disabled after login: one line for the 530, not a second for the reply', async (t) => {
  const server = await serverWith(t);
  const client = await carol(server);
  await server.store.setDisabled('carol@example.com', true);
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '530 5.7.0');
  await client.close();
  const lines = refusalLines(server);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.rule, l.code]),
    [['restriction rejected', 'reject_sender_login_mismatch', 530]],
    `one line per refusal: ${JSON.stringify(lines)}`,
  );
  assert.match(String(lines[0]?.reason), /carol@example\.com was disabled after logging in/);
});

test('failed logins: each line carries the code and enhanced code of its reply (501, 535, the 454 of the block)', async (t) => {
  const server = await serverWith(t, { auth: { failureDelayMs: 0, maxFailuresPerClient: 3 } });
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  const answers = [
    // PLAIN without its NUL separators: a response that is not one (RFC 4616 §2).
    codeOf(await client.command(`AUTH PLAIN ${Buffer.from('no separators').toString('base64')}`)),
    codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', 'guess')}`)),
    codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', 'guess')}`)),
  ];
  await client.close();
  assert.deepEqual(answers, ['501 5.5.2', '535 5.7.8', '454 4.7.0']);
  const lines = refusalLines(server);
  assert.deepEqual(
    lines.map((l) => `${l.code} ${l.enhanced}`),
    answers,
    `the numbers of the replies sent, one line each: ${JSON.stringify(lines)}`,
  );
  assert.match(String(lines[2]?.msg), /the client is blocked until/);
});

test("a REDIRECT to an address of ours without an account: the error line carries the 451's codes", async (t) => {
  const dir = tempDir('postern-line-codes-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const header = path.join(dir, 'header_checks');
  fs.writeFileSync(header, '/^Subject:.*redirect me/ REDIRECT nobody@example.com\n');
  const server = await serverWith(t, { filter: { headerChecks: header, phishing: { enabled: false } } });
  const answer = await sendToAlice(
    server,
    'bob@example.net',
    'From: bob@example.net\r\nSubject: please redirect me\r\n\r\nhello\r\n',
  );
  assert.equal(codeOf(answer), '451 4.3.0');
  const lines = server.logs().filter((l) => l.level === 50 && l.redirect === 'nobody@example.com');
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]?.code, 451);
  assert.equal(lines[0]?.enhanced, '4.3.0');
});

test("a store that fails while a login is checked: the error line carries the 454's codes", async () => {
  class Down extends NullStore {
    override async findAccount(): Promise<Account | undefined> {
      throw new StoreUnavailableError('database is locked');
    }
  }
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => {
    written += chunk.toString();
  });
  const auth = new SubmissionAuth(new Down([]), parseConfig({}, 'test').auth, createLogger('info', out));
  const peer = {
    sessionId: 's1',
    remoteAddress: '192.0.2.7',
    remotePort: 4000,
    localAddress: '127.0.0.1',
    localPort: 587,
  };
  const response = Buffer.from('\0carol@example.com\0correct horse');
  const outcome = await auth.step({ type: 'auth', mechanism: 'PLAIN', response, first: true }, peer);
  assert.deepEqual(outcome.action === 'reject' && [outcome.reply.code, outcome.reply.enhanced], [454, '4.7.0']);
  await new Promise((resolve) => setImmediate(resolve));
  const lines = written
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.code, l.enhanced]),
    [['login could not be checked: answered 454 4.7.0', 454, '4.7.0']],
  );
});
