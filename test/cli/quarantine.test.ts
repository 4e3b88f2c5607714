// `postern quarantine` as admins run it: bin/postern in a child process over a store the test fills
// through the Store API (the SMTP path that quarantines is wired elsewhere), exit codes and output.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { type NewQuarantined, OUTBOUND_JOB, type Store } from '../../src/store/store.ts';
import { quarantinedMessage, SAMPLE_VERDICT } from '../store/quarantine-contract.ts';
import { addUser, configDir, POSTERN, postern, ROOT } from '../support/child-server.ts';

type Context = { after(fn: () => unknown): void };

process.env.COLUMNS = '120'; // the width `list` fits its table to off a terminal; the children inherit it

function setup(t: Context) {
  const d = configDir();
  t.after(() => d.cleanup());
  const run = (...args: string[]) => postern([...args, '--config', d.file]);
  const withStore = async <T>(work: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openSqliteStore({ dataDir: path.join(d.root, 'data') });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };
  const hold = (...messages: NewQuarantined[]) =>
    withStore(async (store) => {
      const ids: number[] = [];
      for (const message of messages) ids.push((await store.quarantine(message)).id);
      return ids;
    });
  return { ...d, run, withStore, hold };
}

/** bin/postern with stdout as bytes: `show --raw` must print the stored message exactly. */
function posternBytes(args: string[]): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve) => {
    execFile(POSTERN, args, { cwd: ROOT, timeout: 20_000, encoding: 'buffer' }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout });
    });
  });
}

test('quarantine list: empty, then a table newest first, --json and --limit', async (t) => {
  const { run, hold } = setup(t);
  const empty = await run('quarantine', 'list');
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, 'the quarantine is empty\n');

  const [first, second] = await hold(
    quarantinedMessage('Verify your account'),
    quarantinedMessage('Your parcel is waiting', {
      receivedAt: new Date('2025-03-02T08:30:00Z'),
      recipients: ['bob@example.com'],
      verdict: { ...SAMPLE_VERDICT, score: 7, category: 'subscription' },
    }),
  );
  const [table, json, limited] = await Promise.all([
    run('quarantine', 'list'),
    run('quarantine', 'list', '--json'),
    run('quarantine', 'list', '--json', '--limit', '1'),
  ]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  // 120 columns when not on a terminal: from, to and subject share what the fixed columns leave.
  // Expiry: the day filter.quarantine.retentionDays (30 by default) runs out.
  assert.deepEqual(lines, [
    'id  date (UTC)        expires     from                to                score  category      subject',
    ` ${second}  2025-03-02 08:30  2025-04-01  service@paypa1.co…  bob@example.com     7.0  subscription  Your parcel is waiting`,
    ` ${first}  2025-03-01 12:00  2025-03-31  service@paypa1.co…  bob@example.co…    12.5  bank          Verify your account`,
  ]);
  assert.ok(
    lines.every((line) => Array.from(line).length <= 120),
    'fits the default width of 120',
  );

  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [
    {
      id: second,
      receivedAt: '2025-03-02T08:30:00.000Z',
      mailFrom: 'bounce@paypa1.com',
      recipients: ['bob@example.com'],
      from: 'Банк <service@paypa1.com>',
      subject: 'Your parcel is waiting',
      size: quarantinedMessage('Your parcel is waiting').content.byteLength,
      score: 7,
      category: 'subscription',
      reason: SAMPLE_VERDICT.reason,
      expiresAt: '2025-04-01T08:30:00.000Z',
    },
    {
      id: first,
      receivedAt: '2025-03-01T12:00:00.123Z',
      mailFrom: 'bounce@paypa1.com',
      recipients: ['bob@example.com', 'carol@example.org'],
      from: 'Банк <service@paypa1.com>',
      subject: 'Verify your account',
      size: quarantinedMessage('Verify your account').content.byteLength,
      score: 12.5,
      category: 'bank',
      reason: SAMPLE_VERDICT.reason,
      expiresAt: '2025-03-31T12:00:00.123Z',
    },
  ]);
  assert.deepEqual(
    (JSON.parse(limited.stdout) as { id: number }[]).map((e) => e.id),
    [second],
  );
  // The hint that more exist only when more do: not for exactly the limit.
  const [one, two] = await Promise.all([
    run('quarantine', 'list', '--limit', '1'),
    run('quarantine', 'list', '--limit', '2'),
  ]);
  assert.match(one.stdout, /\(the newest 1; --limit N shows more\)\n$/);
  assert.doesNotMatch(two.stdout, /shows more/);
});

test('quarantine list: each entry expires filter.quarantine.retentionDays after it arrived', async (t) => {
  const d = configDir({ filter: { phishing: { enabled: false }, quarantine: { retentionDays: 7 } } });
  t.after(() => d.cleanup());
  const store = await openSqliteStore({ dataDir: path.join(d.root, 'data') });
  try {
    await store.quarantine(quarantinedMessage('late at night', { receivedAt: new Date('2025-12-28T23:59:00Z') }));
  } finally {
    await store.close();
  }
  const [table, json] = await Promise.all([
    postern(['quarantine', 'list', '--config', d.file]),
    postern(['quarantine', 'list', '--json', '--config', d.file]),
  ]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^id {2}date \(UTC\) {8}expires {5}from/);
  assert.match(table.stdout, /\n 1 {2}2025-12-28 23:59 {2}2026-01-04 {2}service@/, 'seven days later, across the year');
  assert.equal((JSON.parse(json.stdout) as { expiresAt: string }[])[0]?.expiresAt, '2026-01-04T23:59:00.000Z');
});

test('quarantine show: the verdict with every signal in English or Russian, then the headers; --raw is the stored bytes', async (t) => {
  const { file, run, hold } = setup(t);
  const message = quarantinedMessage('Verify your account');
  const [id] = await hold(message);
  const [en, ru, raw] = await Promise.all([
    run('quarantine', 'show', String(id)),
    run('quarantine', 'show', String(id), '--lang', 'ru'),
    posternBytes(['quarantine', 'show', String(id), '--raw', '--config', file]),
  ]);
  assert.equal(en.code, 0, en.stderr);
  assert.equal(
    en.stdout,
    [
      `Quarantined message ${id}`,
      'Received:  2025-03-01T12:00:00.123Z',
      'Envelope:  <bounce@paypa1.com> -> bob@example.com, carol@example.org',
      `Size:      ${message.content.byteLength} octets`,
      '',
      'Verdict:   quarantine, score 12.5, category bank',
      `Reason:    ${SAMPLE_VERDICT.reason}`,
      'Signals:',
      '      +8  lookalike-domain: The sender domain paypa1.com imitates paypal.com',
      '          evidence: paypa1.com',
      '    +4.5  credential-request: The message asks for a password',
      '',
      'Headers:',
      'From: =?UTF-8?B?0JHQsNC90Lo=?= <service@paypa1.com>',
      'To: bob@example.com',
      'Subject: Verify your account',
      '',
    ].join('\n'),
  );
  assert.equal(ru.code, 0, ru.stderr);
  assert.match(ru.stdout, /\+8 {2}lookalike-domain: Домен отправителя paypa1\.com подделывается под paypal\.com\n/);
  assert.match(ru.stdout, /\+4\.5 {2}credential-request: Письмо просит пароль\n/);
  // A reason that is the top signal's explanation is shown in the language asked for too.
  const [byTop] = await hold(
    quarantinedMessage('Verify again', { verdict: { ...SAMPLE_VERDICT, reason: SAMPLE_VERDICT.signals[0]!.en } }),
  );
  const ruTop = await run('quarantine', 'show', String(byTop), '--lang', 'ru');
  assert.match(ruTop.stdout, /\nПричина: {5}Домен отправителя paypa1\.com подделывается под paypal\.com\n/);
  // Held by a milter, not scored: no "score 0, category generic", which would read as harmless.
  const milterVerdict = {
    score: 0,
    category: 'generic',
    action: 'quarantine',
    reason: 'milter rspamd: spam',
    signals: [],
  };
  const [byMilter] = await hold(quarantinedMessage('Held', { verdict: milterVerdict }));
  const held = await run('quarantine', 'show', String(byMilter));
  assert.match(
    held.stdout,
    /\nVerdict: {3}quarantine, not scored \(held by the rule or milter below\)\nReason: {4}milter rspamd: spam\n/,
  );
  // A verdict that left attached messages unopened (past the detector's limit) says so: it does not cover them.
  const [partly] = await hold(
    quarantinedMessage('Forwards', { verdict: { ...SAMPLE_VERDICT, unopenedAttachedMessages: 7 } }),
  );
  const [partlyEn, partlyRu] = await Promise.all([
    run('quarantine', 'show', String(partly)),
    run('quarantine', 'show', String(partly), '--lang', 'ru'),
  ]);
  assert.match(partlyEn.stdout, /\nAttached messages not opened: 7 \(the first 100 are\)\n/);
  assert.match(partlyRu.stdout, /\nНе открыто вложенных писем: 7 \(открываются первые 100\)\n/);
  assert.doesNotMatch(en.stdout, /not opened/);
  assert.equal(raw.code, 0);
  assert.deepEqual(
    new Uint8Array(raw.stdout),
    message.content,
    'every byte, the NUL, 8-bit bytes and bare CR included',
  );
});

test('quarantine show: control characters from the message never reach the terminal', async (t) => {
  const { run, hold } = setup(t);
  const content = new TextEncoder().encode(
    'From: a@example.net\r\nSubject: \x1b[2Jwiped\r\nX-Bell: \x07\r\n\r\nbody\r\n',
  );
  const [id] = await hold(quarantinedMessage('x', { content, mailFrom: 'a\x1b]0;title\x07@example.net' }));
  const shown = await run('quarantine', 'show', String(id));
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(shown.stdout), JSON.stringify(shown.stdout));
  assert.match(shown.stdout, /Subject: \uFFFD\[2Jwiped\n/);
});

test('quarantine release: INBOX for local recipients, the outbound queue for others; the entry goes', async (t) => {
  const { file, run, hold, withStore } = setup(t);
  await addUser(file, 'bob@example.com');
  await withStore((store) => store.addAlias('robert@example.com', 'bob@example.com'));
  // Held as the server holds one: its trace on top (Return-Path, our Received and Authentication-Results).
  const trace =
    'Return-Path: <bounce@paypa1.com>\r\nReceived: from c.example (c.example [192.0.2.7])\r\n\tby mx.example.com (Postern) with ESMTP id x; Sat, 1 Mar 2025 12:00:00 +0000\r\n' +
    'Authentication-Results: mx.example.com;\r\n\tdmarc=fail header.from=paypa1.com\r\n';
  const held = quarantinedMessage('Verify your account', {
    recipients: ['Bob@example.com', 'robert@example.com', 'carol@example.org', 'gone@example.com'],
  });
  const message = { ...held, content: Buffer.concat([Buffer.from(trace), held.content]) };
  const leaving = message.content.subarray(trace.indexOf('Received:'));
  const withoutResults = Buffer.concat([
    leaving.subarray(0, leaving.indexOf('Authentication-Results:')),
    Buffer.from(held.content),
  ]);
  const [id] = await hold(message);
  // carol@example.org is outside our domains: sent out only when the admin says so, else nothing is done.
  const refused = await run('quarantine', 'release', String(id));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /carol@example\.org: example\.org is not in domains/);
  assert.equal(await withStore((store) => store.listJobs({ kind: OUTBOUND_JOB })).then((j) => j.length), 0);
  const released = await run('quarantine', 'release', String(id), '--remote');
  assert.equal(released.code, 0, released.stderr);
  const job = await withStore(async (store) => (await store.listJobs({ kind: OUTBOUND_JOB }))[0]);
  assert.ok(job);
  assert.equal(
    released.stdout,
    [
      `queued for carol@example.org (outbound job ${job.id})`,
      'delivered to Bob@example.com, robert@example.com (INBOX, UID 1)',
      'not delivered to gone@example.com: no such account',
      `released quarantined message ${id}`,
      '',
    ].join('\n'),
  );
  // Nothing delivers the outbound queue yet: the admin is told, on stderr, and how to get it out.
  assert.match(released.stderr, new RegExp(`outbound delivery is not implemented yet: job ${job.id} waits`));
  assert.match(released.stderr, new RegExp(`postern queue show ${job.id} --raw`));
  assert.match(refused.stderr, /outbound delivery is not implemented yet, so it waits there/);
  const payload = JSON.parse(job.payload) as Record<string, unknown>;
  assert.deepEqual(payload, {
    id: `quarantine-${id}`,
    mailFrom: 'bounce@paypa1.com',
    recipients: ['carol@example.org'],
    receivedAt: '2025-03-01T12:00:00.123Z',
    size: withoutResults.byteLength,
    body: '8BITMIME', // the sample's body has 8-bit octets (RFC 6152)
    smtputf8: false,
    // Leaving: no Return-Path (RFC 5321 §4.4), none of our Authentication-Results; our Received stays.
    content: withoutResults.toString('base64'),
  });
  await withStore(async (store) => {
    const bob = await store.findAccount('bob@example.com');
    const inbox = await store.getMailbox(bob!.id, 'INBOX');
    assert.deepEqual(Buffer.from((await store.readMessage(inbox!.id, 1))!), message.content, 'delivered byte for byte');
    assert.equal(inbox!.messageCount, 1, 'one copy for the account, however many of its addresses');
    assert.equal(await store.readQuarantined(id!), undefined);
  });
  const again = await run('quarantine', 'release', String(id), '--remote');
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `postern: ${id}: no such quarantined message (postern quarantine list shows them)\n`);
});

test('quarantine release of an entry the phishing stage marked: local readers get the marks back, other domains the message as it came', async (t) => {
  // The server keeps a marked entry unmarked with its marks in the verdict (src/server/inbound.ts): before,
  // the marked copy (verdict fields, subject tag, banner) left for other domains, breaking DKIM there.
  const { file, run, hold, withStore } = setup(t);
  await addUser(file, 'bob@example.com');
  const trace = 'Received: from c.example (c.example [192.0.2.7])\r\n\tby mx.example.com (Postern) with ESMTP id y\r\n';
  const asCame = 'From: it@paypa1.com\r\nTo: bob@example.com\r\nSubject: Your mailbox is full\r\n\r\nVerify now\r\n';
  const marks = {
    headers: 'X-Postern-Verdict: phishing; score=12.5; category=bank; action=quarantine\r\n',
    subjectTag: '[PHISHING?]',
    at: Buffer.byteLength(trace),
  };
  const [id] = await hold(
    quarantinedMessage('x', {
      recipients: ['bob@example.com', 'carol@example.org'],
      content: Buffer.from(trace + asCame),
      verdict: { ...SAMPLE_VERDICT, marks } as typeof SAMPLE_VERDICT,
    }),
  );
  const released = await run('quarantine', 'release', String(id), '--remote');
  assert.equal(released.code, 0, released.stderr);
  const job = await withStore(async (store) => (await store.listJobs({ kind: OUTBOUND_JOB }))[0]);
  const leaving = Buffer.from(String((JSON.parse(job!.payload) as { content: string }).content), 'base64').toString();
  assert.equal(leaving, trace + asCame, 'as it came, below our Received');
  await withStore(async (store) => {
    const bob = await store.findAccount('bob@example.com');
    const inbox = await store.getMailbox(bob!.id, 'INBOX');
    const local = Buffer.from((await store.readMessage(inbox!.id, 1))!).toString();
    assert.ok(local.startsWith(trace + marks.headers), local);
    assert.match(local, /^Subject: \[PHISHING\?\] Your mailbox is full\r$/m);
  });
});

test('quarantine release: with no recipient left to deliver to, the entry stays', async (t) => {
  const { run, hold, withStore } = setup(t);
  const [id] = await hold(quarantinedMessage('x', { recipients: ['gone@example.com', 'left@EXAMPLE.com'] }));
  const released = await run('quarantine', 'release', String(id));
  assert.equal(released.code, 1);
  assert.equal(
    released.stderr,
    [
      `postern: quarantined message ${id}: no account here has the address gone@example.com, left@EXAMPLE.com any more; it stays in quarantine.`,
      `  To deliver it to another account here: postern quarantine release ${id} --to <address>`,
      `  To keep the message itself: postern quarantine show ${id} --raw > message-${id}.eml`,
      '',
    ].join('\n'),
  );
  assert.equal(released.stdout, '');
  assert.ok(await withStore((store) => store.readQuarantined(id!)));
});

test("quarantine release after the recipient's account was removed: an error naming it and the ways out; --to another account", async (t) => {
  const { file, run, hold, withStore } = setup(t);
  await addUser(file, 'bob@example.com');
  await addUser(file, 'alice@example.com');
  const [id] = await hold(quarantinedMessage('for bob', { recipients: ['bob@example.com'] }));
  const removed = await run('user', 'remove', 'bob@example.com');
  assert.equal(removed.code, 0, removed.stderr);
  const refused = await run('quarantine', 'release', String(id));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /no account here has the address bob@example\.com any more; it stays in quarantine/);
  assert.match(refused.stderr, new RegExp(`postern quarantine release ${id} --to <address>`));
  assert.match(refused.stderr, new RegExp(`postern quarantine show ${id} --raw > message-${id}\\.eml`));
  assert.ok(await withStore((store) => store.readQuarantined(id!)), 'still held');

  const nobody = await run('quarantine', 'release', String(id), '--to', 'nobody@example.com');
  assert.equal(nobody.code, 1);
  assert.equal(
    nobody.stderr,
    `postern: quarantine release --to nobody@example.com: no account or alias here has that address; message ${id} stays in quarantine\n`,
  );
  const both = await run('quarantine', 'release', String(id), '--to', 'alice@example.com', '--remote');
  assert.equal(both.code, 2);
  assert.ok(await withStore((store) => store.readQuarantined(id!)), 'still held');

  const redirected = await run('quarantine', 'release', String(id), '--to', 'alice@example.com');
  assert.equal(redirected.code, 0, redirected.stderr);
  assert.equal(
    redirected.stdout,
    `delivered to alice@example.com (INBOX, UID 1) instead of bob@example.com\nreleased quarantined message ${id}\n`,
  );
  await withStore(async (store) => {
    const alice = await store.findAccount('alice@example.com');
    const inbox = await store.getMailbox(alice!.id, 'INBOX');
    const held = quarantinedMessage('for bob');
    assert.deepEqual(Buffer.from((await store.readMessage(inbox!.id, 1))!), Buffer.from(held.content));
    assert.equal(await store.readQuarantined(id!), undefined);
  });
});

test('quarantine release for a domain removed from domains: refused naming the domain, no job, unless --remote', async (t) => {
  const { file, run, hold, withStore } = setup(t);
  const config = parse(fs.readFileSync(file, 'utf8')) as { domains: string[] };
  fs.writeFileSync(file, stringify({ ...config, domains: ['example.com', 'old.example'] }));
  await addUser(file, 'bob@old.example');
  await addUser(file, 'carl@old.example');
  const [kept, mixed] = await hold(
    quarantinedMessage('bob only', { recipients: ['bob@old.example'] }),
    quarantinedMessage('bob and carl', { recipients: ['bob@old.example', 'carl@old.example'] }),
  );
  assert.equal((await run('user', 'remove', 'carl@old.example')).code, 0);
  fs.writeFileSync(file, stringify({ ...config, domains: ['example.com'] })); // old.example given up

  // carl's account is gone and old.example is no longer ours: before, his copy was queued for old.example's MX.
  const refused = await run('quarantine', 'release', String(mixed));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /carl@old\.example: old\.example is not in domains/);
  assert.match(refused.stderr, /Nothing was released; it stays in quarantine/);
  assert.match(refused.stderr, new RegExp(`postern quarantine release ${mixed} --remote\n`));
  assert.match(refused.stderr, new RegExp(`postern quarantine release ${mixed} --to <address>\n$`));
  await withStore(async (store) => {
    assert.equal((await store.listJobs({ kind: OUTBOUND_JOB })).length, 0, 'nothing queued');
    const bob = await store.findAccount('bob@old.example');
    assert.equal((await store.getMailbox(bob!.id, 'INBOX'))?.messageCount, 0, 'nothing delivered either');
    assert.ok(await store.readQuarantined(mixed!));
  });

  // bob's account is still here: his copy stays here, whatever domains says.
  const local = await run('quarantine', 'release', String(kept));
  assert.equal(local.code, 0, local.stderr);
  assert.equal(local.stdout, `delivered to bob@old.example (INBOX, UID 1)\nreleased quarantined message ${kept}\n`);

  const sent = await run('quarantine', 'release', String(mixed), '--remote');
  assert.equal(sent.code, 0, sent.stderr);
  const jobs = await withStore((store) => store.listJobs({ kind: OUTBOUND_JOB }));
  assert.equal(jobs.length, 1);
  assert.deepEqual((JSON.parse(jobs[0]!.payload) as { recipients: string[] }).recipients, ['carl@old.example']);
  assert.match(
    sent.stdout,
    /^queued for carl@old\.example \(outbound job \d+\)\ndelivered to bob@old\.example \(INBOX, UID 2\)\n/,
  );
});

test('quarantine release --remote: a UTF-8 local part (RFC 6531) of another domain is queued, one of ours reported', async (t) => {
  const { file, run, hold, withStore } = setup(t);
  const config = parse(fs.readFileSync(file, 'utf8')) as { domains: string[] };
  fs.writeFileSync(file, stringify({ ...config, domains: ['example.com', 'xn--bcher-kva.example'] }));
  await addUser(file, 'bob@example.com');
  const [id] = await hold(
    quarantinedMessage('Счёт', {
      // bücher.example is ours in its U-label form too (RFC 5890 §2.3.2.1).
      recipients: ['bob@example.com', 'пользователь@example.org', 'гость@bücher.example', 'Grüße@EXAMPLE.com'],
    }),
  );
  const refused = await run('quarantine', 'release', String(id));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /пользователь@example\.org: example\.org is not in domains/);
  const released = await run('quarantine', 'release', String(id), '--remote');
  assert.equal(released.code, 0, released.stderr);
  const jobs = await withStore((store) => store.listJobs({ kind: OUTBOUND_JOB }));
  assert.equal(jobs.length, 1);
  assert.deepEqual((JSON.parse(jobs[0]!.payload) as { recipients: string[] }).recipients, ['пользователь@example.org']);
  assert.equal(
    released.stdout,
    [
      `queued for пользователь@example.org (outbound job ${jobs[0]!.id})`,
      'delivered to bob@example.com (INBOX, UID 1)',
      'not delivered to гость@bücher.example: no such account',
      'not delivered to Grüße@EXAMPLE.com: no such account',
      `released quarantined message ${id}`,
      '',
    ].join('\n'),
  );
});

test('quarantine release: addresses from the envelope reach the terminal without control characters', async (t) => {
  const { file, run, hold } = setup(t);
  await addUser(file, 'bob@example.com');
  await addUser(file, 'alice@example.com');
  const clear = 'x\x1b[2J\x1b]0;pwned\x07@example.org';
  const [sent, nobody, redirected] = await hold(
    quarantinedMessage('a', { recipients: ['bob@example.com', clear, 'gone\x1b[5m@example.com'] }),
    quarantinedMessage('b', { recipients: ['left\x9b2J@example.com'] }),
    quarantinedMessage('c', { recipients: ['carl\u202e@example.com'] }),
  );
  const outcomes = [
    await run('quarantine', 'release', String(sent)),
    await run('quarantine', 'release', String(sent), '--remote'),
    await run('quarantine', 'release', String(nobody)),
    await run('quarantine', 'release', String(redirected), '--to', 'alice@example.com'),
  ];
  assert.deepEqual(
    outcomes.map((r) => r.code),
    [1, 0, 1, 0],
  );
  for (const { stdout, stderr } of outcomes) {
    assert.doesNotMatch(stdout + stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, stdout + stderr);
  }
  const [refused, released, left, instead] = outcomes as [
    (typeof outcomes)[0],
    (typeof outcomes)[0],
    (typeof outcomes)[0],
    (typeof outcomes)[0],
  ];
  assert.match(refused.stderr, /: x\uFFFD\[2J\uFFFD\]0;pwned\uFFFD@example\.org: example\.org is not in domains/);
  assert.match(released.stdout, /^queued for x\uFFFD\[2J\uFFFD\]0;pwned\uFFFD@example\.org \(outbound job \d+\)\n/m);
  assert.match(released.stdout, /^not delivered to gone\uFFFD\[5m@example\.com: no such account$/m);
  assert.match(left.stderr, /no account here has the address left\uFFFD2J@example\.com any more/);
  assert.match(instead.stdout, /instead of carl\uFFFD@example\.com\n/);
});

test('quarantine delete, unknown ids and usage errors', async (t) => {
  const { run, hold } = setup(t);
  const [id] = await hold(quarantinedMessage('x'));
  const deleted = await run('quarantine', 'delete', String(id));
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout, `deleted quarantined message ${id}\n`);
  const results = await Promise.all([
    run('quarantine', 'delete', String(id)),
    run('quarantine', 'show', '999'),
    run('quarantine', 'show', 'abc'),
    run('quarantine', 'list'),
  ]);
  const [again, unknown, notAnId, listed] = results;
  assert.equal(again!.code, 1);
  assert.equal(again!.stderr, `postern: ${id}: no such quarantined message (postern quarantine list shows them)\n`);
  assert.equal(unknown!.code, 1);
  assert.match(unknown!.stderr, /^postern: 999: no such quarantined message/);
  assert.equal(notAnId!.code, 2, 'a malformed id is a usage error, as a malformed --limit is');
  assert.match(notAnId!.stderr, /"abc" is not a quarantine id/);
  assert.equal(listed!.stdout, 'the quarantine is empty\n');

  const usage: [string[], RegExp][] = [
    [['quarantine'], /quarantine: missing subcommand \(list, show, release, delete\)/],
    [['quarantine', 'purge'], /quarantine: unknown subcommand "purge"/],
    [['quarantine', 'show'], /usage: postern quarantine show <id> \[--raw\] \[--lang en\|ru\]\n/],
    [['quarantine', 'release'], /usage: postern quarantine release <id> \[--remote \| --to <address>\]\n/],
    [['quarantine', 'delete', '1', '2'], /usage: postern quarantine delete <id>\n/],
    // Number() would read it as 9007199254740992: another entry than the one asked for.
    [
      ['quarantine', 'show', '9007199254740993'],
      /"9007199254740993" is not a quarantine id \(a whole number from 1 to 9007199254740991\)\n/,
    ],
    [['quarantine', 'delete', '0'], /"0" is not a quarantine id \(a whole number from 1 to 9007199254740991\)\n/],
    [['quarantine', 'list', '--raw'], /quarantine list: --raw does not apply here/],
    [['quarantine', 'show', '1', '--lang', 'de'], /--lang is en or ru, not "de"/],
    [['quarantine', 'list', '--limit', '0'], /--limit needs a whole number from 1 to 1000000, not "0"/],
    [['quarantine', 'list', '--limit', '9007199254740991'], /--limit needs a whole number from 1 to 1000000/],
    [['quarantine', 'list', '--limit', '-5'], /--limit needs a value \(one starting with "-" as --limit=-…\)/],
    [['quarantine', 'delete', '1', '--bogus'], /quarantine delete: unknown option --bogus\n/],
  ];
  const outcomes = await Promise.all(usage.map(([args]) => run(...args)));
  for (const [i, r] of outcomes.entries()) {
    assert.equal(r.code, 2, usage[i]![0].join(' '));
    assert.match(r.stderr, usage[i]![1]);
    assert.match(r.stderr, /Run 'postern help' for usage\./);
  }
});

test('quarantine release --remote: the job says BODY and SMTPUTF8 as read from the message; queue list --json shows them', async (t) => {
  const { run, hold } = setup(t);
  const message = (header: string, body: number[]) =>
    Uint8Array.from([...Buffer.from(`From: a@example.org\r\n${header}\r\n\r\n`), ...body]);
  const to = (name: string) => ({ recipients: [`${name}@example.org`] });
  const ids = await hold(
    { ...quarantinedMessage('', to('seven')), content: message('Subject: plain', [0x68, 0x69, 0x0d, 0x0a]) },
    { ...quarantinedMessage('', to('eight')), content: message('Subject: plain', [0xc3, 0xa9, 0x0d, 0x0a]) },
    { ...quarantinedMessage('', to('utf8')), content: message('Subject: Grüße', [0x68, 0x69, 0x0d, 0x0a]) },
    { ...quarantinedMessage('', { recipients: ['jörg@example.org'] }), content: message('Subject: x', [0x0d, 0x0a]) },
  );
  for (const id of ids) {
    const released = await run('quarantine', 'release', String(id), '--remote');
    assert.equal(released.code, 0, released.stderr);
  }
  const listed = await run('queue', 'list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { to: string[]; body: string; smtputf8: boolean }[];
  const shown = Object.fromEntries(rows.map((r) => [r.to[0], [r.body, r.smtputf8]]));
  assert.deepEqual(shown, {
    'seven@example.org': ['7BIT', false],
    'eight@example.org': ['8BITMIME', false], // RFC 6152: an 8-bit octet in the body
    'utf8@example.org': ['8BITMIME', true], // RFC 6532: a UTF-8 header needs SMTPUTF8
    'jörg@example.org': ['7BIT', true], // RFC 6531: a UTF-8 address needs it too
  });
});

test('quarantine show --lang ru: the labels in Russian too, in the words postern scan uses', async (t) => {
  const { run, hold } = setup(t);
  const message = quarantinedMessage('Verify your account');
  const [id] = await hold(message);
  const milterVerdict = {
    score: 0,
    category: 'generic',
    action: 'quarantine',
    reason: 'milter rspamd: spam',
    signals: [],
  };
  const [byMilter] = await hold(quarantinedMessage('Held', { verdict: milterVerdict }));
  const [ru, held] = await Promise.all([
    run('quarantine', 'show', String(id), '--lang', 'ru'),
    run('quarantine', 'show', String(byMilter), '--lang', 'ru'),
  ]);
  assert.equal(ru.code, 0, ru.stderr);
  assert.equal(
    ru.stdout,
    [
      `Письмо в карантине ${id}`,
      'Получено:    2025-03-01T12:00:00.123Z',
      'Конверт:     <bounce@paypa1.com> -> bob@example.com, carol@example.org',
      `Размер:      ${message.content.byteLength} октетов`,
      '',
      'Вердикт:     карантин, оценка 12.5, категория bank',
      `Причина:     ${SAMPLE_VERDICT.reason}`,
      'Признаки:',
      '      +8  lookalike-domain: Домен отправителя paypa1.com подделывается под paypal.com',
      '          доказательство: paypa1.com',
      '    +4.5  credential-request: Письмо просит пароль',
      '',
      'Заголовки:',
      'From: =?UTF-8?B?0JHQsNC90Lo=?= <service@paypa1.com>',
      'To: bob@example.com',
      'Subject: Verify your account',
      '',
    ].join('\n'),
  );
  assert.match(
    held.stdout,
    /\nВердикт: {5}карантин, без оценки \(задержано правилом или milter-фильтром, указанным ниже\)\n/,
  );
  assert.match(held.stdout, /\nПризнаки: {4}нет\n/);
  assert.doesNotMatch(
    `${ru.stdout}${held.stdout}`,
    /^(?:Quarantined|Received|Envelope|Size|Verdict|Reason|Signals|Headers)\b|octets/m,
  );
});

/** Entries holding verdict fields of a sender or a milter: one the phishing stage marked, one it did not. */
async function heldWithForgedFields(t: Context) {
  const context = setup(t);
  await addUser(context.file, 'bob@example.com');
  const trace = 'Received: from c.example (c.example [192.0.2.7])\r\n\tby mx.example.com (Postern) with ESMTP id z\r\n';
  // Claims of a clean verdict, written as the server's own removal reads fields (src/server/client-fields.ts):
  // folded, with space before the colon, in any case.
  const forged =
    'X-Postern-Verdict: clean; score=0; category=generic; action=none\r\nX-Postern-Signals: none=0\r\n' +
    'x-postern-verdict :\r\n clean; score=0\r\n';
  const asCame = 'From: it@paypa1.com\r\nTo: bob@example.com\r\nSubject: Your mailbox is full\r\n\r\nVerify now\r\n';
  const marks = {
    headers: 'X-Postern-Verdict: phishing; score=12.5; category=bank; action=quarantine\r\n',
    subjectTag: '',
    at: Buffer.byteLength(trace),
  };
  const content = Buffer.from(trace + forged + asCame);
  const [marked, unmarked] = await context.hold(
    quarantinedMessage('x', {
      recipients: ['bob@example.com', 'carol@example.org'],
      content,
      verdict: { ...SAMPLE_VERDICT, marks } as typeof SAMPLE_VERDICT,
    }),
    // Held by a milter with the phishing stage off: no marks beside it, the fields still not ours.
    quarantinedMessage('y', { recipients: ['dave@example.org'], content }),
  );
  return { ...context, trace, asCame, marks, marked: marked!, unmarked: unmarked! };
}

test('quarantine release --remote: verdict fields the message came with do not leave, as from a local copy', async (t) => {
  const { run, withStore, trace, asCame, marks, marked, unmarked } = await heldWithForgedFields(t);
  for (const id of [marked, unmarked]) {
    const released = await run('quarantine', 'release', String(id), '--remote');
    assert.equal(released.code, 0, released.stderr);
  }
  const jobs = await withStore((store) => store.listJobs({ kind: OUTBOUND_JOB }));
  assert.equal(jobs.length, 2);
  for (const job of jobs) {
    const payload = JSON.parse(job.payload) as { content: string; size: number };
    const leaving = Buffer.from(payload.content, 'base64').toString('latin1');
    assert.equal(leaving, trace + asCame, 'our Received, then the message without the forged fields');
    assert.equal(payload.size, Buffer.byteLength(trace + asCame));
  }
  await withStore(async (store) => {
    const bob = await store.findAccount('bob@example.com');
    const inbox = await store.getMailbox(bob!.id, 'INBOX');
    const local = Buffer.from((await store.readMessage(inbox!.id, 1))!).toString();
    assert.equal(local, trace + marks.headers + asCame, 'the local copy: our verdict only, as before');
  });
});

test('quarantine show: verdict fields the message came with are said not to be ours', async (t) => {
  const { run, hold, marked, unmarked } = await heldWithForgedFields(t);
  const [shownEn, shownRu, shownUnmarked] = await Promise.all([
    run('quarantine', 'show', String(marked)),
    run('quarantine', 'show', String(marked), '--lang', 'ru'),
    run('quarantine', 'show', String(unmarked)),
  ]);
  assert.match(
    shownEn.stdout,
    /\nNote: {6}the message came with X-Postern-Verdict or X-Postern-Signals fields \(below\) that Postern did not write; a release removes them\n\nHeaders:\n/,
  );
  assert.match(
    shownRu.stdout,
    /\nПримечание: {2}письмо пришло с полями X-Postern-Verdict или X-Postern-Signals \(ниже\), которые записал не Postern/,
  );
  assert.match(
    shownUnmarked.stdout,
    /\nNote: {6}the header below holds X-Postern-Verdict or X-Postern-Signals fields; the verdict above is the one Postern gave/,
  );
  const [plain] = await hold(quarantinedMessage('z'));
  assert.doesNotMatch((await run('quarantine', 'show', String(plain))).stdout, /Note:/);
});

test('a quarantine usage error gives the whole line postern help shows for that subcommand', async () => {
  const help = await postern(['help', 'quarantine']);
  for (const sub of ['show', 'release', 'delete']) {
    const r = await postern(['quarantine', sub]);
    assert.equal(r.code, 2, sub);
    const line = /^postern: usage: postern (.*)$/m.exec(r.stderr)?.[1];
    assert.ok(line, r.stderr);
    assert.ok(
      help.stdout.split('\n').some((l) => l.trim() === line || l.trim().startsWith(`${line}  `)),
      `${line} is not in:\n${help.stdout}`,
    );
  }
});
