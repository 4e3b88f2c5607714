// A recipient whose account goes between RCPT and the end of data (removed by the CLI or on another
// node while the account cache still holds it) is not stored; with other recipients the message is
// taken for them, and the log says who got it and who did not, rather than listing all as delivered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

test('a recipient removed after RCPT is logged as skipped, not as delivered; the others get the message', async (t) => {
  const server = await startTestServer({ log: { level: 'info' } });
  t.after(() => server.stop());
  const { client } = await SmtpClient.open(server.port);
  await client.command('EHLO client.example');
  assert.equal(codeOf(await client.command('MAIL FROM:<sender@example.net>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '250 2.1.5');
  assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
  assert.ok(await server.store.removeAccount('bob@example.com'));
  assert.equal((await client.command('DATA')).code, 354);
  const stored = await client.command('From: <sender@example.net>\r\nSubject: s\r\n\r\nhi\r\n.');
  assert.equal(codeOf(stored), '250 2.0.0');
  await client.close();
  const line = server.logs().find((l) => l.msg === 'message stored');
  assert.ok(line, JSON.stringify(server.logs().map((l) => l.msg)));
  assert.deepEqual(line.to, ['alice@example.com']);
  assert.deepEqual(line.skipped, ['bob@example.com']);
});
