// The open-relay battery: from an outside client (not in mynetworks, not authenticated), every
// address trick that open-relay testers try must be refused at RCPT, and no message for a foreign
// mailbox may ever be accepted. The tricks follow the lists relay testers run (percent hacks, bang
// paths, source routes, quoting, literals, trailing dots, case and encoding games).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

let server: TestServer;
before(async () => {
  // One session tries every trick: the error limits and delays that would slow a real tester down are off.
  server = await startTestServer({
    limits: { maxConnectionsPerClient: 0 },
    tarpit: { enabled: false },
    smtp: { maxErrors: 1000, errorSleepMs: 0 },
  });
});
after(() => server.stop());

/** The recipients a relay tester sends for a foreign victim (victim@elsewhere.example). */
const TRICKS = [
  'victim@elsewhere.example',
  'victim%elsewhere.example@example.com',
  'victim%elsewhere.example@[127.0.0.1]',
  '"victim@elsewhere.example"@example.com',
  '"victim%elsewhere.example"@example.com',
  'elsewhere.example!victim@example.com',
  'elsewhere.example!victim',
  '@example.com:victim@elsewhere.example',
  '@example.com,@mx.example.com:victim@elsewhere.example',
  'victim@elsewhere.example.',
  'victim@example.com.',
  'victim@[192.0.2.55]',
  'victim@[127.0.0.1]',
  'victim@[IPv6:::1]',
  'victim@EXAMPLE.COM.elsewhere.example',
  'victim@example.com@elsewhere.example',
  'victim@elsewhere.example@example.com',
  'victim%elsewhere.example%example.com@example.com',
  'victim@mx.example.com',
  'victim@sub.example.com',
  '"victim@elsewhere.example"',
  'victim',
];

test('every relay trick from an outside client is refused at RCPT, and nothing is accepted', async () => {
  const { client, greeting } = await SmtpClient.open(server.port);
  assert.equal(greeting.code, 220);
  assert.equal((await client.command('EHLO tester.example.net')).code, 250);
  const accepted: string[] = [];
  for (const trick of TRICKS) {
    assert.equal((await client.command('MAIL FROM:<tester@example.net>')).code, 250, trick);
    const rcpt = await client.command(`RCPT TO:<${trick}>`);
    if (rcpt.code < 400) accepted.push(`${trick} → ${rcpt.code} ${rcpt.text}`);
    assert.ok(rcpt.code >= 500, `${trick}: ${rcpt.code} ${rcpt.text}`);
    assert.equal((await client.command('RSET')).code, 250);
  }
  assert.deepEqual(accepted, [], 'no trick got a recipient accepted');
  const data = await client.command('DATA');
  assert.equal(data.code, 503, 'no transaction: nothing can be sent');
  await client.close();
  assert.deepEqual(await server.inbox('alice@example.com'), []);
});

test('a message with a local recipient and a foreign one delivers only to the local one', async () => {
  const { client } = await SmtpClient.open(server.port);
  await client.command('EHLO tester.example.net');
  assert.equal((await client.command('MAIL FROM:<tester@example.net>')).code, 250);
  assert.equal((await client.command('RCPT TO:<victim@elsewhere.example>')).code, 554);
  assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  const done = await client.command('From: tester@example.net\r\nSubject: relay test\r\n\r\nhello\r\n.');
  assert.equal(done.code, 250);
  await client.close();
  assert.equal((await server.inbox('alice@example.com')).length, 1);
});
