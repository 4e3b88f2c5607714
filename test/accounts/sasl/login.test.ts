import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Credentials, createExchange, type SaslStep } from '../../../src/accounts/sasl/index.ts';

const PASSWORDS: Record<string, string> = { 'tim@example.com': 'tanstaaftanstaaf' };

function login(calls: string[] = []) {
  const credentials: Credentials = {
    verifyPassword: async (username, password) => {
      calls.push(username);
      return PASSWORDS[username] === password;
    },
    scramCredentials: async () => undefined,
  };
  const e = createExchange('LOGIN', credentials, { plusOffered: false });
  assert.ok(e);
  return e;
}

const text = (s: string) => Buffer.from(s, 'utf8');
const USERNAME = { type: 'challenge', data: text('Username:') };
const PASSWORD = { type: 'challenge', data: text('Password:') };
const outcome = (s: SaslStep) => (s.type === 'failure' ? s.reason : s.type);

test('LOGIN: "Username:", "Password:", then success with the lower-cased user', async () => {
  const e = login();
  assert.deepEqual(await e.start(undefined), USERNAME);
  assert.deepEqual(await e.next(text('Tim@Example.com')), PASSWORD);
  assert.deepEqual(await e.next(text('tanstaaftanstaaf')), { type: 'success', username: 'tim@example.com' });
});

test('LOGIN prepares the user name with SASLprep, as PLAIN and SCRAM do: fullwidth letters log in', async () => {
  const e = login();
  assert.deepEqual(await e.start(text('ＴＩＭ@example.com')), PASSWORD);
  assert.deepEqual(await e.next(text('tanstaaftanstaaf')), { type: 'success', username: 'tim@example.com' });
});

test('LOGIN with the user name as initial response goes straight to "Password:"', async () => {
  const e = login();
  assert.deepEqual(await e.start(text('tim@example.com')), PASSWORD);
  assert.equal(outcome(await e.next(text('tanstaaftanstaaf'))), 'success');
});

const CASES: [name: string, username: Buffer, password: Buffer, want: string][] = [
  ['wrong password', text('tim@example.com'), text('tanstaaf'), 'credentials'],
  ['unknown user', text('nobody@example.com'), text('tanstaaftanstaaf'), 'credentials'],
  ['empty password', text('tim@example.com'), Buffer.alloc(0), 'malformed'],
  ['password over 255 octets', text('tim@example.com'), text('p'.repeat(256)), 'malformed'],
  ['NUL in the password', text('tim@example.com'), text('tanstaaf\0tanstaaf'), 'malformed'],
  ['password not UTF-8', text('tim@example.com'), Buffer.from([0xff, 0xfe]), 'malformed'],
];
for (const [name, username, password, want] of CASES) {
  test(`LOGIN ${name} → ${want}`, async () => {
    const e = login();
    await e.start(undefined);
    assert.deepEqual(await e.next(username), PASSWORD);
    assert.equal(outcome(await e.next(password)), want);
  });
}

const BAD_USERNAMES: [name: string, username: Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['over 255 octets', text('u'.repeat(256))],
  ['with a NUL', text('tim\0@example.com')],
  ['not UTF-8', Buffer.from([0xc3, 0x28])],
];
for (const [name, username] of BAD_USERNAMES) {
  test(`LOGIN user name ${name} → malformed at once, no password asked`, async () => {
    const calls: string[] = [];
    const e = login(calls);
    await e.start(undefined);
    assert.equal(outcome(await e.next(username)), 'malformed');
    assert.equal(outcome(await e.next(text('tanstaaftanstaaf'))), 'malformed', 'the exchange is over');
    assert.deepEqual(calls, []);
  });
}

test('LOGIN with an empty initial response is malformed (an empty user name)', async () => {
  assert.equal(outcome(await login().start(Buffer.alloc(0))), 'malformed');
});

test('LOGIN failure names the user tried, for per-account throttling', async () => {
  const e = login();
  await e.start(text('Tim@example.com'));
  const step = await e.next(text('nope'));
  assert.equal(step.type === 'failure' && step.username, 'tim@example.com');
});

test('LOGIN after the end only fails', async () => {
  const e = login();
  await e.start(text('tim@example.com'));
  await e.next(text('tanstaaftanstaaf'));
  assert.equal(outcome(await e.next(text('tanstaaftanstaaf'))), 'malformed');
  assert.equal(outcome(await e.start(undefined)), 'malformed');
});
