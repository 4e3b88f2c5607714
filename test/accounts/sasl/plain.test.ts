import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Credentials, createExchange, type SaslStep } from '../../../src/accounts/sasl/index.ts';

const PASSWORDS: Record<string, string> = { 'tim@example.com': 'tanstaaftanstaaf' };

/** Records the calls, so a test can see that a refused message never reached the password check. */
function credentials(calls: string[] = []): Credentials {
  return {
    verifyPassword: async (username, password) => {
      calls.push(username);
      return PASSWORDS[username] === password;
    },
    scramCredentials: async () => undefined,
  };
}

function plain(calls?: string[]) {
  const e = createExchange('PLAIN', credentials(calls), { plusOffered: false });
  assert.ok(e);
  return e;
}

const nul = (...parts: string[]) => Buffer.from(parts.join('\0'), 'utf8');
const outcome = (s: SaslStep) => (s.type === 'failure' ? s.reason : s.type);

// RFC 4616 §4 examples use tim/tanstaaftanstaaf; our accounts are addresses.
const CASES: [name: string, message: Buffer, want: string][] = [
  ['authcid and password, no authzid', nul('', 'tim@example.com', 'tanstaaftanstaaf'), 'success'],
  ['authzid equal to authcid', nul('tim@example.com', 'tim@example.com', 'tanstaaftanstaaf'), 'success'],
  ['authcid in another case', nul('', 'Tim@Example.COM', 'tanstaaftanstaaf'), 'success'],
  // RFC 4616 §2: the authcid is prepared with SASLprep, as SCRAM prepares its username (one rule for both).
  ['authcid in fullwidth letters', nul('', 'ｔｉｍ@example.com', 'tanstaaftanstaaf'), 'success'],
  ['authcid with a soft hyphen', nul('', 'ti\u00adm@example.com', 'tanstaaftanstaaf'), 'success'],
  ['authzid in fullwidth letters', nul('ｔｉｍ@example.com', 'tim@example.com', 'tanstaaftanstaaf'), 'success'],
  ['wrong password', nul('', 'tim@example.com', 'tanstaaf'), 'credentials'],
  ['unknown user', nul('', 'nobody@example.com', 'tanstaaftanstaaf'), 'credentials'],
  [
    'authzid of another user (proxy authorization)',
    nul('ken@example.com', 'tim@example.com', 'tanstaaftanstaaf'),
    'credentials',
  ],
  ['no NUL at all', Buffer.from('tim@example.com tanstaaftanstaaf'), 'malformed'],
  ['one NUL only', nul('tim@example.com', 'tanstaaftanstaaf'), 'malformed'],
  ['three NULs', nul('', 'tim@example.com', 'tanstaaf', 'taaf'), 'malformed'],
  ['empty authcid', nul('', '', 'tanstaaftanstaaf'), 'malformed'],
  ['empty password', nul('', 'tim@example.com', ''), 'malformed'],
  ['password over 255 octets (RFC 4616 §2)', nul('', 'tim@example.com', 'p'.repeat(256)), 'malformed'],
  ['authcid over 255 octets', nul('', `${'t'.repeat(250)}@example.com`, 'tanstaaftanstaaf'), 'malformed'],
  ['invalid UTF-8', Buffer.concat([nul('', 'tim@example.com', ''), Buffer.from([0xc3, 0x28])]), 'malformed'],
  ['empty message', Buffer.alloc(0), 'malformed'],
];
for (const [name, message, want] of CASES) {
  test(`PLAIN initial response, ${name} → ${want}`, async () => {
    assert.equal(outcome(await plain().start(message)), want);
  });
}

test('PLAIN success names the lower-cased user', async () => {
  const step = await plain().start(nul('', 'Tim@Example.COM', 'tanstaaftanstaaf'));
  assert.deepEqual(step, { type: 'success', username: 'tim@example.com' });
});

test('PLAIN without an initial response: an empty challenge, then the message', async () => {
  const e = plain();
  assert.deepEqual(await e.start(undefined), { type: 'challenge', data: Buffer.alloc(0) });
  assert.equal(outcome(await e.next(nul('', 'tim@example.com', 'tanstaaftanstaaf'))), 'success');
});

test('PLAIN without an initial response, wrong password on the second message', async () => {
  const e = plain();
  await e.start(undefined);
  const step = await e.next(nul('', 'tim@example.com', 'nope'));
  assert.deepEqual(step, {
    type: 'failure',
    reason: 'credentials',
    message: 'authentication failed',
    username: 'tim@example.com',
  });
});

test('PLAIN refuses a proxy authzid and a malformed message before checking any password', async () => {
  const calls: string[] = [];
  await plain(calls).start(nul('ken@example.com', 'tim@example.com', 'tanstaaftanstaaf'));
  await plain(calls).start(nul('', '', 'tanstaaftanstaaf'));
  assert.deepEqual(calls, []);
});

test('PLAIN accepts parts of exactly 255 octets (RFC 4616 §2 "MUST accept up to 255")', async () => {
  const calls: string[] = [];
  const step = await plain(calls).start(nul('', 'tim@example.com', 'p'.repeat(255)));
  assert.equal(outcome(step), 'credentials');
  assert.deepEqual(calls, ['tim@example.com']);
});

test('PLAIN after the end only fails', async () => {
  const e = plain();
  await e.start(nul('', 'tim@example.com', 'tanstaaftanstaaf'));
  assert.equal(outcome(await e.next(nul('', 'tim@example.com', 'tanstaaftanstaaf'))), 'malformed');
});
