/**
 * Populated databases at schema versions 1, 4, 5 and 6, written with plain SQL as those versions of
 * Postern wrote them, and the checks that everything in them survived a migration to the latest
 * version, read back through the Store API. Both engines run it (test/store/migrations.test.ts);
 * the version-6 data in a version-9 database is what the version-10 migration (ids never reused) meets.
 */

import assert from 'node:assert/strict';
import { AccountExistsError, DkimKeyExistsError, RecipientsGoneError, type Store } from '../../src/store/store.ts';
import { sampleDelivery, sampleMessage } from './contract.ts';
import { quarantinedMessage, SAMPLE_VERDICT } from './quarantine-contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const T0 = Date.parse('2024-03-01T10:00:00Z');

/** Runs one statement with `?` placeholders; each engine's test adapts it to its driver. */
export type Execute = (sql: string, values: unknown[]) => Promise<void>;

const accounts = [
  { id: 1, address: 'alice@example.com', created: T0 },
  { id: 2, address: 'bob@example.com', created: T0 + 1000 },
  { id: 3, address: 'nomail@example.com', created: T0 + 2000 },
];

const mailboxes = [
  { id: 1, account: 1, name: 'INBOX', uidValidity: 1_709_287_200, uidNext: 5, modSeq: 9 },
  { id: 2, account: 1, name: 'Archive', uidValidity: 1_709_287_201, uidNext: 2, modSeq: 3 },
  { id: 3, account: 2, name: 'INBOX', uidValidity: 1_709_287_202, uidNext: 2, modSeq: 2 },
  { id: 4, account: 3, name: 'INBOX', uidValidity: 1_709_287_203, uidNext: 1, modSeq: 1 },
];

const messages = [1, 2, 3].map((id) => ({ id, content: sampleMessage(`old message ${id}`) }));

/** UIDs with gaps (3 was expunged), shared content (message 2 in two accounts), and flags. */
const placements = [
  { mailbox: 1, uid: 1, message: 1, modSeq: 2, flags: '\\Seen', date: T0 + 10_000 },
  { mailbox: 1, uid: 2, message: 2, modSeq: 5, flags: '\\Seen \\Flagged $Important', date: T0 + 20_000 },
  { mailbox: 1, uid: 4, message: 3, modSeq: 9, flags: '', date: T0 + 40_000 },
  { mailbox: 2, uid: 1, message: 2, modSeq: 3, flags: '\\Answered \\Deleted', date: T0 + 20_000 },
  { mailbox: 3, uid: 1, message: 2, modSeq: 2, flags: '\\Draft', date: T0 + 20_000 },
];

const UID_VALIDITY_COUNTER = 1_709_287_203;

/** Version 4 adds: a Junk mailbox its user made (no special use before version 5), with a message. */
const v4Mailboxes = [{ id: 5, account: 2, name: 'Junk', uidValidity: 1_709_287_100, uidNext: 3, modSeq: 4 }];
const v4Placements = [{ mailbox: 5, uid: 2, message: 3, modSeq: 4, flags: '$Junk \\Seen', date: T0 + 50_000 }];
const V4_ALIAS = { alias: 'alice.smith@example.com', account: 'alice@example.com' };
const V4_BLOCKED_KEY = 'account:bob@example.com';
const V4_BLOCKED_UNTIL = Date.parse('2099-01-01T00:00:00Z');

/** Version 5 adds: a Junk mailbox a delivery created, with its RFC 6154 `\Junk` attribute and a message. */
const v5Mailboxes = [
  { id: 6, account: 1, name: 'Junk', specialUse: '\\Junk', uidValidity: 1_709_287_300, uidNext: 2, modSeq: 2 },
];
const v5Placements = [{ mailbox: 6, uid: 1, message: 1, modSeq: 2, flags: '$Junk', date: T0 + 60_000 }];

export async function populateVersion1(execute: Execute): Promise<void> {
  await execute('INSERT INTO counters (name, value) VALUES (?, ?)', ['uid_validity', UID_VALIDITY_COUNTER]);
  for (const a of accounts) {
    await execute('INSERT INTO accounts (id, address, password_hash, created_at) VALUES (?, ?, ?, ?)', [
      a.id,
      a.address,
      PHC,
      a.created,
    ]);
  }
  for (const m of messages) {
    await execute(
      `INSERT INTO messages (id, content, size, header_from, header_subject, header_date, header_message_id,
         mail_from, recipients, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        m.id,
        m.content,
        m.content.byteLength,
        'Alice <alice@example.com>',
        `old message ${m.id}`,
        Date.parse('1997-11-21T15:55:06Z'),
        `<old message ${m.id}@example.com>`,
        'alice@example.com',
        '["bob@example.com"]',
        T0,
      ],
    );
  }
  await insertMailboxes(execute, mailboxes, placements);
}

/** The version-1 fixture, then what version 4 added: credentials, a disabled account, an alias, a block. */
export async function populateVersion4(execute: Execute): Promise<void> {
  await populateVersion1(execute);
  await execute('UPDATE accounts SET scram = ? WHERE id = ?', [SCRAM, 2]);
  await execute('UPDATE accounts SET disabled = TRUE WHERE id = ?', [3]); // TRUE: 1 on SQLite, true on PostgreSQL
  await execute('INSERT INTO aliases (address, account_id, created_at) VALUES (?, ?, ?)', [V4_ALIAS.alias, 1, T0]);
  await execute('INSERT INTO login_failures (key, count, window_start, blocked_until) VALUES (?, ?, ?, ?)', [
    V4_BLOCKED_KEY,
    5,
    T0,
    V4_BLOCKED_UNTIL,
  ]);
  await insertMailboxes(execute, v4Mailboxes, v4Placements);
}

/** The version-4 fixture, then what version 5 added: a Junk mailbox with its special use. */
export async function populateVersion5(execute: Execute): Promise<void> {
  await populateVersion4(execute);
  await insertMailboxes(execute, v5Mailboxes, v5Placements);
}

/** Version 6 adds: DKIM keys of example.org, one retiring and one active. */
const V6_KEYS = [
  { id: 1, selector: 'postern-202402', state: 'retiring', activated: T0 - 86_400_000, retireAfter: T0 + 86_400_000 },
  { id: 2, selector: 'postern-202403', state: 'active', activated: T0, retireAfter: null },
];

/** The version-5 fixture, then what version 6 added: DKIM signing keys in their rotation states. */
export async function populateVersion6(execute: Execute): Promise<void> {
  await populateVersion5(execute);
  for (const k of V6_KEYS) {
    await execute(
      `INSERT INTO dkim_keys (id, domain, selector, algorithm, bits, private_key, public_key, state, created_at,
         activated_at, retire_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        k.id,
        'example.org',
        k.selector,
        'rsa',
        2048,
        `PEM ${k.selector}`,
        `MIIB${k.selector}`,
        k.state,
        k.activated,
        k.activated,
        k.retireAfter,
      ],
    );
  }
}

/** The version-6 fixture, whole: the version-5 one and the DKIM keys with their states and times. */
export async function assertVersion6DataSurvived(store: Store): Promise<void> {
  await assertVersion5DataSurvived(store);
  assert.deepEqual(
    (await store.listDkimKeys('example.org')).map((k) => [
      k.id,
      k.selector,
      k.state,
      k.privateKey,
      k.activatedAt?.getTime(),
      k.retireAfter?.getTime() ?? null,
    ]),
    V6_KEYS.map((k) => [k.id, k.selector, k.state, `PEM ${k.selector}`, k.activated, k.retireAfter]),
  );
}

type MailboxFixture = (typeof mailboxes)[number] & { specialUse?: string };

async function insertMailboxes(execute: Execute, boxes: MailboxFixture[], held: typeof placements): Promise<void> {
  for (const m of boxes) {
    await execute(
      m.specialUse === undefined
        ? 'INSERT INTO mailboxes (id, account_id, name, uid_validity, uid_next, highest_modseq) VALUES (?, ?, ?, ?, ?, ?)'
        : `INSERT INTO mailboxes (id, account_id, name, uid_validity, uid_next, highest_modseq, special_use)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [m.id, m.account, m.name, m.uidValidity, m.uidNext, m.modSeq, ...(m.specialUse ? [m.specialUse] : [])],
    );
  }
  for (const p of held) {
    await execute(
      `INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, flags, internal_date)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [p.mailbox, p.uid, p.message, p.modSeq, p.flags, p.date],
    );
  }
}

/**
 * Every account, mailbox, message, flag and counter of the fixture, read through the Store API.
 * Accounts keep their hashes and come out of version 4 enabled, without SCRAM credentials (those
 * need the password: `postern user passwd`).
 */
export async function assertVersion1DataSurvived(store: Store): Promise<void> {
  const listed = await store.listAccounts();
  assert.deepEqual(
    listed.map((a) => [a.id, a.address, a.passwordHash, a.scram, a.disabled, a.createdAt.getTime()]),
    accounts.map((a) => [a.id, a.address, PHC, null, false, a.created]),
  );
  assert.deepEqual(await store.listAliases(), [], 'no aliases before version 4');
  await assertMailboxesSurvived(store, mailboxes, placements);
}

/** The version-4 fixture, whole: what version 1 had, and the credentials, alias, block and Junk of version 4. */
export async function assertVersion4DataSurvived(store: Store): Promise<void> {
  const listed = await store.listAccounts();
  assert.deepEqual(
    listed.map((a) => [a.id, a.scram, a.disabled]),
    [
      [1, null, false],
      [2, SCRAM, false],
      [3, null, true],
    ],
  );
  assert.deepEqual(await store.listAliases(), [V4_ALIAS]);
  assert.deepEqual(await store.loginBlockedUntil(V4_BLOCKED_KEY, new Date(T0)), new Date(V4_BLOCKED_UNTIL));
  await assertMailboxesSurvived(store, [...mailboxes, ...v4Mailboxes], [...placements, ...v4Placements]);
  assert.deepEqual(
    (await store.listMailboxes(2)).map((m) => [m.id, m.name, m.specialUse]),
    [
      [3, 'INBOX', null],
      [5, 'Junk', null],
    ],
    'a mailbox from before version 5 has no special use, a user-made Junk included',
  );
}

/** The version-5 fixture, whole: the version-4 one and the Junk mailbox a delivery made, `\Junk` kept. */
export async function assertVersion5DataSurvived(store: Store): Promise<void> {
  await assertVersion4DataSurvived(store);
  await assertMailboxesSurvived(store, v5Mailboxes, v5Placements);
}

async function assertMailboxesSurvived(
  store: Store,
  boxes: MailboxFixture[],
  allPlacements: typeof placements,
): Promise<void> {
  for (const m of boxes) {
    const mailbox = await store.getMailbox(m.account, m.name);
    const held = allPlacements.filter((p) => p.mailbox === m.id);
    assert.deepEqual(mailbox, {
      id: m.id,
      accountId: m.account,
      name: m.name,
      specialUse: m.specialUse ?? null,
      uidValidity: m.uidValidity,
      uidNext: m.uidNext,
      highestModSeq: BigInt(m.modSeq),
      messageCount: held.length,
    });
    const listedMessages = await store.listMessages(m.id);
    assert.deepEqual(
      listedMessages.map((message) => ({
        uid: message.uid,
        modSeq: message.modSeq,
        flags: message.flags,
        date: message.internalDate.getTime(),
        subject: message.summary.subject,
        size: message.size,
      })),
      held.map((p) => ({
        uid: p.uid,
        modSeq: BigInt(p.modSeq),
        flags: p.flags.split(' ').filter(Boolean),
        date: p.date,
        subject: `old message ${p.message}`,
        size: messages[p.message - 1]!.content.byteLength,
      })),
      `mailbox ${m.name} of account ${m.account}`,
    );
    for (const p of held) {
      assert.deepEqual(await store.readMessage(m.id, p.uid), messages[p.message - 1]!.content);
    }
  }
}

/**
 * The migrated database keeps working: the next UID follows on, and what later versions added is
 * there (the queue of v2, greylisting of v3, counters for restriction statistics, credentials,
 * aliases and login failures of v4).
 */
export async function assertMigratedDatabaseWorks(store: Store): Promise<void> {
  const alice = await store.findAccount('alice@example.com');
  assert.ok(alice);
  const receipt = await store.deliver(sampleDelivery([alice], 'after the upgrade'));
  assert.deepEqual(
    receipt.placements,
    [{ accountId: 1, mailboxId: 1, mailbox: 'INBOX', uid: 5 }],
    'UIDNEXT carried over',
  );
  const inbox = await store.getMailbox(1, 'INBOX');
  assert.ok(inbox && inbox.highestModSeq > 9n, 'mod-sequences continue above the old ones');
  const carol = await store.createAccount('carol@example.com', PHC);
  const carolInbox = await store.getMailbox(carol.id, 'INBOX');
  assert.ok(carolInbox && carolInbox.uidValidity > UID_VALIDITY_COUNTER, 'UIDVALIDITY never reused');
  assert.ok(carol.id > 3, 'account ids continue after the old ones');
  const job = await store.enqueueJob({ kind: 'test', payload: '{}' }); // schema v2
  assert.equal((await store.claimJobs({ claimant: 'n', limit: 1, leaseMs: 1000 }))[0]?.id, job.id);
  // Counters: the version-1 table, now also for restriction statistics, beside uid_validity.
  const counted = 'restriction:recipient:reject_unlisted_recipient:reject';
  await store.addCounters({ [counted]: 2 });
  await store.addCounters({ [counted]: 1 });
  assert.deepEqual(await store.readCounters('restriction:'), { [counted]: 3 });
  const uidValidity = (await store.readCounters('uid_validity')).uid_validity;
  assert.ok(uidValidity !== undefined && uidValidity >= carolInbox.uidValidity, 'the old counter row still counts');
  // Greylisting (schema v3): a first attempt is deferred, the retry after the delay passes.
  const request = {
    triplet: '192.0.2.0/24/alice@example.org/bob@example.com',
    network: '192.0.2.0/24',
    delayMs: 300_000,
    retryWindowMs: 86_400_000,
    expireMs: 35 * 86_400_000,
    autoPassAfter: 1,
  };
  assert.deepEqual(await store.greylist({ ...request, now: new Date(T0) }), {
    outcome: 'defer',
    retryInMs: 300_000,
    learned: false,
  });
  assert.deepEqual(await store.greylist({ ...request, now: new Date(T0 + 300_000) }), {
    outcome: 'pass',
    learned: true,
  });
  const another = { ...request, triplet: '192.0.2.0/24/carol@example.org/bob@example.com' };
  assert.deepEqual(await store.greylist({ ...another, now: new Date(T0 + 300_001) }), {
    outcome: 'pass',
    learned: false,
  });
  await assertVersion5Works(store);
  await assertVersion6Works(store);
  await assertVersion7Works(store);
  await assertVersion4Works(store);
}

/** Schema v7: a message is quarantined, listed, read back whole and removed; senders are counted. */
async function assertVersion7Works(store: Store): Promise<void> {
  assert.deepEqual(await store.listQuarantine(), [], 'nothing quarantined before version 7');
  const message = quarantinedMessage('held after the upgrade');
  const held = await store.quarantine(message);
  assert.deepEqual(
    (await store.listQuarantine()).map((q) => q.id),
    [held.id],
  );
  const read = await store.readQuarantined(held.id);
  assert.deepEqual(read?.content, message.content);
  assert.deepEqual(read?.verdict, SAMPLE_VERDICT);
  assert.equal(await store.removeQuarantined(held.id), true);
  assert.deepEqual(await store.senderHistory('alice@example.com'), { messages: 0, firstSeen: null });
  await store.recordSenders(['alice@example.com'], new Date(T0));
  await store.recordSenders(['Alice@example.com'], new Date(T0 + 1000));
  assert.deepEqual(await store.senderHistory('alice@example.com'), { messages: 2, firstSeen: new Date(T0) });
}

/** Schema v6: DKIM keys of an old domain are added, listed and rotated; a taken selector is refused. */
async function assertVersion6Works(store: Store): Promise<void> {
  // The version-6 fixture's keys are example.org's.
  assert.deepEqual(await store.listDkimKeys('example.com'), [], 'no example.com DKIM keys before');
  const key = {
    domain: 'example.com',
    selector: 'postern-202403',
    algorithm: 'ed25519' as const,
    bits: 256,
    privateKey: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n',
    publicKey: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
    createdAt: new Date(T0),
  };
  const active = await store.addDkimKey({ ...key, state: 'active' });
  await assert.rejects(store.addDkimKey({ ...key, state: 'pending' }), DkimKeyExistsError);
  const next = await store.addDkimKey({ ...key, selector: 'postern-202404', state: 'pending' });
  assert.equal(await store.setDkimKeyState(next.id, 'active', { now: new Date(T0 + 1000) }), true);
  assert.equal(await store.setDkimKeyState(active.id, 'retiring', { retireAfter: new Date(T0 + 2000) }), true);
  assert.deepEqual(
    (await store.listDkimKeys('example.com')).map((k) => [k.selector, k.state, k.activatedAt?.getTime() ?? null]),
    [
      ['postern-202403', 'retiring', T0],
      ['postern-202404', 'active', T0 + 1000],
    ],
  );
}

/**
 * Schema v5 on an old account: its first Junk delivery creates Junk (RFC 6154 §2 `\Junk`) under a
 * UIDVALIDITY above every one before, with the keywords; the INBOX stays as it was.
 */
async function assertVersion5Works(store: Store): Promise<void> {
  const inbox = await store.getMailbox(3, 'INBOX');
  const receipt = await store.deliver({
    ...sampleDelivery([]),
    recipients: [{ address: 'nomail@example.com', accountId: 3, mailbox: 'Junk' }],
    keywords: ['$Junk'],
  });
  const junk = await store.getMailbox(3, 'Junk');
  assert.ok(junk);
  assert.deepEqual(receipt.placements, [{ accountId: 3, mailboxId: junk.id, mailbox: 'Junk', uid: 1 }]);
  assert.equal(junk.specialUse, '\\Junk');
  assert.ok(junk.id > 5, 'mailbox ids continue after the old ones');
  assert.ok(junk.uidValidity > UID_VALIDITY_COUNTER, 'UIDVALIDITY never reused');
  assert.deepEqual((await store.listMessages(junk.id))[0]?.flags, ['$Junk']);
  assert.deepEqual(await store.getMailbox(3, 'INBOX'), inbox);
}

/** A Junk mailbox the user made before version 5 takes Junk deliveries, and stays as it was. */
export async function assertUserJunkKept(store: Store): Promise<void> {
  const bob = await store.findAccount('bob@example.com');
  assert.ok(bob);
  const junk = sampleDelivery([bob], 'junk after the upgrade');
  junk.recipients[0]!.mailbox = 'Junk';
  const receipt = await store.deliver(junk);
  assert.deepEqual(
    receipt.placements,
    [{ accountId: 2, mailboxId: 5, mailbox: 'Junk', uid: 3 }],
    'UIDNEXT carried over',
  );
  const mailbox = await store.getMailbox(2, 'Junk');
  assert.equal(mailbox?.specialUse, null);
  assert.equal(mailbox?.uidValidity, v4Mailboxes[0]!.uidValidity);
  assert.deepEqual(
    (await store.listMessages(5)).map((m) => [m.uid, m.flags]),
    [
      [2, ['$Junk', '\\Seen']],
      [3, []],
    ],
  );
}

const SCRAM =
  'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$' +
  'c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmU=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmU=';

/** Schema v4 on old accounts: SCRAM credentials set by a new password, disabling, aliases, failed logins. */
async function assertVersion4Works(store: Store): Promise<void> {
  assert.equal(await store.setPassword('bob@example.com', PHC, SCRAM), true);
  assert.equal((await store.findAccount('bob@example.com'))?.scram, SCRAM);
  assert.equal(await store.setDisabled('nomail@example.com', true), true);
  assert.equal((await store.findAccount('nomail@example.com'))?.disabled, true);
  await store.addAlias('postmaster@example.com', 'alice@example.com');
  assert.equal((await store.resolveAddress('postmaster@example.com'))?.id, 1);
  await assert.rejects(store.createAccount('postmaster@example.com', PHC), AccountExistsError);
  const receipt = await store.deliver({
    ...sampleDelivery([]),
    recipients: [{ address: 'postmaster@example.com', accountId: 1 }],
  });
  assert.equal(receipt.placements[0]?.uid, 6, 'mail to the alias lands in the old INBOX');
  const options = { now: new Date(T0), windowMs: 60_000, threshold: 2, blockMs: 60_000 };
  assert.deepEqual(await store.recordLoginFailure('ip:192.0.2.1', options), { count: 1, blockedUntil: null });
  assert.deepEqual(await store.recordLoginFailure('ip:192.0.2.1', options), {
    count: 2,
    blockedUntil: new Date(T0 + 60_000),
  });
  assert.deepEqual(await store.loginBlockedUntil('ip:192.0.2.1', new Date(T0)), new Date(T0 + 60_000));
  await store.clearLoginFailures('ip:192.0.2.1');
  assert.equal(await store.loginBlockedUntil('ip:192.0.2.1', new Date(T0)), null);
  assert.equal(await store.removeAccount('alice@example.com'), true);
  assert.deepEqual(await store.listAliases(), [], 'an old account takes its new aliases with it');
}

/**
 * Schema v10 on the version-6 fixture: with the accounts holding the highest account id (nomail, 3)
 * and the highest mailbox id (alice's Junk, 6) removed, a new account takes neither id, and mail
 * for nomail by the id looked up before its removal is refused, not given to the new account.
 * `accountsCounted`: a higher account id the database already knew it had given out.
 */
export async function assertIdsNeverReused(store: Store, accountsCounted = 3): Promise<void> {
  assert.equal(await store.removeAccount('nomail@example.com'), true);
  assert.equal(await store.removeAccount('alice@example.com'), true);
  const dave = await store.createAccount('dave@example.com', PHC);
  assert.equal(dave.id, accountsCounted + 1, 'the next account id is above every one given out');
  const inbox = await store.getMailbox(dave.id, 'INBOX');
  assert.equal(inbox?.id, 7, 'the next mailbox id is above every one given out');
  await assert.rejects(
    store.deliver({ ...sampleDelivery([]), recipients: [{ address: 'nomail@example.com', accountId: 3 }] }),
    RecipientsGoneError,
  );
  assert.equal((await store.getMailbox(dave.id, 'INBOX'))?.messageCount, 0, "nothing of nomail's reached dave");
  // ON DELETE CASCADE still holds: alice took her mailboxes and her alias with her.
  assert.deepEqual(await store.listMailboxes(1), []);
  assert.deepEqual(await store.listAliases(), []);
  assert.deepEqual(
    (await store.listAccounts()).map((a) => [a.id, a.address]),
    [
      [2, 'bob@example.com'],
      [dave.id, 'dave@example.com'],
    ],
  );
}
