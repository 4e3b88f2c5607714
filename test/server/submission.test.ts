// Submission over real TLS on loopback (node's tls client): STARTTLS on 25 and 587, implicit TLS on
// 465, AUTH with every mechanism, the sender-login check, brute-force blocking, and what the
// Received header says about TLS (RFC 8314 §4.3).
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../../src/accounts/password.ts';
import { deriveScramCredentials, formatScramCredentials } from '../../src/accounts/sasl/scram.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

const PASSWORD = 'correct horse battery staple';
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const plain = (user: string, password: string) => b64(`\0${user}\0${password}`);

let server: TestServer;
before(async () => {
  server = await startTestServer({
    auth: { failureDelayMs: 0, maxFailuresPerClient: 5, bounceRelays: ['"Relay"@Example.com'] },
  });
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD), scram);
  await server.store.createAccount('relay@example.com', await hashPassword(PASSWORD), scram);
  await server.store.addAlias('c.smith@example.com', 'carol@example.com');
});
after(() => server.stop());

async function ehlo(client: SmtpClient): Promise<string> {
  const reply = await client.command('EHLO client.example.net');
  assert.equal(reply.code, 250);
  return reply.text;
}

/** STARTTLS on the submission port, then EHLO again; returns the secured client and its EHLO. */
async function securedSubmission(): Promise<{ client: SmtpClient; ehloText: string }> {
  const { client: clear } = await SmtpClient.open(server.submissionPort);
  const offered = await ehlo(clear);
  assert.match(offered, /STARTTLS/);
  assert.doesNotMatch(offered, /AUTH/, 'AUTH is never offered in the clear (RFC 4954 §4)');
  assert.equal(codeOf(await clear.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '530 5.7.0');
  assert.equal(codeOf(await clear.command('STARTTLS')), '220 2.0.0');
  const client = await clear.startTls();
  return { client, ehloText: await ehlo(client) };
}

async function send(client: SmtpClient, from: string, to: string, header = from): Promise<string> {
  assert.equal(codeOf(await client.command(`MAIL FROM:<${from}>`)), '250 2.1.0');
  assert.equal(codeOf(await client.command(`RCPT TO:<${to}>`)), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  return codeOf(await client.command(`From: ${header}\r\nTo: ${to}\r\nSubject: submitted\r\n\r\nhello\r\n.`));
}

test('a Sender field must be one address of the user: mail programs show it as who sent for the author', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`);
  const withSender = (...senders: string[]) => `carol@example.com${senders.map((v) => `\r\nSender: ${v}`).join('')}`;
  const cases: [string, string][] = [
    [withSender('The Boss <alice@example.com>'), '550 5.7.1'], // "alice on behalf of carol"
    [withSender('carol@example.com, alice@example.com'), '550 5.7.1'], // RFC 5322 §3.6.2: one mailbox
    [withSender('carol@example.com', 'alice@example.com'), '550 5.7.1'], // at most one field (§3.6)
    [withSender('ceo\\@example.org <carol@example.com>'), '550 5.7.1'], // two "@": readers disagree
    [withSender('Carol Smith <c.smith@example.com>'), '250 2.0.0'], // her alias
    [withSender('carol@example.com'), '250 2.0.0'],
  ];
  for (const [header, expected] of cases) {
    assert.equal(await send(client, 'carol@example.com', 'bob@example.com', header), expected, header);
  }
  await client.close();
});

test('587: STARTTLS, then AUTH PLAIN, then mail to a local account; Received records TLS and AUTH', async () => {
  const { client, ehloText } = await securedSubmission();
  assert.match(ehloText, /AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN/);
  assert.doesNotMatch(ehloText, /STARTTLS/);
  assert.equal(client.tlsSocket?.getProtocol(), 'TLSv1.3');
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '530 5.7.0', 'AUTH first');
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(await send(client, 'carol@example.com', 'alice@example.com'), '250 2.0.0');
  await client.close();
  const stored = (await server.inbox('alice@example.com')).at(-1)!.toString('latin1');
  assert.match(stored, /\(using TLSv1\.3 with cipher TLS_[A-Z0-9_]+\)/);
  assert.match(stored, /with ESMTPSA id /);
});

test('a submitted message without Message-ID or Date gets them (RFC 6409 §8.2, §8.3); one with them keeps its own', async () => {
  const { client } = await securedSubmission();
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  // send() writes From, To and Subject only.
  assert.equal(await send(client, 'carol@example.com', 'alice@example.com'), '250 2.0.0');
  const bare = (await server.inbox('alice@example.com')).at(-1)!.toString('latin1');
  assert.match(bare, /^Message-ID: <[0-9a-z]+\.[0-9a-f]{16}@mx\.example\.com>\r$/m);
  assert.match(bare, /^Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000\r$/m);
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  const own = 'Message-ID: <mine@client.example>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0300\r\n';
  assert.equal(
    codeOf(await client.command(`${own}From: carol@example.com\r\nTo: alice@example.com\r\nSubject: s\r\n\r\nhi\r\n.`)),
    '250 2.0.0',
  );
  const kept = (await server.inbox('alice@example.com')).at(-1)!.toString('latin1');
  assert.equal(kept.match(/^Message-ID:/gim)?.length, 1);
  assert.equal(kept.match(/^Date:/gim)?.length, 1);
  assert.match(kept, /^Message-ID: <mine@client\.example>\r$/m);
  await client.close();
});

test('465: implicit TLS, AUTH LOGIN, and an alias as sender', async () => {
  const { client, greeting } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal(greeting.code, 220);
  assert.match(await ehlo(client), /AUTH /);
  assert.equal((await client.command('AUTH LOGIN')).code, 334);
  assert.equal((await client.command(b64('carol@example.com'))).code, 334);
  assert.equal(codeOf(await client.command(b64(PASSWORD))), '235 2.7.0');
  assert.equal(await send(client, 'c.smith@example.com', 'bob@example.com'), '250 2.0.0');
  await client.close();
});

test('sender login mismatch: another envelope sender is refused with 553 5.7.1 at MAIL, another From with 550 5.7.1 after DATA (RFC 5321 §4.3.2)', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`);
  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com>')), '553 5.7.1');
  assert.equal(codeOf(await client.command('MAIL FROM:<ceo@example.org>')), '553 5.7.1');
  assert.equal(await send(client, 'carol@example.com', 'bob@example.com', 'The Boss <alice@example.com>'), '550 5.7.1');
  // The From field read as receivers read it for DMARC: no way to hide another author behind our own address.
  const tricks = [
    '<carol@example.com>, ceo@example.org', // a second author after our own
    'ceo@example.org (<carol@example.com>)', // our address in a comment
    '"<carol@example.com>"@example.org', // in a quoted local part
    'ceo@example.org (=?UTF-8?Q?<carol@example.com>?=)', // an encoded-word in a comment
    'Carol <carol@example.com> <ceo@example.org>', // two angle-addrs: parsers disagree on the author
    'carol@example.com ceo@example.org', // two addresses without a comma
    'ceo\\@example.org <carol@example.com>', // a backslash outside quotes quotes nothing: two "@"
  ];
  for (const from of tricks) {
    assert.equal(await send(client, 'carol@example.com', 'bob@example.com', from), '550 5.7.1', from);
  }
  // What is her own in any RFC 5322 spelling passes: quotes, comments and groups may hold an "@".
  const own = [
    '"carol@work" <carol@example.com>',
    "carol@example.com (sent from ceo@example.org's desk)",
    'Team: carol@example.com, c.smith@example.com;',
    '"Carol \\" (x@y)" <carol@example.com>',
  ];
  for (const from of own) {
    assert.equal(await send(client, 'carol@example.com', 'bob@example.com', from), '250 2.0.0', from);
  }
  // Two From fields, our own first: RFC 5322 §3.6 allows one.
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  const two = await client.command('From: carol@example.com\r\nFrom: ceo@example.org\r\nSubject: x\r\n\r\nhi\r\n.');
  assert.equal(codeOf(two), '550 5.7.1');
  assert.match(two.text, /more than one/);
  // The reply says what is wrong, not "more than one From field … is not owned by user …".
  assert.doesNotMatch(two.text, /not owned/);
  // No From field at all, or an empty one (RFC 5322 §3.6 requires it): nothing to check, so refused.
  for (const header of ['', 'From: \r\n', 'From:\r\n \r\n']) {
    assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
    assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
    assert.equal((await client.command('DATA')).code, 354);
    const none = await client.command(`${header}To: bob@example.com\r\nSubject: x\r\n\r\nhi\r\n.`);
    assert.equal(codeOf(none), '550 5.7.1', JSON.stringify(header));
    assert.match(none.text, /needs a From field with an address of user carol@example\.com/);
  }
  // A null sender does not make a user the postmaster: carol may not speak as MAILER-DAEMON or postmaster.
  const bounce = async (as: SmtpClient, from: string) => {
    assert.equal(codeOf(await as.command('MAIL FROM:<>')), '250 2.1.0');
    assert.equal(codeOf(await as.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
    assert.equal((await as.command('DATA')).code, 354);
    return codeOf(await as.command(`From: ${from}\r\nSubject: Undelivered Mail\r\n\r\nhi\r\n.`));
  };
  assert.equal(await bounce(client, 'Mail Delivery System <MAILER-DAEMON@app1.example.com>'), '550 5.7.1');
  assert.equal(await bounce(client, '"IT Support" <postmaster@example.com>'), '550 5.7.1');
  assert.equal(await bounce(client, 'carol@example.com'), '250 2.0.0', 'an auto-reply from her own address (RFC 3834)');
  // A host of ours relaying its bounces (auth.bounceRelays) may; another domain's MAILER-DAEMON still not.
  const { client: relay } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(relay);
  assert.equal(codeOf(await relay.command(`AUTH PLAIN ${plain('relay@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(await bounce(relay, 'Mail Delivery System <MAILER-DAEMON@app1.example.com>'), '250 2.0.0');
  assert.equal(await bounce(relay, 'postmaster@example.com'), '250 2.0.0');
  assert.equal(await bounce(relay, 'MAILER-DAEMON@bank.example'), '550 5.7.1');
  await relay.close();
  // With a sender, MAILER-DAEMON is an address like any other: not carol's.
  assert.equal(await send(client, 'carol@example.com', 'bob@example.com', 'MAILER-DAEMON@example.com'), '550 5.7.1');
  // A From field behind 240 KB of other fields is read too.
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  const padding = `X-Pad: ${'x'.repeat(900)}\r\n`.repeat(270); // under the 256 KiB header limit
  const far = await client.command(`${padding}From: ceo@example.org\r\nSubject: x\r\n\r\nhi\r\n.`);
  assert.equal(codeOf(far), '550 5.7.1');
  // Our own address, however written, passes.
  assert.equal(
    await send(client, 'carol@example.com', 'bob@example.com', '"Carol (desk)" <Carol@Example.com>'),
    '250 2.0.0',
  );
  await client.close();
});

test('SCRAM-SHA-256-PLUS with the tls-exporter channel binding (RFC 7677, RFC 9266)', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  const binding = client.tlsSocket!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const gs2 = 'p=tls-exporter,,';
  const clientNonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=carol@example.com,r=${clientNonce}`;
  const first = await client.command(`AUTH SCRAM-SHA-256-PLUS ${b64(gs2 + clientFirstBare)}`);
  assert.equal(first.code, 334);
  const serverFirst = Buffer.from(first.lines[0]!, 'base64').toString();
  const fields = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  assert.ok(fields.r!.startsWith(clientNonce));
  const salted = deriveSalted(PASSWORD, Buffer.from(fields.s!, 'base64'), Number(fields.i));
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const finalNoProof = `c=${b64(Buffer.concat([Buffer.from(gs2), binding]))},r=${fields.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${finalNoProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
  const last = await client.command(b64(`${finalNoProof},p=${proof.toString('base64')}`));
  assert.equal(last.code, 334, 'the server signature comes as a challenge');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const expected = createHmac('sha256', serverKey).update(authMessage).digest();
  const v = Buffer.from(Buffer.from(last.lines[0]!, 'base64').toString().replace(/^v=/, ''), 'base64');
  assert.ok(timingSafeEqual(v, expected), 'the server proves it knows the password too');
  assert.equal(codeOf(await client.command('')), '235 2.7.0');
  await client.close();
});

test('SCRAM: a proof answered by anything but the empty line ends in 535, not logged in nor logged as a login (RFC 4954 §4)', async (t) => {
  // Before, "login" was logged when the server-final message went out, before the client's answer.
  const own = await startTestServer({ log: { level: 'info' } });
  t.after(() => own.stop());
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await own.store.createAccount('carol@example.com', await hashPassword(PASSWORD), scram);
  const { client } = await SmtpClient.openTls(own.submissionsPort);
  await ehlo(client);
  const clientNonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=carol@example.com,r=${clientNonce}`;
  const first = await client.command(`AUTH SCRAM-SHA-256 ${b64(`n,,${clientFirstBare}`)}`);
  assert.equal(first.code, 334);
  const serverFirst = Buffer.from(first.lines[0]!, 'base64').toString();
  const fields = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  const salted = deriveSalted(PASSWORD, Buffer.from(fields.s!, 'base64'), Number(fields.i));
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const finalNoProof = `c=${b64('n,,')},r=${fields.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${finalNoProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
  const last = await client.command(b64(`${finalNoProof},p=${proof.toString('base64')}`));
  assert.equal(last.code, 334, 'the server signature comes as a challenge');
  assert.equal(codeOf(await client.command(b64('not empty'))), '535 5.7.8');
  const mail = await client.command('MAIL FROM:<carol@example.com>');
  assert.equal(mail.code, 530, 'not logged in');
  const logins = () => own.logs().filter((l) => String(l.msg).startsWith('login'));
  assert.deepEqual(
    logins().map((l) => [l.msg, l.user, l.code, l.enhanced]),
    [['login failed', 'carol@example.com', 535, '5.7.8']],
    'the line carries the numbers of the reply sent',
  );
  // And the same session can still log in properly, and is logged so once.
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.deepEqual(
    logins().map((l) => l.msg),
    ['login failed', 'login'],
  );
  await client.close();
});

test('brute force: failures from one address block it (454 4.7.0), the account itself stays usable', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  const codes: string[] = [];
  for (let i = 0; i < 6; i++)
    codes.push(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', 'guess')}`)));
  assert.deepEqual(codes.slice(0, 4), ['535 5.7.8', '535 5.7.8', '535 5.7.8', '535 5.7.8']);
  assert.equal(codes[4], '454 4.7.0', 'the fifth failure blocks the address');
  assert.equal(codes[5], '454 4.7.0', 'blocked, even with the right password next');
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '454 4.7.0');
  await client.close();
  // The block is per client address: the account is not locked for its owner elsewhere.
  assert.equal(await server.store.loginBlockedUntil('account:carol@example.com', new Date()), null);
  await server.store.clearLoginFailures('ip:127.0.0.1');
});

test('a client that resets the connection after a good STARTTLS handshake is no failed handshake in the log', async (t) => {
  const own = await startTestServer({ log: { level: 'info' } });
  t.after(() => own.stop());
  const { client: clear } = await SmtpClient.open(own.submissionPort);
  await ehlo(clear);
  assert.equal(codeOf(await clear.command('STARTTLS')), '220 2.0.0');
  const raw = clear.socket;
  const secured = await clear.startTls();
  await ehlo(secured);
  raw.resetAndDestroy(); // a TCP RST, as swaks --quit-after and many bots end
  const deadline = Date.now() + 2000;
  while (!own.logs().some((l) => l.msg === 'connection closed' || l.msg === 'disconnected') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(
    own.logs().filter((l) => l.msg === 'TLS handshake after STARTTLS failed').length,
    0,
    JSON.stringify(own.logs().map((l) => l.msg)),
  );
});

test('brute force in the log: a line per failed login with client and user, the block said once with its end', async (t) => {
  const own = await startTestServer({ auth: { failureDelayMs: 0, maxFailuresPerClient: 3 }, log: { level: 'info' } });
  t.after(() => own.stop());
  const { client } = await SmtpClient.openTls(own.submissionsPort);
  await ehlo(client);
  const codes: string[] = [];
  for (let i = 0; i < 3; i++) codes.push(codeOf(await client.command(`AUTH PLAIN ${plain(`u${i}@example.com`, 'x')}`)));
  assert.deepEqual(codes, ['535 5.7.8', '535 5.7.8', '454 4.7.0']);
  await client.close();
  const lines = own.logs().filter((l) => l.session !== undefined);
  assert.deepEqual(
    lines.map((l) => [l.level, l.user]),
    [
      [40, 'u0@example.com'],
      [40, 'u1@example.com'],
      [40, 'u2@example.com'],
    ],
    `one warning per failure, the reply not logged again: ${JSON.stringify(lines)}`,
  );
  for (const line of lines) assert.equal(line.client, '127.0.0.1');
  assert.match(String(lines[2]?.msg), /^login failed: .*; the client is blocked until \d{4}-/);
  assert.equal(lines[2]?.blockedUntil, String(lines[2]?.msg).split('until ')[1]);
});

test('brute force in parallel: guesses sent at once from one address are checked one at a time, none past the block', async (t) => {
  const own = await startTestServer({ auth: { failureDelayMs: 0, maxFailuresPerClient: 3 }, log: { level: 'info' } });
  t.after(() => own.stop());
  await own.store.createAccount('dave@example.com', await hashPassword(PASSWORD));
  const sessions = await Promise.all(
    Array.from({ length: 12 }, async () => {
      const { client } = await SmtpClient.openTls(own.submissionsPort);
      await ehlo(client);
      return client;
    }),
  );
  // Every guess written before any answer comes: before, all twelve passwords were checked (and so
  // would a right one among them have been, its quick 454 telling it apart).
  const codes = await Promise.all(
    sessions.map(async (client) => codeOf(await client.command(`AUTH PLAIN ${plain('dave@example.com', 'guess')}`))),
  );
  assert.deepEqual(codes.sort(), [...Array(10).fill('454 4.7.0'), ...Array(2).fill('535 5.7.8')]);
  const checked = own.logs().filter((line) => String(line.msg).startsWith('login failed'));
  assert.equal(checked.length, 3, `three passwords checked, the third blocking: ${JSON.stringify(checked)}`);
  const right = await SmtpClient.openTls(own.submissionsPort);
  await ehlo(right.client);
  assert.equal(codeOf(await right.client.command(`AUTH PLAIN ${plain('dave@example.com', PASSWORD)}`)), '454 4.7.0');
  await Promise.all([...sessions, right.client].map((client) => client.close()));
});

test('brute force: an exchange begun before the block cannot end in a login, and a login of ones own does not reset the count', async () => {
  await server.store.clearLoginFailures('ip:127.0.0.1');
  const guess = async (client: SmtpClient) =>
    codeOf(await client.command(`AUTH PLAIN ${plain('bob@example.com', 'guess')}`));
  // A LOGIN exchange left waiting at the password prompt, then the address gets blocked elsewhere.
  const { client: waiting } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(waiting);
  assert.equal((await waiting.command('AUTH LOGIN')).code, 334);
  assert.equal((await waiting.command(b64('carol@example.com'))).code, 334);
  const { client: guesser } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(guesser);
  for (let i = 0; i < 5; i++) await guess(guesser);
  assert.equal(codeOf(await waiting.command(b64(PASSWORD))), '454 4.7.0', 'the right password, but blocked meanwhile');
  await waiting.close();
  await guesser.close();
  await server.store.clearLoginFailures('ip:127.0.0.1');

  // Guesses at bob with carol's own logins in between: the count goes on (it was reset by each login).
  const codes: string[] = [];
  for (let round = 0; round < 3; round++) {
    const { client } = await SmtpClient.openTls(server.submissionsPort);
    await ehlo(client);
    codes.push(await guess(client), await guess(client));
    const own = await SmtpClient.openTls(server.submissionsPort);
    await ehlo(own.client);
    codes.push(codeOf(await own.client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)));
    await own.client.close();
    await client.close();
  }
  // Five failures block, whatever came between: the fifth guess is refused, and so is what follows.
  assert.deepEqual(codes, [
    '535 5.7.8',
    '535 5.7.8',
    '235 2.7.0',
    '535 5.7.8',
    '535 5.7.8',
    '235 2.7.0',
    '454 4.7.0',
    '454 4.7.0',
    '454 4.7.0',
  ]);
  await server.store.clearLoginFailures('ip:127.0.0.1');
});

test('port 25: STARTTLS offered, no AUTH ever; mail over TLS is recorded as ESMTPS', async () => {
  const { client: clear } = await SmtpClient.open(server.port);
  const offered = await ehlo(clear);
  assert.match(offered, /STARTTLS/);
  assert.doesNotMatch(offered, /AUTH/);
  // Commands pipelined behind STARTTLS are dropped, never run after the handshake (CVE-2011-0411).
  clear.send('STARTTLS\r\nMAIL FROM:<smuggled@example.net>\r\n');
  assert.equal(codeOf(await clear.read()), '220 2.0.0');
  const client = await clear.startTls();
  assert.equal(codeOf(await client.command('MAIL FROM:<a@example.net>')), '503 5.5.1', 'EHLO again first');
  const again = await ehlo(client);
  assert.doesNotMatch(again, /STARTTLS|AUTH/);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '503 5.5.1');
  assert.equal(await send(client, 'someone@example.net', 'bob@example.com'), '250 2.0.0');
  await client.close();
  const stored = (await server.inbox('bob@example.com')).at(-1)!.toString('latin1');
  assert.match(stored, /with ESMTPS id /);
});

test('TLS 1.1 and below are refused on every TLS listener (RFC 8996)', async () => {
  // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.0/1.1 at all; without it the client gives up on its own side.
  const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
  // The server's protocol_version alert: the refusal is ours, not the client's.
  const refusedByServer = (error: unknown) =>
    (error as NodeJS.ErrnoException).code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION';
  await assert.rejects(SmtpClient.openTls(server.submissionsPort, old), refusedByServer, '465');
  for (const [name, port] of [
    ['587', server.submissionPort],
    ['25', server.port],
  ] as const) {
    const { client } = await SmtpClient.open(port);
    assert.equal((await client.command('EHLO client.example.net')).code, 250);
    assert.equal(codeOf(await client.command('STARTTLS')), '220 2.0.0', name);
    await assert.rejects(client.startTls(old), refusedByServer, name);
  }
  // Control: TLS 1.2 from the same client settings is taken.
  const { client } = await SmtpClient.openTls(server.submissionsPort, { ...old, maxVersion: 'TLSv1.2' });
  await client.close();
});

function deriveSalted(password: string, salt: Buffer, iterations: number): Buffer {
  // RFC 5802 §2.2 Hi() is PBKDF2 with HMAC: computed here independently of the server's code.
  let u = createHmac('sha256', password)
    .update(Buffer.concat([salt, Buffer.from([0, 0, 0, 1])]))
    .digest();
  const out = Buffer.from(u);
  for (let i = 1; i < iterations; i++) {
    u = createHmac('sha256', password).update(u).digest();
    for (let j = 0; j < out.length; j++) out[j]! ^= u[j]!;
  }
  return out;
}

test('a logged-in user may send to another domain: the message waits in the outbound queue', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`);
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<friend@example.org>')), '250 2.1.5');
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: carol@example.com\r\nSubject: out\r\n\r\nbye\r\n.')), '250 2.0.0');
  await client.close();
  const jobs = await server.store.listJobs({ kind: 'outbound' });
  assert.equal(jobs.length, 1);
  const payload = JSON.parse(jobs[0]!.payload);
  assert.deepEqual(payload.recipients, ['friend@example.org'], 'only the foreign recipient is queued');
  assert.equal(payload.mailFrom, 'carol@example.com');
  const leaving = Buffer.from(payload.content, 'base64').toString();
  assert.match(leaving, /Subject: out/);
  // RFC 5321 §4.4: the copy that leaves starts with our Received; no Return-Path, and no
  // Authentication-Results saying who logged in (smtp.auth=carol@example.com).
  assert.match(leaving, /^Received: from /);
  assert.doesNotMatch(leaving, /^Return-Path:|^Authentication-Results:|smtp\.auth=/m);
  const local = (await server.inbox('alice@example.com')).at(-1)!.toString();
  assert.match(local, /Subject: out/, 'the local one is delivered');
  assert.match(local, /^Return-Path: <carol@example\.com>\r\n/, 'with the trace of a final delivery');
});

test('mail for an alias arrives in its account, and disabled accounts cannot log in', async () => {
  const { client } = await SmtpClient.open(server.port);
  await ehlo(client);
  assert.equal(await send(client, 'friend@example.net', 'c.smith@example.com'), '250 2.0.0');
  await client.close();
  assert.match((await server.inbox('carol@example.com')).at(-1)!.toString(), /To: c\.smith@example\.com/);
  await server.store.createAccount('dave@example.com', await hashPassword(PASSWORD));
  await server.store.setDisabled('dave@example.com', true);
  const { client: tls } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(tls);
  assert.equal(codeOf(await tls.command(`AUTH PLAIN ${plain('dave@example.com', PASSWORD)}`)), '535 5.7.8');
  await tls.close();
  await server.store.clearLoginFailures('ip:127.0.0.1');
});

test('an account disabled while its session is open can send no more in it (530 5.7.0)', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(await send(client, 'carol@example.com', 'bob@example.com'), '250 2.0.0');
  await server.store.setDisabled('carol@example.com', true);
  try {
    const refused = await client.command('MAIL FROM:<>');
    assert.equal(codeOf(refused), '530 5.7.0', 'not even the null sender');
    assert.match(refused.text, /account carol@example\.com is no longer active/);
  } finally {
    await server.store.setDisabled('carol@example.com', false);
    await client.close();
  }
});

test('an account disabled while its message is on the way: the message is refused as the account, not the From (554 5.7.0)', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  try {
    assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
    assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
    await server.store.setDisabled('carol@example.com', true);
    assert.equal(codeOf(await client.command('DATA')), '354');
    const refused = await client.command('From: carol@example.com\r\nSubject: late\r\n\r\nhi\r\n.');
    // It was "550 5.7.1 From header address <carol@example.com> is not owned by user carol@example.com".
    assert.equal(codeOf(refused), '554 5.7.0');
    assert.match(refused.text, /account carol@example\.com is no longer active/);
  } finally {
    await server.store.setDisabled('carol@example.com', false);
    await client.close();
  }
  assert.doesNotMatch((await server.inbox('bob@example.com')).at(-1)?.toString() ?? '', /Subject: late/);
});

test('an account removed and made again under the same name is not the one an open session logged in as', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(await server.store.removeAccount('carol@example.com'), true);
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD), scram);
  try {
    assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '530 5.7.0');
  } finally {
    await client.close();
  }
  // A new login is the new account's.
  const { client: again } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(again);
  assert.equal(codeOf(await again.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(codeOf(await again.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  await again.close();
});

test('TLS handshakes that fail or never end are logged with the session id and client, on 465 and after STARTTLS', async () => {
  const quick = await startTestServer({ smtp: { tlsHandshakeTimeoutMs: 300 }, log: { level: 'info' } });
  try {
    const silent = net.connect(quick.submissionsPort, '127.0.0.1').resume();
    const plaintext = net.connect(quick.submissionsPort, '127.0.0.1', () => plaintext.write('EHLO x\r\n')).resume();
    const closed = Promise.all([once(silent, 'close'), once(plaintext, 'close')]); // before either can close
    const { client } = await SmtpClient.open(quick.submissionPort);
    assert.equal((await client.command('EHLO client.example')).code, 250);
    assert.equal((await client.command('STARTTLS')).code, 220); // then nothing: no ClientHello
    await closed;
    await client.closed();
    const lines = quick.logs();
    const timeouts = lines.filter((l) => l.msg === 'timeout' && l.phase === 'tls-handshake');
    assert.equal(timeouts.length, 2, JSON.stringify(lines));
    const failed = lines.filter((l) => l.msg === 'TLS handshake failed');
    assert.equal(failed.length, 1);
    for (const line of [...timeouts, ...failed]) {
      assert.match(String(line.session), /^[0-9a-z]{10}$/);
      assert.equal(line.client, '127.0.0.1', 'the client, as every session line names it');
    }
    // OpenSSL's reason, not its error stack (hex codes, a source file path and a newline).
    assert.equal(failed[0]?.reason, 'wrong version number');
  } finally {
    await quick.stop();
  }
});

test('lines about connections that never became sessions are bounded: 20 a second, then counted', async () => {
  const quick = await startTestServer({ log: { level: 'info' } });
  try {
    const garbage = () => {
      const socket = net.connect(quick.submissionsPort, '127.0.0.1', () => socket.write('EHLO x\r\n')).resume();
      return once(socket, 'close');
    };
    await Promise.all(Array.from({ length: 60 }, garbage)); // plaintext on the implicit-TLS port
    await sleep(1100);
    await garbage();
    const failed = quick.logs().filter((l) => l.msg === 'TLS handshake failed');
    assert.ok(failed.length <= 21 + 20, `${failed.length} lines`);
    // The count is a line of its own, when the second ends (src/smtp/pre-session-log.ts).
    const counted = quick.logs().reduce((sum, l) => sum + (typeof l.notLogged === 'number' ? l.notLogged : 0), 0);
    assert.equal(failed.length + counted, 61, 'every failure is either logged or counted');
    assert.ok(counted > 0, 'some were only counted');
  } finally {
    await quick.stop();
  }
});

test('a login block written while the clock ran fast holds at most blockMinutes once the clock is set right', async (t) => {
  const own = await startTestServer({ auth: { failureDelayMs: 0, maxFailuresPerClient: 1, blockMinutes: 15 } });
  t.after(() => own.stop());
  // Recorded six hours "ahead" (a resumed VM before NTP stepped its clock back): blocked until then + 15 min.
  const ahead = new Date(Date.now() + 6 * 3_600_000);
  await own.store.recordLoginFailure('ip:127.0.0.1', {
    now: ahead,
    windowMs: 15 * 60_000,
    threshold: 1,
    blockMs: 15 * 60_000,
  });
  const { client } = await SmtpClient.openTls(own.submissionsPort);
  await ehlo(client);
  const refused = await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`);
  assert.equal(codeOf(refused), '454 4.7.0');
  const until = Date.parse(/try again after (\S+)/.exec(refused.text)?.[1] ?? '');
  assert.ok(until <= Date.now() + 15 * 60_000 + 1000, `blocked until ${new Date(until).toISOString()}, not hours on`);
  await client.close();
  // Not the reply alone: the stored block ends then too, so a client retrying after it gets in.
  const later = new Date(Date.now() + 16 * 60_000);
  assert.equal(await own.store.loginBlockedUntil('ip:127.0.0.1', later), null);
});

test('submission listeners leave the client and HELO restrictions to the login: a laptop EHLOs as it likes', async (t) => {
  const strict = await startTestServer({
    restrictions: { client: [{ rule: 'check_client_access', map: { '127.0.0.1': 'REJECT' } }] },
  });
  t.after(() => strict.stop());
  await strict.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
  // Port 25: the client list refuses 127.0.0.1 before the greeting.
  const { greeting: mx } = await SmtpClient.open(strict.port).catch((e) => ({ greeting: { code: String(e) } }));
  assert.equal(mx.code, 554);
  for (const implicit of [true, false]) {
    const { client, greeting } = implicit
      ? await SmtpClient.openTls(strict.submissionsPort)
      : await SmtpClient.open(strict.submissionPort);
    assert.equal(greeting.code, 220, 'the client list is not asked on submission');
    // Our own domain and hostname as EHLO names (msmtp's manual suggests the user's domain): refused on 25.
    for (const name of ['example.com', 'mx.example.com', '[127.0.0.1]']) {
      assert.equal((await client.command(`EHLO ${name}`)).code, 250, name);
    }
    assert.equal((await client.command('EHLO /dev/fd/63')).code, 250, "curl's name for its upload");
    await client.close();
  }
  const { client: port25 } = await SmtpClient.open(server.port);
  assert.equal(codeOf(await port25.command('EHLO example.com')), '550 5.7.1', 'reject_helo_own_identity on 25');
  await port25.close();
});

test('auth.exceptions: a shared address (an office NAT) is never blocked; the failures still count per account', async (t) => {
  const office = await startTestServer({
    auth: { failureDelayMs: 0, maxFailuresPerClient: 2, exceptions: ['127.0.0.0/8'] },
  });
  t.after(() => office.stop());
  await office.store.createAccount('carol@example.com', await hashPassword(PASSWORD));
  const { client } = await SmtpClient.openTls(office.submissionsPort);
  await ehlo(client);
  for (let i = 0; i < 4; i++) {
    assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('dave@example.com', `old ${i}`)}`)), '535 5.7.8');
  }
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  await client.close();
  const failures = await office.store.recordLoginFailure('account:dave@example.com', {
    now: new Date(),
    windowMs: 60_000,
    threshold: Number.MAX_SAFE_INTEGER,
    blockMs: 0,
  });
  assert.equal(failures.count, 5, "dave's four failures were counted (and this one)");
});

test('a channel-binding failure says so, and counts toward the block as any failed login: it costs the client nothing', async (t) => {
  const strict = await startTestServer({ auth: { failureDelayMs: 0, maxFailuresPerClient: 2 } });
  t.after(() => strict.stop());
  const { client } = await SmtpClient.openTls(strict.submissionsPort);
  await ehlo(client);
  // "y,,": the client could bind but believes the server cannot; on TLS 1.3 PLUS is offered (RFC 5802 §6).
  const downgrade = await client.command(`AUTH SCRAM-SHA-256 ${b64(`y,,n=carol@example.com,r=${'x'.repeat(24)}`)}`);
  assert.equal(codeOf(downgrade), '535 5.7.8');
  assert.match(downgrade.text, /5.7.8 Authentication failed: .*PLUS/);
  // tls-unique is not offered (RFC 9266 deprecates it for TLS 1.3); the second failure starts the block.
  const unique = await client.command(
    `AUTH SCRAM-SHA-256-PLUS ${b64(`p=tls-unique,,n=carol@example.com,r=${'y'.repeat(24)}`)}`,
  );
  assert.equal(codeOf(unique), '454 4.7.0', unique.text);
  assert.ok(await strict.store.loginBlockedUntil('ip:127.0.0.1', new Date()), 'two refusals, a block');
  // Blocked: even the right password is refused.
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '454 4.7.0');
  await client.close();
});

test("failed logins' lines keep to the client's log budget: a client never blocked (auth.exceptions) is summed up past it", async (t) => {
  const office = await startTestServer({
    auth: { failureDelayMs: 0, exceptions: ['127.0.0.0/8'] },
    smtp: { maxErrors: 1000, maxCommandsBeforeMail: 1000, softErrorLimit: 1000, errorSleepMs: 0 },
    log: { level: 'info' },
  });
  t.after(() => office.stop());
  const { client } = await SmtpClient.openTls(office.submissionsPort);
  await ehlo(client);
  // "n,," on PLUS: refused at the first message, no password needed; 110 of them, past the 100 a minute.
  for (let i = 0; i < 110; i++) {
    const refused = await client.command(`AUTH SCRAM-SHA-256-PLUS ${b64(`n,,n=alice@example.com,r=abc${i}`)}`);
    assert.equal(codeOf(refused), '535 5.7.8', refused.text);
  }
  assert.equal(codeOf(await client.command('QUIT')), '221 2.0.0');
  await client.close();
  await office.stopServer(); // the budget's summary is written as the server stops
  const lines = office.logs();
  const failed = lines.filter((l) => l.reason === 'binding');
  assert.equal(failed.length, 100, 'the budget: 100 lines a minute');
  assert.equal(failed[0]?.level, 40);
  assert.match(String(failed[0]?.msg), /^login failed: SCRAM-SHA-256-PLUS needs p=tls-exporter/);
  const summary = lines.find((l) => l.notLogged !== undefined);
  assert.equal(summary?.client, '127.0.0.1');
  assert.equal(summary?.notLogged, 10, 'every failure is either logged or counted');
  assert.equal(summary?.level, 40, 'warnings left out: the summary is one');
});

test('fields a client may not write are removed: Bcc (submission), Return-Path and our verdict (all mail)', async () => {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await ehlo(client);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('carol@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  for (const to of ['bob@example.com', 'far@example.net']) {
    assert.equal(codeOf(await client.command(`RCPT TO:<${to}>`)), '250 2.1.5');
  }
  assert.equal((await client.command('DATA')).code, 354);
  const header =
    'Return-Path: <ceo@example.org>\r\nFrom: carol@example.com\r\nTo: bob@example.com, far@example.net\r\n' +
    'bcc: hidden@example.com,\r\n secret@example.org\r\nRESENT-BCC: x@example.org\r\n' +
    'X-Postern-Verdict: clean; score=0\r\nSubject: stripped fields\r\n';
  assert.equal(codeOf(await client.command(`${header}\r\nhello\r\n.`)), '250 2.0.0');
  await client.close();
  const bob = await server.store.findAccount('bob@example.com');
  const inbox = await server.store.getMailbox(bob!.id, 'INBOX');
  const last = (await server.store.listMessages(inbox!.id)).at(-1)!;
  const stored = Buffer.from((await server.store.readMessage(inbox!.id, last.uid))!).toString('latin1');
  assert.match(stored, /^Return-Path: <carol@example\.com>\r\n/, 'our Return-Path, from the envelope');
  assert.equal(stored.match(/^return-path:/gim)?.length, 1, "the client's is gone");
  assert.doesNotMatch(stored, /^bcc:|^ secret@|^resent-bcc:|^x-postern-verdict:/im);
  assert.match(stored, /^Subject: stripped fields\r\n/m);
  const job = (await server.store.listJobs()).find((j) => j.payload.includes('far@example.net'))!;
  const queued = Buffer.from(JSON.parse(job.payload).content, 'base64').toString('latin1');
  assert.doesNotMatch(queued, /^bcc:|^ secret@|^return-path:/im, 'the copy for another domain has no Bcc either');

  // Port 25: a forged Return-Path and verdict go; a Bcc from another server is not ours to judge.
  const { client: mx } = await SmtpClient.open(server.port);
  assert.equal((await mx.command('EHLO relay.example.net')).code, 250);
  assert.equal(codeOf(await mx.command('MAIL FROM:<someone@example.net>')), '250 2.1.0');
  assert.equal(codeOf(await mx.command('RCPT TO:<bob@example.com>')), '250 2.1.5');
  assert.equal((await mx.command('DATA')).code, 354);
  const inbound =
    'Return-Path: <ceo@example.org>\r\nX-Postern-Signals: none\r\nFrom: someone@example.net\r\n' +
    'Bcc: bob@example.com\r\nSubject: from outside\r\n\r\nhi\r\n.';
  assert.equal(codeOf(await mx.command(inbound)), '250 2.0.0');
  await mx.close();
  const latest = (await server.store.listMessages(inbox!.id)).at(-1)!;
  const outside = Buffer.from((await server.store.readMessage(inbox!.id, latest.uid))!).toString('latin1');
  assert.match(outside, /^Return-Path: <someone@example\.net>\r\n/);
  assert.equal(outside.match(/^return-path:/gim)?.length, 1);
  assert.doesNotMatch(outside, /^x-postern-signals: none/im);
  assert.match(outside, /^Bcc: bob@example\.com\r\n/m);
});

test('SCRAM: a disabled account shows the salt it always had, and its login fails as a wrong password does', async () => {
  const saltOf = async (user: string) => {
    const { client } = await SmtpClient.openTls(server.submissionsPort);
    await ehlo(client);
    const first = await client.command(`AUTH SCRAM-SHA-256 ${b64(`n,,n=${user},r=${'n'.repeat(24)}`)}`);
    assert.equal(first.code, 334);
    await client.command('*'); // abort: no failure counted
    await client.close();
    return /(?:^|,)s=([^,]+)/.exec(Buffer.from(first.lines[0]!, 'base64').toString())![1];
  };
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await server.store.createAccount('dora@example.com', await hashPassword(PASSWORD), scram);
  const before = await saltOf('dora@example.com');
  await server.store.setDisabled('dora@example.com', true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await saltOf('dora@example.com'), before);
  await server.store.setDisabled('dora@example.com', false);
});

test('STARTTLS pipelined behind an error past the soft error limit: after the error sleep, the 220 and then TLS', {
  timeout: 15_000,
}, async (t) => {
  const sleepy = await startTestServer({ smtp: { softErrorLimit: 1, errorSleepMs: 200 } });
  t.after(() => sleepy.stop());
  const { client: clear } = await SmtpClient.open(sleepy.submissionPort);
  await ehlo(clear);
  assert.equal((await clear.command('BOGUS')).code, 500);
  clear.send('BOGUS\r\nSTARTTLS\r\n'); // RFC 2920: STARTTLS may end a pipelined group
  const [refused, ready] = await clear.readN(2);
  assert.equal(refused?.code, 500);
  assert.equal(codeOf(ready!), '220 2.0.0');
  const client = await clear.startTls();
  assert.match(await ehlo(client), /AUTH/, 'the session goes on over TLS');
  await client.close();
});

test('a session logged in as an account removed and made again under the same name cannot send: 530 at its next MAIL', async () => {
  // The new account is someone else's: before, SQLite gave it the removed account's id, which the session
  // compared with its login's, and the old session went on sending as the new owner of the address.
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await server.store.createAccount('erin@example.com', await hashPassword(PASSWORD), scram);
  await ehlo(client);
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain('erin@example.com', PASSWORD)}`)), '235 2.7.0');
  assert.equal(codeOf(await client.command('MAIL FROM:<erin@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RSET')), '250 2.0.0');
  assert.equal(await server.store.removeAccount('erin@example.com'), true);
  await server.store.createAccount('erin@example.com', await hashPassword('another password entirely'), scram);
  assert.equal(codeOf(await client.command('MAIL FROM:<erin@example.com>')), '530 5.7.0');
  await client.close();
});
