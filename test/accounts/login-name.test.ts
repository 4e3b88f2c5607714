// A login name is read as RCPT TO and MAIL FROM read the address (address.ts's normal form), after
// SASLprep: "carol"@example.com logs in as carol@example.com by PLAIN, LOGIN and SCRAM, over a real
// TLS socket, and a failed login counts under the one account key however the name is quoted.
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { hashPassword } from '../../src/accounts/password.ts';
import { prepareLoginName } from '../../src/accounts/password-prep.ts';
import { deriveScramCredentials, formatScramCredentials } from '../../src/accounts/sasl/scram.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

const PASSWORD = 'correct horse battery staple';
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

let server: TestServer;
before(async () => {
  // Failures never block or slow this client: the test counts them, it does not wait them out.
  server = await startTestServer({ auth: { failureDelayMs: 0, maxFailuresPerClient: 1000 } });
  const scram = formatScramCredentials(deriveScramCredentials(PASSWORD));
  await server.store.createAccount('carol@example.com', await hashPassword(PASSWORD), scram);
});
after(() => server.stop());

async function session(): Promise<SmtpClient> {
  const { client } = await SmtpClient.openTls(server.submissionsPort);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  return client;
}

async function plain(user: string, password: string): Promise<string> {
  const client = await session();
  try {
    return codeOf(await client.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`));
  } finally {
    await client.close();
  }
}

async function login(user: string, password: string): Promise<string> {
  const client = await session();
  try {
    assert.equal((await client.command('AUTH LOGIN')).code, 334);
    assert.equal((await client.command(b64(user))).code, 334);
    return codeOf(await client.command(b64(password)));
  } finally {
    await client.close();
  }
}

/** RFC 5802 §3 client side; the user name sent as given (RFC 5802 §5.1 saslname: "," and "=" escaped). */
async function scram(user: string, password: string): Promise<string> {
  const client = await session();
  try {
    const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${randomBytes(18).toString('base64')}`;
    const first = await client.command(`AUTH SCRAM-SHA-256 ${b64(`n,,${bare}`)}`);
    if (first.code !== 334) return codeOf(first);
    const serverFirst = Buffer.from(first.lines[0]!, 'base64').toString();
    const fields = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(fields.s!, 'base64'), Number(fields.i), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const finalNoProof = `c=${b64('n,,')},r=${fields.r}`;
    const signature = createHmac('sha256', storedKey).update(`${bare},${serverFirst},${finalNoProof}`).digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
    const last = await client.command(b64(`${finalNoProof},p=${proof.toString('base64')}`));
    return codeOf(last.code === 334 ? await client.command('') : last);
  } finally {
    await client.close();
  }
}

test('prepareLoginName: SASLprep, then the address normal form RCPT TO uses', () => {
  assert.equal(prepareLoginName('"carol"@example.com'), 'carol@example.com');
  assert.equal(prepareLoginName('"Carol"@Example.COM'), 'carol@example.com');
  assert.equal(prepareLoginName('"ca\\rol"@example.com'), 'carol@example.com', 'a quoted-pair is its character');
  // SASLprep first (RFC 4013 §2.1: a soft hyphen maps to nothing), then the quotes go.
  assert.equal(prepareLoginName('"car\u00adol"@example.com'), 'carol@example.com');
  assert.equal(prepareLoginName('"john smith"@example.com'), '"john smith"@example.com', 'needs its quotes');
  assert.equal(prepareLoginName('bob@bücher.example'), 'bob@xn--bcher-kva.example');
  assert.equal(prepareLoginName('Not An Address'), 'not an address', 'no address: lower case only');
});

test('a quoted login name logs in as its account by PLAIN, LOGIN and SCRAM, as RCPT TO reads it', async () => {
  // Before: 535 5.7.8 for each, while RCPT TO:<"carol"@example.com> was carol's.
  for (const name of ['"carol"@example.com', '"Carol"@example.com', '"ca\\rol"@example.com']) {
    assert.equal(await plain(name, PASSWORD), '235 2.7.0', `PLAIN ${name}`);
    assert.equal(await login(name, PASSWORD), '235 2.7.0', `LOGIN ${name}`);
    assert.equal(await scram(name, PASSWORD), '235 2.7.0', `SCRAM ${name}`);
  }
  // SASLprep is still applied, before the quotes are read.
  assert.equal(await plain('"car\u00adol"@example.com', PASSWORD), '235 2.7.0');
  // Logged in as the account: it may send as itself.
  const client = await session();
  assert.equal(codeOf(await client.command(`AUTH PLAIN ${b64(`\0"carol"@example.com\0${PASSWORD}`)}`)), '235 2.7.0');
  assert.equal(codeOf(await client.command('MAIL FROM:<carol@example.com>')), '250 2.1.0');
  await client.close();
  // A wrong password is still wrong.
  assert.equal(await plain('"carol"@example.com', 'wrong password'), '535 5.7.8');
});

test('failed logins count under one account key however the name is quoted', async () => {
  const database = new DatabaseSync(path.join(server.dataDir, 'postern.sqlite'), { readOnly: true });
  try {
    const count = (key: string) =>
      (database.prepare('SELECT count FROM login_failures WHERE key = ?').get(key) as { count: number } | undefined)
        ?.count ?? 0;
    const before = count('account:carol@example.com');
    const names = ['carol@example.com', '"carol"@example.com', '"CAROL"@example.com', '"c\\arol"@example.com'];
    for (const name of names) assert.equal(await plain(name, 'wrong password'), '535 5.7.8');
    assert.equal(await login('"carol"@example.com', 'wrong password'), '535 5.7.8');
    assert.equal(await scram('"carol"@example.com', 'wrong password'), '535 5.7.8');
    assert.equal(count('account:carol@example.com') - before, names.length + 2);
    const keys = database.prepare("SELECT key FROM login_failures WHERE key LIKE 'account:%'").all();
    assert.deepEqual(
      keys.map((row) => row.key),
      ['account:carol@example.com'],
      'no second key for a quoted form',
    );
  } finally {
    database.close();
  }
});
