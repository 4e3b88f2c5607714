// Restrictions over the wire, against the real server and a real DNS server on loopback: pregreet,
// unauthorized pipelining, client and sender rules with real records and timeouts, DNSBL, limits,
// the tarpit, error sleep and VRFY. Every load loop is bounded.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../../src/accounts/password.ts';
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { startTestServer, TEST_PASSWORD_HASH, type TestOverrides, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

type Context = { after(fn: () => unknown): void };

/** A server with its own DNS zone (the defaults plus `records`), stopped after the test. */
async function serverWith(t: Context, overrides: TestOverrides, zone: Partial<TestZone> = {}, dnsTimeoutMs = 300) {
  const dns = await startTestDnsServer({
    records: { ...DEFAULT_TEST_ZONE.records, ...zone.records },
    timeout: zone.timeout,
    servfail: zone.servfail,
  });
  t.after(() => dns.close());
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: dnsTimeoutMs, tries: 1 },
    ...overrides,
  });
  t.after(() => server.stop());
  return server;
}

async function session(port: number): Promise<SmtpClient> {
  const { client, greeting } = await SmtpClient.open(port);
  assert.equal(greeting.code, 220, greeting.text);
  assert.equal((await client.command('EHLO client.example')).code, 250);
  return client;
}

test('pregreet: a client that talks before the greeting gets 554, then 503 to all but QUIT', async (t) => {
  const server = await serverWith(t, { smtp: { greetDelayMs: 300 } });
  const client = await SmtpClient.connect(server.port);
  client.send('EHLO early.example\r\n');
  const greeting = await client.read();
  assert.equal(codeOf(greeting), '554 5.5.1');
  assert.match(greeting.text, /talked before the greeting/);
  assert.equal((await client.read()).code, 503, 'the early EHLO');
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 503);
  assert.equal((await client.command('QUIT')).code, 221);
  await client.closed();
});

test('pregreet in warn-only mode lets the client in; a patient client waits out the greet delay', async (t) => {
  const server = await serverWith(t, {
    smtp: { greetDelayMs: 250 },
    restrictions: { client: ['warn_if_reject reject_pregreet'] },
  });
  const early = await SmtpClient.connect(server.port);
  early.send('EHLO early.example\r\n');
  assert.equal((await early.read()).code, 220);
  assert.equal((await early.read()).code, 250);
  await early.close();
  const started = Date.now();
  const { greeting, client } = await SmtpClient.open(server.port);
  assert.equal(greeting.code, 220);
  assert.ok(Date.now() - started >= 200, 'the greeting waited for the delay');
  await client.close();
});

test('pregreet: bytes sent while a slow DNS list still runs come before the greeting too', async (t) => {
  const server = await serverWith(
    t,
    { smtp: { greetDelayMs: 50 }, restrictions: { client: ['reject_pregreet', 'reject_rbl_client bl.example'] } },
    { timeout: ['1.0.0.127.bl.example'] },
    600,
  );
  const early = await SmtpClient.connect(server.port);
  await sleep(250); // past the greet delay, before the list's lookup times out
  early.send('EHLO early.example\r\n');
  const greeting = await early.read();
  assert.equal(codeOf(greeting), '554 5.5.1', greeting.text);
  assert.match(greeting.text, /talked before the greeting/);
  await early.close();
  const { greeting: patient, client } = await SmtpClient.open(server.port);
  assert.equal(patient.code, 220, 'a client that waits is greeted once the list gives up');
  await client.close();

  // A permit after reject_pregreet does not exempt the early talker; only one before it would.
  const permitAfter = await serverWith(
    t,
    {
      smtp: { greetDelayMs: 50 },
      mynetworks: ['127.0.0.1/32'],
      restrictions: { client: ['reject_pregreet', 'reject_rbl_client bl.example', 'permit_mynetworks'] },
    },
    { timeout: ['1.0.0.127.bl.example'] },
    600,
  );
  const talker = await SmtpClient.connect(permitAfter.port);
  await sleep(250);
  talker.send('EHLO early.example\r\n');
  assert.equal(codeOf(await talker.read()), '554 5.5.1');
  await talker.close();
});

test('reject_unauth_pipelining: commands ahead of replies without EHLO, or content sent with DATA', async (t) => {
  const server = await serverWith(t, {});
  const helo = await SmtpClient.open(server.port);
  assert.equal((await helo.client.command('HELO client.example')).code, 250);
  helo.client.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  assert.deepEqual((await helo.client.readN(3)).map(codeOf), ['250 2.1.0', '250 2.1.5', '503 5.5.0']);
  await helo.client.close();

  const ehlo = await session(server.port);
  ehlo.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  assert.deepEqual(
    (await ehlo.readN(3)).map((r) => r.code),
    [250, 250, 354],
    'after EHLO, DATA may end a pipelined group',
  );
  assert.equal((await ehlo.command('From: a@example.net\r\nSubject: ok\r\n\r\nfine\r\n.')).code, 250);
  ehlo.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: early\r\n\r\nx\r\n.\r\n');
  const replies = await ehlo.readN(3);
  assert.equal(codeOf(replies[2]!), '503 5.5.0', 'content sent before the 354 is refused');
  await ehlo.close();
  assert.equal((await server.inbox('alice@example.com')).length, 1);
});

test('client rules with real DNS: PTR/A mismatch refused at the greeting; a timeout defers with 421', async (t) => {
  const mismatch = await serverWith(
    t,
    { restrictions: { client: ['reject_unknown_client_hostname'] }, log: { level: 'info' } },
    { records: { '127.0.0.1': { PTR: ['liar.example'] }, 'liar.example': { A: ['192.0.2.66'] } } },
  );
  const { client, greeting } = await SmtpClient.open(mismatch.port);
  // RFC 5321 §3.1, §4.3.2: a greeting is 220, 554 or 421; the rule's 550 goes out as 554, its 5.7.25 kept.
  assert.equal(codeOf(greeting), '554 5.7.25');
  assert.match(greeting.text, /cannot find your hostname, \[127\.0\.0\.1\]/);
  const logged = mismatch.logs().find((l) => l.rule === 'reject_unknown_client_hostname');
  assert.equal(logged?.code, 554, 'logged as sent');
  await client.close();

  const slow = await serverWith(
    t,
    { restrictions: { client: ['reject_unknown_client_hostname'] } },
    { timeout: ['127.0.0.1'] },
  );
  const late = await SmtpClient.open(slow.port);
  assert.equal(codeOf(late.greeting), '421 4.7.25', 'a DNS timeout is temporary: 4xx, never accept, never 5xx');
  await late.client.closed();
});

test("Received names the client's forward-confirmed DNS name, and only its address without one", async (t) => {
  const message = 'From: <a@example.net>\r\nSubject: trace\r\n\r\nx\r\n';
  const confirmed = await serverWith(
    t,
    {},
    { records: { '127.0.0.1': { PTR: ['mx.client.example'] }, 'mx.client.example': { A: ['127.0.0.1'] } } },
  );
  assert.equal((await sendToAlice(confirmed, 'a@example.net', message)).code, 250);
  const [named] = await aliceMailbox(confirmed, 'INBOX');
  assert.match(named ?? '', /^Received: from client\.example \(mx\.client\.example \[127\.0\.0\.1\]\)\r\n/m);

  const liar = await serverWith(
    t,
    {},
    { records: { '127.0.0.1': { PTR: ['liar.example'] }, 'liar.example': { A: ['192.0.2.66'] } } },
  );
  assert.equal((await sendToAlice(liar, 'a@example.net', message)).code, 250);
  const [unconfirmed] = await aliceMailbox(liar, 'INBOX');
  assert.match(unconfirmed ?? '', /^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n/m, 'PTR alone is a claim');

  const slow = await serverWith(t, {}, { timeout: ['127.0.0.1'] });
  assert.equal((await sendToAlice(slow, 'a@example.net', message)).code, 250, 'a DNS timeout only leaves the name out');
  const [timedOut] = await aliceMailbox(slow, 'INBOX');
  assert.match(timedOut ?? '', /^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n/m);
});

test('a client that resets the connection before its message is stored: nothing is stored (it never heard 250)', async (t) => {
  // The PTR lookup for Received times out (2 s from MAIL FROM): the message waits for it after the final dot.
  const server = await serverWith(t, { log: { level: 'info' } }, { timeout: ['127.0.0.1'] }, 2000);
  const client = await session(server.port);
  for (const command of ['MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>']) {
    assert.equal((await client.command(command)).code, 250);
  }
  assert.equal((await client.command('DATA')).code, 354);
  client.send('From: <a@example.net>\r\nSubject: gone\r\n\r\nx\r\n.\r\n');
  await sleep(50);
  // A reset: a FIN alone may be a half-close, whose client still reads the 250 (test/smtp/conversation.test.ts).
  client.socket.resetAndDestroy();
  await client.closed();
  await sleep(2500);
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), [], 'the client sends it again: storing it would make two');
  assert.ok(server.logs().some((line) => line.msg === 'client gone before the message was stored: not stored'));
});

test('reject_rbl_client: a listed client hears the listing and its TXT', async (t) => {
  const server = await serverWith(
    t,
    { restrictions: { client: ['reject_rbl_client dnsbl.example'] } },
    { records: { '1.0.0.127.dnsbl.example': { A: ['127.0.0.2'], TXT: ['listed for testing'] } } },
  );
  const { client, greeting } = await SmtpClient.open(server.port);
  assert.equal(codeOf(greeting), '554 5.7.1');
  assert.match(greeting.text, /Client host \[127\.0\.0\.1\] blocked using dnsbl\.example; listed for testing/);
  await client.close();
});

test('a client refused at connection is logged once, not once per command it sends after', async (t) => {
  const server = await serverWith(
    t,
    { restrictions: { client: ['reject_rbl_client dnsbl.example'] }, log: { level: 'info' } },
    { records: { '1.0.0.127.dnsbl.example': { A: ['127.0.0.2'], TXT: ['listed for testing'] } } },
  );
  const { client, greeting } = await SmtpClient.open(server.port);
  assert.equal(greeting.code, 554);
  for (const command of ['EHLO client.example', 'MAIL FROM:<a@example.net>', 'RCPT TO:<alice@example.com>']) {
    assert.equal((await client.command(command)).code, 503);
  }
  assert.equal((await client.command('QUIT')).code, 221);
  await client.closed();
  const lines = server.logs().filter((line) => line.session !== undefined);
  assert.deepEqual(
    lines.map((line) => line.msg),
    ['restriction rejected'],
    `one line, with the rule and the reason: ${JSON.stringify(lines)}`,
  );
  assert.equal(lines[0]?.client, '127.0.0.1');
  assert.equal(lines[0]?.rule, 'reject_rbl_client dnsbl.example');
});

test('a refused recipient is one line: the rule, the reply and the reason, with session and client', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  const client = await session(server.port);
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
  for (const user of ['nobody', 'noone']) {
    assert.equal(codeOf(await client.command(`RCPT TO:<${user}@example.com>`)), '550 5.1.1');
  }
  await client.close();
  const lines = server.logs().filter((line) => line.session !== undefined);
  assert.deepEqual(
    lines.map((line) => [line.msg, line.reason]),
    [
      ['restriction rejected', 'no account nobody@example.com'],
      ['restriction rejected', 'no account noone@example.com'],
    ],
    `the 550 itself is not logged again: ${JSON.stringify(lines)}`,
  );
  assert.equal(lines[0]?.client, '127.0.0.1');
  assert.match(String(lines[0]?.reply), /^5\.1\.1 <nobody@example\.com>: Recipient address rejected/);
});

test('reject_rbl_client: a list that times out does not hold mail up; the skip is logged as a warning', async (t) => {
  const server = await serverWith(
    t,
    { restrictions: { client: ['reject_rbl_client dnsbl.example'] }, log: { level: 'warn' } },
    { timeout: ['1.0.0.127.dnsbl.example'] },
  );
  const { client, greeting } = await SmtpClient.open(server.port);
  assert.equal(greeting.code, 220, greeting.text);
  await client.close();
  const warning = server.logs().find((line) => line.msg === 'restriction could not decide; skipped');
  assert.ok(warning, 'a warning names the skipped rule');
  assert.equal(warning.rule, 'reject_rbl_client dnsbl.example');
  assert.match(String(warning.reason), /^DNSBL dnsbl\.example: lookup of 1\.0\.0\.127\.dnsbl\.example failed/);
});

test('sender domains: unknown refused, null MX refused, a DNS timeout deferred, <> allowed', async (t) => {
  const server = await serverWith(
    t,
    {},
    {
      records: { 'nullmx.example': { MX: [{ priority: 0, exchange: '.' }] } },
      timeout: ['slow.example'],
    },
  );
  const client = await session(server.port);
  const mail = async (sender: string) => {
    const r = await client.command(`MAIL FROM:<${sender}>`);
    if (r.code === 250) await client.command('RSET');
    return codeOf(r);
  };
  assert.equal(await mail('a@nowhere.example'), '550 5.1.8');
  assert.equal(await mail('a@nullmx.example'), '550 5.7.27');
  assert.equal(await mail('a@slow.example'), '450 4.1.8');
  assert.equal(await mail('a@localhost'), '504 5.5.2');
  assert.equal(await mail(''), '250 2.1.0');
  assert.equal(await mail('a@example.net'), '250 2.1.0');
  await client.close();
});

test('per-client limits: concurrency, message and recipient rates', async (t) => {
  const server = await serverWith(t, {
    limits: { maxConnectionsPerClient: 2, messagesPerMinute: 2, recipientsPerMinute: 3, exceptions: [] },
    tarpit: { enabled: false },
  });
  const first = await session(server.port);
  const second = await SmtpClient.open(server.port);
  const third = await SmtpClient.open(server.port);
  assert.equal(codeOf(third.greeting), '421 4.7.0');
  assert.match(third.greeting.text, /too many connections from 127\.0\.0\.1/);
  await third.client.closed();
  await second.client.close();
  const codes: string[] = [];
  for (let i = 0; i < 3; i++) {
    codes.push(codeOf(await first.command('MAIL FROM:<a@example.net>')));
    await first.command('RSET');
  }
  assert.deepEqual(codes, ['250 2.1.0', '250 2.1.0', '450 4.7.1']);
  await first.close();

  const rcpts = await serverWith(t, { limits: { recipientsPerMinute: 3, exceptions: [] }, tarpit: { enabled: false } });
  const client = await session(rcpts.port);
  await client.command('MAIL FROM:<a@example.net>');
  const got: number[] = [];
  for (let i = 0; i < 4; i++) got.push((await client.command('RCPT TO:<alice@example.com>')).code);
  assert.deepEqual(got, [250, 250, 250, 450]);
  await client.close();
});

test('limits.messagesPerMinute holds a logged-in submission client too, as Postfix counts SASL clients', async (t) => {
  const server = await serverWith(t, {
    limits: { messagesPerMinute: 2, recipientsPerMinute: 100, exceptions: [] },
    tarpit: { enabled: false },
    log: { level: 'info' },
  });
  const password = 'correct horse battery staple';
  await server.store.createAccount('carol@example.com', await hashPassword(password));
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  await client.command('EHLO client.example');
  const plain = Buffer.from(`\0carol@example.com\0${password}`).toString('base64');
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${plain}`)), '235 2.7.0');
  const codes: string[] = [];
  for (let i = 0; i < 3; i++) {
    codes.push(codeOf(await client.command('MAIL FROM:<carol@example.com>')));
    await client.command('RSET');
  }
  assert.deepEqual(codes, ['250 2.1.0', '250 2.1.0', '450 4.7.1'], 'a stolen password sends no faster than a stranger');
  await client.close();
  const limited = server.logs().find((l) => l.rule === 'smtpd_client_message_rate_limit');
  assert.match(String(limited?.reason), /message rate: 3 per minute, limit 2/);
});

test('error sleep spares the 452s of recipients over the limit, which are not errors (Postfix overshoot)', async (t) => {
  const server = await serverWith(t, {
    smtp: { maxRecipients: 2, softErrorLimit: 1, errorSleepMs: 1000 },
    tarpit: { enabled: false },
    log: { level: 'info' },
  });
  const client = await session(server.port);
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
  for (const to of ['alice', 'bob']) assert.equal((await client.command(`RCPT TO:<${to}@example.com>`)).code, 250);
  const started = Date.now();
  for (let i = 0; i < 6; i++) assert.equal(codeOf(await client.command('RCPT TO:<carol@example.com>')), '452 4.5.3');
  // Each counted as an error past softErrorLimit 1 would have waited a second: six seconds in all.
  assert.ok(Date.now() - started < 1500, `six 452s took ${Date.now() - started} ms`);
  await client.close();
  // Not errors, but refusals all the same: each is logged with its session, as every reply ≥ 400 is.
  const logged = server.logs().filter((line) => line.code === 452 && typeof line.session === 'string');
  assert.equal(logged.length, 6);
});

test('tarpit and error sleep: a client that keeps failing waits longer for its replies', async (t) => {
  const rejectionTimes = async (server: TestServer) => {
    const client = await session(server.port);
    await client.command('MAIL FROM:<a@example.net>');
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      assert.equal((await client.command('RCPT TO:<nobody@example.com>')).code, 550);
      times.push(Date.now() - started);
    }
    await client.close();
    return times;
  };
  const tarpit = { threshold: 2, stepMs: 300, maxMs: 1000 };
  const times = await rejectionTimes(await serverWith(t, { tarpit, smtp: { softErrorLimit: 100 } }));
  assert.ok(times[0]! < 250 && times[1]! < 250, `the first rejections are quick: ${times}`);
  assert.ok(times[3]! >= 280, `later rejections are tarpitted: ${times}`);
  // Clients in limits.exceptions (mynetworks when absent) are never slowed down.
  const trusted = await rejectionTimes(
    await serverWith(t, { tarpit, smtp: { softErrorLimit: 100 }, limits: { exceptions: ['127.0.0.0/8'] } }),
  );
  assert.ok(
    trusted.every((ms) => ms < 250),
    `a client in limits.exceptions is not tarpitted: ${trusted}`,
  );

  const sleepy = await serverWith(t, { smtp: { softErrorLimit: 2, errorSleepMs: 300 }, tarpit: { enabled: false } });
  const noisy = await session(sleepy.port);
  const errorTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    assert.equal((await noisy.command('BOGUS')).code, 500);
    errorTimes.push(Date.now() - started);
  }
  assert.ok(errorTimes[0]! < 250 && errorTimes[2]! >= 280, `the third error waits: ${errorTimes}`);
  await noisy.close();
});

test('VRFY: off answers 502, on answers 250/550/252 and is rate-limited', async (t) => {
  const off = await serverWith(t, {});
  const client = await session(off.port);
  assert.equal(codeOf(await client.command('VRFY alice@example.com')), '502 5.5.1');
  await client.close();

  const on = await serverWith(t, { smtp: { vrfy: 'on' }, limits: { vrfyPerMinute: 3, exceptions: [] } });
  const asker = await session(on.port);
  assert.equal(codeOf(await asker.command('VRFY <alice@example.com>')), '250 2.1.5');
  assert.equal(codeOf(await asker.command('VRFY nobody@example.com')), '550 5.1.1');
  assert.equal(codeOf(await asker.command('VRFY someone@example.org')), '252 2.0.0');
  assert.equal(codeOf(await asker.command('VRFY alice@example.com')), '450 4.7.1');
  await asker.close();
});

test('reject_multi_recipient_bounce at DATA; greylisting defers the first attempt, passes the retry', async (t) => {
  const server = await serverWith(t, {
    restrictions: { data: ['reject_multi_recipient_bounce'] },
    greylisting: { enabled: true, delaySeconds: 1 },
  });
  const client = await session(server.port);
  assert.equal((await client.command('MAIL FROM:<>')).code, 250);
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '450 4.7.1', 'greylisted');
  await sleep(1100);
  assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250, 'the retry after the delay');
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 450, 'a new triplet is greylisted');
  await sleep(1100);
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
  assert.equal(codeOf(await client.command('DATA')), '550 5.5.3', 'a bounce for two recipients');
  await client.close();
});

const unlistedShapes: [string, TestOverrides['restrictions']][] = [
  [
    '[permit_mynetworks, reject_unauth_destination]',
    { relay: [], recipient: ['permit_mynetworks', 'reject_unauth_destination'] },
  ],
  ['[reject_non_fqdn_recipient]', { recipient: ['reject_non_fqdn_recipient'] }],
];
for (const [shape, restrictions] of unlistedShapes) {
  test(`greylisting never defers an unknown local user, whose 550 comes at once (recipient list ${shape})`, async (t) => {
    // Lists without reject_unlisted_recipient: the routing step refuses unknown users, after the list.
    const server = await serverWith(t, { restrictions, greylisting: { enabled: true, delaySeconds: 1 } });
    const client = await session(server.port);
    assert.equal((await client.command('MAIL FROM:<bot@example.net>')).code, 250);
    for (const guess of ['nobody', 'admin', 'info']) {
      assert.equal(codeOf(await client.command(`RCPT TO:<${guess}@example.com>`)), '550 5.1.1', guess);
    }
    assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '450 4.7.1', 'a real user is greylisted');
    await sleep(1100);
    assert.equal(codeOf(await client.command('RCPT TO:<nobody@example.com>')), '550 5.1.1', 'the retry too');
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
    await client.close();
    // No triplet was stored for a guess, so none counts toward the client's pass-list.
    const db = new DatabaseSync(path.join(server.dataDir, DATABASE_FILE_NAME), { readOnly: true });
    const triplets = db.prepare('SELECT triplet FROM greylist ORDER BY triplet').all();
    db.close();
    assert.deepEqual(
      triplets.map((row) => row.triplet),
      ['127.0.0.0/24/bot@example.net/alice@example.com'],
    );
  });
}

test('a stranger greeting with our own hostname or address is refused by default', async (t) => {
  const server = await serverWith(t, { serverAddresses: ['192.0.2.25'] });
  const { client } = await SmtpClient.open(server.port);
  assert.equal(codeOf(await client.command('EHLO mx.example.com')), '550 5.7.1');
  assert.equal(codeOf(await client.command('EHLO [192.0.2.25]')), '550 5.7.1');
  assert.equal(codeOf(await client.command('EHLO 192.0.2.25')), '550 5.7.1', 'ours, written bare');
  // A bare address of its own passes the default list, as Postfix's reject_invalid_helo_hostname lets it.
  assert.equal((await client.command('EHLO 192.0.2.1')).code, 250);
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
  await client.command('RSET');
  assert.equal((await client.command('EHLO client.example')).code, 250);
  await client.close();
  const trusted = await serverWith(t, { mynetworks: ['127.0.0.0/8'] });
  const local = await SmtpClient.open(trusted.port);
  assert.equal((await local.client.command('EHLO mx.example.com')).code, 250, 'mynetworks may use our name');
  await local.client.close();
});

test('reject_multi_recipient_bounce at RCPT refuses the second recipient of a bounce, as Postfix does', async (t) => {
  const server = await serverWith(t, {
    restrictions: { recipient: ['reject_multi_recipient_bounce', 'reject_unlisted_recipient'] },
  });
  const client = await session(server.port);
  assert.equal((await client.command('MAIL FROM:<>')).code, 250);
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '250 2.1.5');
  const second = await client.command('RCPT TO:<bob@example.com>');
  assert.equal(codeOf(second), '550 5.5.3');
  assert.match(second.text, /<bob@example\.com>: Recipient address rejected: Multi-recipient bounce/);
  // A message with a sender may have many.
  await client.command('RSET');
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
  assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
  await client.close();
});

test('a store with no account at all defers unknown recipients (451 4.3.0) instead of bouncing them', async (t) => {
  // An empty store is what a data directory that did not mount looks like: a 550 would bounce the mail
  // of every sender, a 4xx keeps it queued at the sender until the real store is back (RFC 5321 §4.2.1, §4.5.4.1).
  const server = await serverWith(t, {});
  await server.store.removeAccount('alice@example.com');
  await server.store.removeAccount('bob@example.com');
  const client = await session(server.port);
  assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
  const deferred = await client.command('RCPT TO:<alice@example.com>');
  assert.equal(deferred.code, 451, deferred.text);
  assert.match(
    deferred.text,
    /^451 4\.3\.0 <alice@example\.com>: Temporary lookup failure: the local recipient table is empty/,
  );
  // With an account in the store, a user it lacks is unknown again: 550.
  await server.store.createAccount('carol@example.com', TEST_PASSWORD_HASH);
  const refused = await client.command('RCPT TO:<alice@example.com>');
  assert.equal(refused.code, 550, refused.text);
  assert.match(refused.text, /^550 5\.1\.1 /);
  assert.equal((await client.command('RCPT TO:<carol@example.com>')).code, 250);
  await client.close();
});

test('the empty-store 451 holds whatever the recipient list holds: none, or a permit before reject_unlisted_recipient', async (t) => {
  for (const recipient of [[], ['permit_mynetworks', 'reject_unlisted_recipient']]) {
    const server = await serverWith(t, { restrictions: { recipient }, mynetworks: ['127.0.0.0/8'] });
    await server.store.removeAccount('alice@example.com');
    await server.store.removeAccount('bob@example.com');
    const client = await session(server.port);
    assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
    const deferred = await client.command('RCPT TO:<alice@example.com>');
    assert.match(
      deferred.text,
      /^451 4\.3\.0 <alice@example\.com>: Temporary lookup failure/,
      JSON.stringify(recipient),
    );
    await client.close();
  }
});

test('greet delay: one client cannot fill maxConnections with connections waiting for their greeting', async (t) => {
  const server = await serverWith(t, {
    smtp: { greetDelayMs: 500, maxConnections: 10 },
    limits: { maxConnectionsPerClient: 2 },
  });
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const firstLine = (localAddress: string) =>
    new Promise<string>((resolve) => {
      const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress });
      sockets.push(s);
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        text += d;
        if (text.includes('\r\n')) resolve(text.split('\r\n')[0]!);
      });
      s.on('error', (e) => resolve(`error ${e.message}`));
    });
  const flood = Array.from({ length: 10 }, () => firstLine('127.0.0.1'));
  await sleep(100);
  assert.match(await firstLine('127.0.0.2'), /^220 /, 'another client still gets a slot');
  const lines = await Promise.all(flood);
  assert.equal(lines.filter((l) => l.startsWith('220 ')).length, 2);
  assert.equal(lines.filter((l) => /^421 4\.7\.0 .*too many connections from 127\.0\.0\.1/.test(l)).length, 8);
});
