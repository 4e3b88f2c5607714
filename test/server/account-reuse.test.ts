// A removed account's mail never reaches the account made after it. RCPT looks the account up once
// and the server caches it for 10 s (src/accounts/account-cache.ts); delivery then goes by its id.
// An audit found that SQLite gave the new account the removed one's id, so mail to the removed address
// within those seconds was answered 250 and stored in the new account's INBOX.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer, TEST_PASSWORD_HASH, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient, type SmtpReply } from '../support/smtp-client.ts';

/** One message to `to` over SMTP; the first refusal, or the reply to the data. */
async function send(server: TestServer, to: string, subject: string): Promise<SmtpReply> {
  const { client, greeting } = await SmtpClient.open(server.port);
  try {
    assert.equal(greeting.code, 220, greeting.text);
    assert.equal((await client.command('EHLO client.example')).code, 250);
    assert.equal((await client.command('MAIL FROM:<carol@client.example>')).code, 250);
    const rcpt = await client.command(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250) return rcpt;
    assert.equal((await client.command('DATA')).code, 354);
    return await client.command(
      `From: carol@client.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\n${subject}\r\n.`,
    );
  } finally {
    await client.close();
  }
}

test('mail for a removed account, accepted at RCPT from the account cache, is refused 550 5.1.1 and never reaches the account made after it', async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  // eve is the newest account (alice and bob come first): the one whose id SQLite handed on.
  const eve = await server.store.createAccount('eve@example.com', TEST_PASSWORD_HASH);
  assert.equal(codeOf(await send(server, 'eve@example.com', 'first, for eve')), '250 2.0.0');
  assert.equal((await server.inbox('eve@example.com')).length, 1);
  // As `postern user remove` and `postern user add` do, while the server still has eve cached.
  assert.equal(await server.store.removeAccount('eve@example.com'), true);
  const frank = await server.store.createAccount('frank@example.com', TEST_PASSWORD_HASH);
  const refused = await send(server, 'eve@example.com', 'CONFIDENTIAL, for eve');
  const frankGot = (await server.inbox('frank@example.com')).map((m) => m.toString('latin1'));
  assert.deepEqual(frankGot, [], "nothing of eve's reached frank");
  assert.equal(codeOf(refused), '550 5.1.1', refused.text);
  assert.match(refused.text, /Recipient mailbox no longer exists/);
  assert.ok(frank.id > eve.id, 'frank has an id of his own');
  // frank's own mail still arrives: only the removed address is refused.
  assert.equal(codeOf(await send(server, 'frank@example.com', 'for frank')), '250 2.0.0');
  const inbox = await server.inbox('frank@example.com');
  assert.equal(inbox.length, 1);
  assert.match(inbox[0]!.toString('latin1'), /Subject: for frank/);
});

test('an account removed and made anew since RCPT: 451 4.2.0 (the retry finds the new one), not a 550 bounce, and nothing reaches the new account', async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  await server.store.createAccount('eve@example.com', TEST_PASSWORD_HASH);
  assert.equal(codeOf(await send(server, 'eve@example.com', 'first, for eve')), '250 2.0.0'); // cached now
  // `postern user remove` then `postern user add` of the same address, within the cache's 10 s.
  assert.equal(await server.store.removeAccount('eve@example.com'), true);
  await server.store.createAccount('eve@example.com', TEST_PASSWORD_HASH);
  const deferred = await send(server, 'eve@example.com', 'accepted for the old eve');
  // 550 5.1.1 before: a permanent bounce for an address that has a mailbox.
  assert.equal(codeOf(deferred), '451 4.2.0', deferred.text);
  assert.deepEqual(await server.inbox('eve@example.com'), [], 'not put in the new account');
});
