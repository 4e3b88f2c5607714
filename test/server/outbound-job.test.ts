// The outbound job the SMTP listener queues, over a real socket on loopback: a recipient given twice
// is one recipient (RFC 5321 §2.4), and BODY=8BITMIME and SMTPUTF8 ride with the job for the next hop
// (RFC 6152 §3, RFC 6531 §3.4), as `postern queue list --json` shows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hashPassword } from '../../src/accounts/password.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

const PASSWORD = 'correct horse battery staple';
let server: TestServer;
before(async () => {
  // mynetworks relays; three recipients at most.
  server = await startTestServer({ mynetworks: ['127.0.0.0/8'], smtp: { maxRecipients: 3 } });
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
});
after(() => server.stop());

/** The payload of the job whose recipients include `marker`, the one queued last. */
async function jobFor(marker: string): Promise<Record<string, unknown>> {
  const jobs = await server.store.listJobs({ kind: 'outbound' });
  const job = jobs.filter((j) => j.payload.includes(marker)).at(-1);
  assert.ok(job, `a job for ${marker}`);
  return JSON.parse(job.payload);
}

test('a recipient given twice is queued once; the local part keeps its case', async () => {
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com>')), '250 2.1.0');
  // RFC 5321 §2.4: the domain is case-insensitive, the local part is not: X@ is another mailbox.
  for (const to of ['x@remote.test', 'x@Remote.Test', 'X@remote.test']) {
    assert.equal(codeOf(await client.command(`RCPT TO:<${to}>`)), '250 2.1.5', to);
  }
  // Each RCPT answered 250 counts toward maxRecipients = 3, a duplicate too, as in Postfix's smtpd.
  assert.equal(codeOf(await client.command('RCPT TO:<z@remote.test>')), '452 4.5.3', 'a fourth is one too many');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: alice@example.com\r\nSubject: dup\r\n\r\nhi\r\n.')), '250 2.0.0');
  await client.close();
  const payload = await jobFor('X@remote.test');
  assert.deepEqual(payload.recipients, ['x@remote.test', 'X@remote.test']);
});

test('BODY=8BITMIME and SMTPUTF8 are kept in the job; a 7-bit message is queued as 7BIT', async () => {
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com> BODY=8BITMIME SMTPUTF8')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<jörg@bücher.test>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  const reply = await client.command('From: alice@example.com\r\nSubject: Grüße\r\n\r\nschön\r\n.');
  assert.equal(codeOf(reply), '250 2.0.0');
  const utf8 = await jobFor('bücher.test');
  assert.equal(utf8.body, '8BITMIME');
  assert.equal(utf8.smtputf8, true);

  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com> BODY=8BITMIME')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<eight@remote.test>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: alice@example.com\r\n\r\nschön\r\n.')), '250 2.0.0');
  const eight = await jobFor('eight@remote.test');
  assert.equal(eight.body, '8BITMIME');
  assert.equal(eight.smtputf8, false);

  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<seven@remote.test>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: alice@example.com\r\n\r\nplain\r\n.')), '250 2.0.0');
  await client.close();
  const seven = await jobFor('seven@remote.test');
  assert.equal(seven.body, '7BIT');
  assert.equal(seven.smtputf8, false);
});

// RFC 6532 §3 header fields are taken without SMTPUTF8 (as Postfix does); the next hop must still be
// asked for SMTPUTF8 (RFC 6531 §3.4), or it is handed UTF-8 headers it never agreed to take.
const UTF8_HEADER = 'From: Zoë <alice@example.com>\r\nSubject: Grüße\r\n\r\nplain ascii body\r\n.';

test('a relayed message with UTF-8 header fields is queued as SMTPUTF8 and 8BITMIME, though MAIL said neither', async () => {
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<utf8-header@remote.test>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command(UTF8_HEADER)), '250 2.0.0');
  await client.close();
  const job = await jobFor('utf8-header@remote.test');
  assert.equal(job.smtputf8, true);
  assert.equal(job.body, '8BITMIME');
});

test('submission: a message with UTF-8 header fields is queued as SMTPUTF8 too', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  const plain = Buffer.from(`\0carol@example.com\0${PASSWORD}`).toString('base64');
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain}`)), '235 2.7.0');
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<submitted-utf8@remote.test>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  const reply = await client.command(UTF8_HEADER.replace('alice@', 'carol@'));
  assert.equal(codeOf(reply), '250 2.0.0', reply.text);
  await client.close();
  const job = await jobFor('submitted-utf8@remote.test');
  assert.equal(job.smtputf8, true);
  assert.equal(job.body, '8BITMIME');
});
