/** One SMTP transaction to alice@example.com on a test server, and what her mailboxes hold. */
import assert from 'node:assert/strict';
import type { TestServer } from './server.ts';
import { SmtpClient, type SmtpReply } from './smtp-client.ts';

/** Sends `content`; returns the final reply (the first refusal, or the answer to the data). */
export async function sendToAlice(
  server: TestServer,
  mailFrom: string,
  content: string,
  helo = 'client.example',
): Promise<SmtpReply> {
  const { client } = await SmtpClient.open(server.port);
  try {
    assert.equal((await client.command(`EHLO ${helo}`)).code, 250);
    const mail = await client.command(`MAIL FROM:<${mailFrom}>`);
    if (mail.code !== 250) return mail;
    const rcpt = await client.command('RCPT TO:<alice@example.com>');
    if (rcpt.code !== 250) return rcpt;
    assert.equal((await client.command('DATA')).code, 354);
    const dotted = content.replace(/^\./gm, '..');
    return await client.command(`${dotted.endsWith('\r\n') ? dotted : `${dotted}\r\n`}.`);
  } finally {
    await client.close();
  }
}

/** The messages of alice's mailbox `name` (INBOX, Junk), as text, in UID order. */
export async function aliceMailbox(server: TestServer, name: string): Promise<string[]> {
  const account = await server.store.resolveAddress('alice@example.com');
  assert.ok(account);
  const box = await server.store.getMailbox(account.id, name);
  if (!box) return [];
  const out: string[] = [];
  for (const m of await server.store.listMessages(box.id)) {
    out.push(Buffer.from((await server.store.readMessage(box.id, m.uid)) ?? []).toString());
  }
  return out;
}
