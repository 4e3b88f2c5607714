// `postern user` and `postern alias` as users run them: bin/postern in a child process, exit codes,
// one-line errors, and what lands in the database (hashes and SCRAM secrets, never the password).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { verifyPassword } from '../../src/accounts/password.ts';
import { TypedLine } from '../../src/cli/commands/user.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { addUser, type CliResult, configDir, POSTERN, postern } from '../support/child-server.ts';

const execFileAsync = promisify(execFile);

type Context = { after(fn: () => unknown): void };

const PASSWORD = 'correct horse battery'; // what addUser gives
const NEW_PASSWORD = 'Tr0ub4dor&3-but-longer';

function setup(t: Context, extra: Record<string, unknown> = {}) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  const run = (args: string[], stdin?: string | Buffer) => postern([...args, '--config', d.file], { stdin });
  return { ...d, run, database: path.join(d.root, 'data', 'postern.sqlite') };
}

function account(database: string, address: string) {
  const db = new DatabaseSync(database, { readOnly: true });
  try {
    return db.prepare('SELECT password_hash, scram, disabled FROM accounts WHERE address = ?').get(address) as
      | { password_hash: string; scram: string | null; disabled: number }
      | undefined;
  } finally {
    db.close();
  }
}

/** Every byte the store keeps: the database, its WAL and anything else in the data directory. */
function storedBytes(dataDir: string): Buffer {
  const files = fs.readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.ok(files.length > 0);
  return Buffer.concat(files.map((e) => fs.readFileSync(path.join(e.parentPath, e.name))));
}

function assertQuiet(results: CliResult[], secrets: string[]): void {
  for (const r of results) {
    for (const secret of secrets) {
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'a password was printed');
    }
  }
}

/** RFC 5802 §3: the StoredKey and ServerKey that `password` gives with the stored salt and count. */
function assertScramFor(scram: string | null, password: string, count = 4096): void {
  const match = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*):([A-Za-z0-9+/]+=*)$/.exec(scram ?? '');
  assert.ok(match, `RFC 5803 form: ${scram}`);
  const [, iterations, salt, storedKey, serverKey] = match as unknown as string[];
  assert.equal(Number(iterations), count);
  assert.equal(Buffer.from(salt!, 'base64').byteLength, 16);
  const salted = pbkdf2Sync(password, Buffer.from(salt!, 'base64'), count, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  assert.equal(storedKey, createHash('sha256').update(clientKey).digest('base64'));
  assert.equal(serverKey, createHmac('sha256', salted).update('Server Key').digest('base64'));
}

test('user add stores an argon2id hash and SCRAM credentials; the database never holds the password', async (t) => {
  const { root, run, database } = setup(t);
  const added = await run(['user', 'add', 'alice@example.com', '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, 'added alice@example.com\n');
  const row = account(database, 'alice@example.com');
  assert.ok(row);
  assert.equal(await verifyPassword(PASSWORD, row.password_hash), true);
  assertScramFor(row.scram, PASSWORD);
  assert.equal(row.disabled, 0);
  const bytes = storedBytes(path.join(root, 'data'));
  assert.equal(bytes.includes(PASSWORD), false, 'the password is nowhere in the stored files');
  assert.equal(bytes.includes(Buffer.from(PASSWORD, 'utf16le')), false);
  assertQuiet([added], [PASSWORD]);
});

test('auth.scramIterations sets the PBKDF2 count of the SCRAM credentials user add and user passwd store', async (t) => {
  const { run, database } = setup(t, { auth: { scramIterations: 100_000 } });
  const added = await run(['user', 'add', 'alice@example.com', '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  assertScramFor(account(database, 'alice@example.com')!.scram, PASSWORD, 100_000);
  const changed = await run(['user', 'passwd', 'alice@example.com', '--password-stdin'], `${NEW_PASSWORD}\n`);
  assert.equal(changed.code, 0, changed.stderr);
  assertScramFor(account(database, 'alice@example.com')!.scram, NEW_PASSWORD, 100_000);
});

test('user passwd replaces both credentials; errors name the problem', async (t) => {
  const { root, file, run, database } = setup(t);
  await addUser(file, 'alice@example.com');
  const before = account(database, 'alice@example.com');
  const results = await Promise.all([
    run(['user', 'passwd', 'alice@example.com', '--password-stdin'], `${NEW_PASSWORD}\n`),
    run(['user', 'passwd', 'nobody@example.com', '--password-stdin'], `${NEW_PASSWORD}\n`),
    run(['user', 'passwd', 'alice@example.com'], `${NEW_PASSWORD}\n`),
    run(['user', 'passwd', 'alice@example.com', '--password-stdin'], 'x7q!z\n'),
    run(['user', 'passwd', 'alice@example.com', '--password-stdin'], '\n'),
    run(['user', 'passwd', '--password-stdin'], `${NEW_PASSWORD}\n`),
  ]);
  const [changed, missing, noStdin, short, empty, noAddress] = results;
  assert.equal(changed!.code, 0, changed!.stderr);
  assert.equal(changed!.stdout, 'changed the password of alice@example.com\n');
  assert.equal(missing!.code, 1);
  assert.equal(missing!.stderr, 'postern: nobody@example.com: no such account\n');
  assert.equal(noStdin!.code, 2);
  assert.match(noStdin!.stderr, /^postern: user passwd: give the password on standard input with --password-stdin\n/);
  assert.equal(short!.code, 1);
  assert.match(short!.stderr, /too short/);
  assert.equal(empty!.code, 1);
  assert.match(empty!.stderr, /empty/);
  assert.equal(noAddress!.code, 2);
  assert.match(noAddress!.stderr, /usage: postern user passwd <address> --password-stdin/);

  const after = account(database, 'alice@example.com');
  assert.ok(before && after);
  assert.notEqual(after.password_hash, before.password_hash);
  assert.equal(await verifyPassword(NEW_PASSWORD, after.password_hash), true);
  assert.equal(await verifyPassword(PASSWORD, after.password_hash), false);
  assertScramFor(after.scram, NEW_PASSWORD);
  const bytes = storedBytes(path.join(root, 'data'));
  assert.equal(bytes.includes(NEW_PASSWORD), false);
  assert.equal(bytes.includes(PASSWORD), false);
  assertQuiet(results, [PASSWORD, NEW_PASSWORD, 'x7q!z']);
});

test('a password no SASL client could log in with is refused before it is stored', async (t) => {
  const { run, database } = setup(t);
  const add = (address: string, stdin: string | Buffer) => run(['user', 'add', address, '--password-stdin'], stdin);
  const cases: [stdin: string | Buffer, stderr: string][] = [
    // RFC 4616 §2: PLAIN promises 255 octets; 140 Cyrillic letters are 280 (PLAIN answered 501 for ever).
    [
      `${'ж'.repeat(140)}\n`,
      'postern: the password is 280 octets long in UTF-8: AUTH PLAIN and LOGIN clients and servers promise only 255 (RFC 4616 §2), so use a shorter one\n',
    ],
    [
      'pass\u0000word123\n',
      'postern: the password holds a control character (U+0000), which SASL logins cannot carry\n',
    ],
    ['pass\tword123\n', 'postern: the password holds a control character (U+0009), which SASL logins cannot carry\n'],
    [
      'correct horse\nbattery staple\n',
      'postern: the password read from standard input holds a line break: give it on one line\n',
    ],
    [
      Buffer.from([0x70, 0x61, 0x73, 0x73, 0xff, 0x77, 0x6f, 0x72, 0x64, 0x21, 0x0a]),
      'postern: the password read from standard input is not valid UTF-8\n',
    ],
    ['😀😀😀😀\n', 'postern: the password is too short: use at least 8 characters\n'], // 8 UTF-16 units, 4 characters
    // Five soft hyphens and "abc": SASLprep (RFC 4013 §2.2) drops them, and "abc" logged in.
    [`${'\u00ad'.repeat(5)}abc\n`, 'postern: the password is too short: use at least 8 characters\n'],
    // SASLprep's prohibitions (RFC 4013 §2.3, §2.4): stored before, PLAIN took them, SCRAM clients refuse them.
    [
      'abc\u0085defghij\n',
      'postern: the password cannot be prepared for SASL logins: it holds U+0085, a character SASLprep prohibits (RFC 4013 §2.3); SCRAM clients would refuse it, choose another\n',
    ],
    [
      'secret\u200ephrase\n',
      'postern: the password cannot be prepared for SASL logins: it holds U+200E, a character SASLprep prohibits (RFC 4013 §2.3); SCRAM clients would refuse it, choose another\n',
    ],
    [
      'שלום1234\n',
      'postern: the password cannot be prepared for SASL logins: right-to-left letters must begin and end it, with no left-to-right letter (RFC 4013 §2.4, RFC 3454 §6); SCRAM clients would refuse it, choose another\n',
    ],
  ];
  // 255 octets is fine, and eight characters of any script; right-to-left ones too, when SASLprep takes them.
  assert.equal((await add('hebrew@example.com', 'שלוםשלוםש\n')).code, 0);
  assert.equal((await add('max@example.com', `${'ж'.repeat(127)}x\n`)).code, 0);
  assert.equal((await add('emoji@example.com', '😀😀😀😀😀😀😀😀\n')).code, 0);
  for (const [index, [stdin, stderr]] of cases.entries()) {
    const result = await add(`user${index}@example.com`, stdin);
    assert.equal(result.stderr, stderr, String(index));
    assert.equal(result.code, 1);
    assert.equal(account(database, `user${index}@example.com`), undefined, 'nothing stored');
  }
});

test('user passwd gives an account migrated without SCRAM its credentials', async (t) => {
  const { file, run, database } = setup(t);
  await addUser(file, 'alice@example.com');
  const db = new DatabaseSync(database);
  db.prepare('UPDATE accounts SET scram = NULL').run(); // as schema version 4 leaves older accounts
  db.close();
  const listed = await run(['user', 'list', '--json']);
  assert.equal(JSON.parse(listed.stdout)[0].scram, false);
  const changed = await run(['user', 'passwd', 'alice@example.com', '--password-stdin'], `${NEW_PASSWORD}\n`);
  assert.equal(changed.code, 0, changed.stderr);
  assertScramFor(account(database, 'alice@example.com')?.scram ?? null, NEW_PASSWORD);
  assert.equal(JSON.parse((await run(['user', 'list', '--json'])).stdout)[0].scram, true);
});

test('user disable and enable; user list shows disabled accounts and, with --json, aliases', async (t) => {
  const { file, run, database } = setup(t);
  await Promise.all([addUser(file, 'alice@example.com'), addUser(file, 'bob@example.com')]);
  const disabled = await run(['user', 'disable', 'Bob@Example.com']);
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.equal(disabled.stdout, 'disabled bob@example.com: it can no longer log in\n');
  assert.equal(account(database, 'bob@example.com')?.disabled, 1);
  assert.equal((await run(['alias', 'add', 'postmaster@example.com', 'alice@example.com'])).code, 0);
  assert.equal((await run(['alias', 'add', 'abuse@example.com', 'alice@example.com'])).code, 0);

  const [list, json, missing, noAddress, twoAddresses] = await Promise.all([
    run(['user', 'list']),
    run(['user', 'list', '--json']),
    run(['user', 'disable', 'nobody@example.com']),
    run(['user', 'enable']),
    run(['user', 'disable', 'alice@example.com', 'bob@example.com']),
  ]);
  assert.equal(list.stdout, 'alice@example.com\nbob@example.com (disabled)\n');
  const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map(({ address, disabled, scram, aliases }) => ({ address, disabled, scram, aliases })),
    [
      {
        address: 'alice@example.com',
        disabled: false,
        scram: true,
        aliases: ['abuse@example.com', 'postmaster@example.com'],
      },
      { address: 'bob@example.com', disabled: true, scram: true, aliases: [] },
    ],
  );
  assert.match(String(rows[0]!.created), /^\d{4}-\d\d-\d\dT/);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'postern: nobody@example.com: no such account\n');
  assert.equal(noAddress.code, 2);
  assert.match(noAddress.stderr, /usage: postern user enable <address>/);
  assert.equal(twoAddresses.code, 2);

  const enabled = await run(['user', 'enable', 'bob@example.com']);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.equal(enabled.stdout, 'enabled bob@example.com\n');
  assert.equal((await run(['user', 'list'])).stdout, 'alice@example.com\nbob@example.com\n');
  const unknown = await run(['user', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /user: unknown subcommand "frobnicate"/);
});

test('alias add, list and remove; an alias is taken by no account, and removing the account removes it', async (t) => {
  const { file, run } = setup(t);
  await Promise.all([addUser(file, 'alice@example.com'), addUser(file, 'bob@example.com')]);
  const added = await run(['alias', 'add', 'PostMaster@Example.com', 'alice@example.com']);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, 'added postmaster@example.com -> alice@example.com\n');
  assert.equal((await run(['alias', 'add', 'robert@example.com', 'bob@example.com'])).code, 0);

  const [list, json, ofBob, ofNobody] = await Promise.all([
    run(['alias', 'list']),
    run(['alias', 'list', '--json']),
    run(['alias', 'list', 'bob@example.com']),
    run(['alias', 'list', 'nobody@example.com']),
  ]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, 'postmaster@example.com -> alice@example.com\nrobert@example.com -> bob@example.com\n');
  assert.deepEqual(JSON.parse(json.stdout), [
    { alias: 'postmaster@example.com', account: 'alice@example.com' },
    { alias: 'robert@example.com', account: 'bob@example.com' },
  ]);
  assert.equal(ofBob.stdout, 'robert@example.com -> bob@example.com\n');
  assert.equal(ofNobody.code, 1);
  assert.equal(ofNobody.stderr, 'postern: nobody@example.com: no such account\n');

  // An address is an account or an alias: user add refuses an alias's address.
  const asAccount = await run(['user', 'add', 'postmaster@example.com', '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(asAccount.code, 1);
  assert.match(
    asAccount.stderr,
    /^postern: postmaster@example\.com is an alias of alice@example\.com: remove the alias/,
  );

  const removed = await run(['alias', 'remove', 'postmaster@example.com']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, 'removed postmaster@example.com\n');
  const gone = await run(['alias', 'remove', 'postmaster@example.com']);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, 'postern: postmaster@example.com: no such alias\n');

  // Removing bob removes robert@ too.
  assert.equal((await run(['user', 'remove', 'bob@example.com'])).code, 0);
  assert.equal((await run(['alias', 'list'])).stdout, '');
  assert.equal((await run(['alias', 'list', '--json'])).stdout, '[]\n');
});

test('alias errors: one line naming the problem', async (t) => {
  const { file, run } = setup(t);
  await Promise.all([addUser(file, 'alice@example.com'), addUser(file, 'bob@example.com')]);
  assert.equal((await run(['alias', 'add', 'postmaster@example.com', 'alice@example.com'])).code, 0);
  const cases: [args: string[], code: number, stderr: RegExp][] = [
    [
      ['alias', 'add', 'postmaster@example.com', 'bob@example.com'],
      1,
      /postmaster@example\.com is already an alias of alice@example\.com/,
    ],
    [['alias', 'add', 'bob@example.com', 'alice@example.com'], 1, /bob@example\.com is the address of an account/],
    [['alias', 'add', 'info@example.com', 'nobody@example.com'], 1, /no account nobody@example\.com/],
    [
      ['alias', 'add', 'info@example.com', 'postmaster@example.com'],
      1,
      /postmaster@example\.com is an alias of alice@example\.com, not an account/,
    ],
    [
      ['alias', 'add', 'info@example.org', 'alice@example.com'],
      1,
      /domain example\.org is not one of this server's domains \(example\.com\)/,
    ],
    [
      ['alias', 'add', '@example.com', 'alice@example.com'],
      1,
      /@example\.com: catch-all aliases are not supported \(off by design for now\)/,
    ],
    [['alias', 'add', '*@example.com', 'alice@example.com'], 1, /catch-all aliases are not supported/],
    // An argument that is no address is a usage error, as a bad `mail show` UID or `quarantine --to` is.
    [['alias', 'add', 'not an address', 'alice@example.com'], 2, /"not an address" is not a valid address/],
    [['user', 'remove', 'not an address'], 2, /"not an address" is not a valid address/],
    [['user', 'add', '""@example.com', '--password-stdin'], 2, /the part before @ is empty: "" quotes nothing/],
    [['user', 'add', '@example.com', '--password-stdin'], 2, /the part before @ is empty/],
    [
      ['alias', 'add', 'info@xn--zz.example', 'alice@example.com'],
      2,
      /"xn--zz" is not an IDNA A-label: its Punycode does not decode to a valid name/,
    ],
    // An account given to `alias remove`: said so, with the command that removes accounts.
    [
      ['alias', 'remove', 'alice@example.com'],
      1,
      /^postern: alice@example\.com is an account, not an alias: "postern user remove alice@example\.com" removes an account/,
    ],
    [['alias', 'add', 'info@example.com'], 2, /usage: postern alias add <alias> <account>/],
    [['alias', 'remove'], 2, /usage: postern alias remove <alias>/],
    [['alias', 'list', 'a@example.com', 'b@example.com'], 2, /usage: postern alias list/],
    [['alias'], 2, /alias: missing subcommand \(add, remove, list\)/],
    [['user'], 2, /user: missing subcommand \(add, passwd, disable, enable, list, remove\)/],
    [['alias', 'frobnicate'], 2, /alias: unknown subcommand "frobnicate"/],
    [['alias', 'list', '--verbose'], 2, /alias list: unknown option --verbose\n/],
  ];
  // Four at a time: sixteen CLI processes at once on a loaded two-core CI machine once failed here.
  const results: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < cases.length; i += 4) {
    results.push(...(await Promise.all(cases.slice(i, i + 4).map(([args]) => run(args)))));
  }
  for (const [i, [args, code, stderr]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, stderr, args.join(' '));
    assert.match(r.stderr, /^postern: /, args.join(' '));
    assert.equal(r.stderr.split('\n').filter(Boolean).length, code === 2 ? 2 : 1, `one line: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(JSON.parse((await run(['alias', 'list', '--json'])).stdout), [
    { alias: 'postmaster@example.com', account: 'alice@example.com' },
  ]);
});

test('an alias given where an account is needed names its account and what to run instead, not "no such account"', async (t) => {
  const { file, run } = setup(t);
  await addUser(file, 'alice@example.com');
  assert.equal((await run(['alias', 'add', 'info@example.com', 'alice@example.com'])).code, 0);
  const cases: [args: string[], instead: RegExp][] = [
    [
      ['user', 'remove', 'info@example.com'],
      /remove the alias with "postern alias remove info@example\.com" \("postern user remove alice@example\.com" would delete the account/,
    ],
    [
      ['mail', 'list', 'info@example.com'],
      /its mail is delivered to alice@example\.com's mailboxes: postern mail list alice@example\.com$/m,
    ],
    [['mail', 'show', 'info@example.com', '7'], /postern mail show alice@example\.com 7$/m],
    [['user', 'disable', 'info@example.com'], /"postern user disable alice@example\.com" stops the account's/],
    [['user', 'enable', 'info@example.com'], /"postern user enable alice@example\.com"/],
    [['alias', 'list', 'info@example.com'], /postern alias list alice@example\.com$/m],
  ];
  const results = await Promise.all(cases.map(([args]) => run(args)));
  for (const [i, [args, instead]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^postern: info@example\.com is an alias of alice@example\.com, not an account: /,
      args.join(' '),
    );
    assert.match(r.stderr, instead, args.join(' '));
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${r.stderr}`);
  }
  const passwd = await run(['user', 'passwd', 'info@example.com', '--password-stdin'], `${NEW_PASSWORD}\n`);
  assert.equal(passwd.code, 1);
  assert.match(passwd.stderr, /is an alias of alice@example\.com, not an account: it has no password of its own/);
  // Nothing was removed or changed: the alias and the account are still there, and the password too.
  assert.equal((await run(['alias', 'list'])).stdout, 'info@example.com -> alice@example.com\n');
  assert.equal((await run(['user', 'list'])).stdout, 'alice@example.com\n');
  // An address that is neither is still "no such account".
  assert.equal(
    (await run(['user', 'remove', 'nobody@example.com'])).stderr,
    'postern: nobody@example.com: no such account\n',
  );
});

test('a password typed at a terminal is not echoed; the terminal is restored', async (t) => {
  const { file } = configDir();
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  // A real pseudo-terminal (atTerminal, below): what the user would see is what the pty echoes back.
  const { seen, code } = await atTerminal(
    ['user', 'add', 'tty@example.com', '--password-stdin', '--config', file],
    [Buffer.from('typed secret pw\x7fW\r')],
  );
  assert.equal(code, '0', seen);
  assert.match(seen, /Password: /);
  assert.doesNotMatch(seen, /typed|secret/, 'the password is not echoed');
  const list = await postern(['user', 'list', '--config', file]);
  assert.match(list.stdout, /tty@example\.com/);
  // Backspace removed the typed "w"; the password is "typed secret pW".
  const account = new DatabaseSync(path.join(path.dirname(file), 'data', 'postern.sqlite'), { readOnly: true });
  const row = account.prepare('SELECT password_hash FROM accounts WHERE address = ?').get('tty@example.com');
  account.close();
  assert.equal(await verifyPassword('typed secret pW', String(row?.password_hash)), true);
});

test("user remove names the aliases and the mail it deleted; losing a domain's postmaster is warned of", async (t) => {
  const { file, root, run } = setup(t);
  await Promise.all([addUser(file, 'gina@example.com'), addUser(file, 'alice@example.com')]);
  for (const alias of ['postmaster@example.com', 'abuse@example.com']) {
    assert.equal((await run(['alias', 'add', alias, 'gina@example.com'])).code, 0);
  }
  const store = await openSqliteStore({ dataDir: path.join(root, 'data') });
  try {
    const gina = await store.findAccount('gina@example.com');
    assert.ok(gina);
    for (const mailbox of ['INBOX', 'INBOX', 'INBOX', 'Junk'] as const) {
      await store.deliver({
        mailFrom: 'sender@example.net',
        recipients: [{ address: gina.address, accountId: gina.id, mailbox }],
        content: Buffer.from('From: sender@example.net\r\nSubject: hi\r\n\r\nhello\r\n'),
        receivedAt: new Date(),
      });
    }
  } finally {
    await store.close();
  }

  // Before, only "removed gina@example.com and its mail", exit 0, and postmaster@ then got 550.
  const removed = await run(['user', 'remove', 'gina@example.com']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(
    removed.stdout,
    'removed gina@example.com and its mail: 4 messages in 2 mailboxes\n' +
      'removed its aliases: abuse@example.com, postmaster@example.com\n',
  );
  assert.equal(
    removed.stderr,
    'warning: example.com and mx.example.com (the host name) have no postmaster now: RFC 5321 §4.5.1 requires one ' +
      'at every domain served, and mail to postmaster@ each is refused (550) until there is one: ' +
      'postern alias add postmaster@example.com <account> (the others fall back to it)\n',
  );
  assert.equal((await run(['alias', 'list'])).stdout, '');

  // alias remove of the postmaster warns alike; of another alias, it says nothing on stderr.
  assert.equal((await run(['alias', 'add', 'postmaster@example.com', 'alice@example.com'])).code, 0);
  assert.equal((await run(['alias', 'add', 'info@example.com', 'alice@example.com'])).code, 0);
  const [postmaster, info] = await Promise.all([
    run(['alias', 'remove', 'postmaster@example.com']),
    run(['alias', 'remove', 'info@example.com']),
  ]);
  assert.equal(postmaster.code, 0, postmaster.stderr);
  assert.equal(postmaster.stdout, 'removed postmaster@example.com\n');
  assert.match(
    postmaster.stderr,
    /^warning: example\.com and mx\.example\.com \(the host name\) have no postmaster now: /,
  );
  assert.equal(info.code, 0, info.stderr);
  assert.equal(info.stderr, '');

  const alice = await run(['user', 'remove', 'alice@example.com']);
  assert.equal(alice.stdout, 'removed alice@example.com and its mail: 0 messages in 1 mailbox\n');
  assert.equal(alice.stderr, '');
});

test('--password-stdin stops reading past 4 KiB, saying the input is too long; a directory is named', async (t) => {
  const { file, root, database } = setup(t);
  await addUser(file, 'alice@example.com'); // the store exists, to look in
  // 64 MiB offered; postern must stop long before (before, it read it all: 800 MB took 2.4 GB of memory).
  const child = spawn(POSTERN, ['user', 'add', 'big@example.com', '--password-stdin', '--config', file]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let offered = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 1024; i++) {
        offered += chunk.length;
        yield chunk;
      }
    })(),
  );
  await pipeline(source, child.stdin).catch(() => {}); // EPIPE once postern has stopped reading
  assert.equal(await exited, 1);
  assert.equal(
    stderr,
    'postern: the password read from standard input is too long: more than 4096 octets (a password is at most 255, RFC 4616 §2)\n',
  );
  assert.ok(offered < 16 * 1024 * 1024, `read on to ${offered} octets`);
  assert.equal(account(database, 'big@example.com'), undefined);

  // A directory on standard input read as nothing, and was called an empty password.
  const { stdout } = await execFileAsync(
    'sh',
    [
      '-c',
      '"$0" user add dir@example.com --password-stdin --config "$1" < "$2" 2>&1; echo "exit $?"',
      POSTERN,
      file,
      root,
    ],
    { timeout: 20_000 },
  );
  assert.equal(
    stdout,
    'postern: standard input is a directory, not the password: give the password, or a file that holds it\nexit 1\n',
  );
  assert.equal(account(database, 'dir@example.com'), undefined);
});

/**
 * bin/postern at a real pseudo-terminal (Python's pty module): each of `writes` is sent as one write,
 * 0.3 s apart once "Password: " shows (none if it never does), so the reads split where they do.
 */
async function atTerminal(args: string[], writes: Buffer[]): Promise<{ seen: string; code: string }> {
  const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1]] + sys.argv[3].split('\\x1f'))
writes = [bytes.fromhex(h) for h in sys.argv[2].split(',') if h]
seen = b''
def read_for(seconds, until=None):
    global seen
    end = time.time() + seconds
    while time.time() < end:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
        if until is not None and until in seen:
            return True
    return False
if read_for(20, b'Password: '):
    for w in writes:
        os.write(fd, w)
        time.sleep(0.3)
    read_for(20)
_, status = os.waitpid(pid, 0)
sys.stdout.write(repr(seen) + '\\n' + str(os.waitstatus_to_exitcode(status)) + '\\n')
`;
  const { stdout } = await execFileAsync(
    'python3',
    ['-c', script, POSTERN, writes.map((w) => w.toString('hex')).join(','), args.join('\x1f')],
    { timeout: 60_000 },
  );
  const [seen, code] = stdout.trim().split('\n');
  return { seen: seen ?? '', code: code ?? '' };
}

test('at a terminal: a character split across two reads is one character; bytes that are not UTF-8 are refused', async (t) => {
  const { file, database } = setup(t);
  const config = ['--config', file];
  // "pé" then "sswörd1": the é's two octets arrive in two reads (before, stored as two U+FFFD).
  const split = await atTerminal(
    ['user', 'add', 'split@example.com', '--password-stdin', ...config],
    [Buffer.from([0x70, 0xc3]), Buffer.from([0xa9, ...Buffer.from('sswörd1\r')])],
  );
  assert.equal(split.code, '0', split.seen);
  const row = account(database, 'split@example.com');
  assert.ok(row);
  assert.equal(await verifyPassword('pésswörd1', row.password_hash), true);
  assertScramFor(row.scram, 'pésswörd1');

  // A Latin-1 terminal's "ÿ" (0xff): refused as on a pipe, not stored as U+FFFD.
  const latin1 = await atTerminal(
    ['user', 'add', 'latin1@example.com', '--password-stdin', ...config],
    [Buffer.from([...Buffer.from('pass'), 0xff, ...Buffer.from('word12\r')])],
  );
  assert.equal(latin1.code, '1', latin1.seen);
  assert.match(latin1.seen, /the password typed is not valid UTF-8/);
  assert.equal(account(database, 'latin1@example.com'), undefined);
});

test('user passwd at a terminal names a missing account before asking for the password', async (t) => {
  const { file } = setup(t);
  await addUser(file, 'alice@example.com');
  assert.equal((await postern(['alias', 'add', 'info@example.com', 'alice@example.com', '--config', file])).code, 0);
  for (const [address, message] of [
    ['nobody@example.com', /postern: nobody@example\.com: no such account/],
    ['info@example.com', /info@example\.com is an alias of alice@example\.com, not an account/],
  ] as const) {
    const r = await atTerminal(
      ['user', 'passwd', address, '--password-stdin', '--config', file],
      [Buffer.from('a new password\r')],
    );
    assert.equal(r.code, '1', r.seen);
    assert.match(r.seen, message);
    assert.doesNotMatch(r.seen, /Password:/, 'not asked for');
  }
});

test('TypedLine: one stream of reads, Backspace by character, Ctrl-C and Ctrl-D', () => {
  const line = new TypedLine();
  assert.equal(line.feed(Buffer.from([0x61, 0xf0, 0x9f])), undefined); // "a" and half an emoji
  assert.equal(line.feed(Buffer.from([0x98, 0x80, 0x62, 0xd0])), undefined);
  assert.equal(line.feed(Buffer.from([0xb6, 0x7f, 0x63, 0x0d])), 'a😀bc'); // ж, then Backspace
  assert.throws(() => new TypedLine().feed(Buffer.from([0x61, 0xc3, 0x28])), /not valid UTF-8/);
  assert.throws(() => new TypedLine().feed(Buffer.from([0x61, 0x03])), /interrupted/);
  assert.throws(() => new TypedLine().feed(Buffer.from([0x04])), /no password read/);
  assert.equal(new TypedLine().feed(Buffer.from('abc\u0004')), 'abc');
});

test('help lists the account and alias commands', async () => {
  const r = await postern(['help']);
  assert.equal(r.code, 0);
  for (const command of [
    'user passwd <address> --password-stdin',
    'user disable <address>',
    'user enable <address>',
    'alias add <alias> <account>',
    'alias remove <alias>',
    'alias list [<account>] [--json]',
  ]) {
    assert.ok(r.stdout.includes(command), command);
  }
});

test('commands started together on a new data directory: one creates the store, none sees it half made', async (t) => {
  // The store is made in one transaction: a command that looked while another was creating it had
  // read a version in between as an old store and refused to work ("run postern migrate first").
  const { file } = setup(t);
  const addresses = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => `${name}@example.com`);
  await Promise.all(addresses.map((address) => addUser(file, address)));
  const listed = await postern(['user', 'list', '--json', '--config', file]);
  assert.deepEqual((JSON.parse(listed.stdout) as { address: string }[]).map((a) => a.address).sort(), addresses);
});
