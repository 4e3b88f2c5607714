import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, verifyPassword } from '../../../src/accounts/password.ts';
import type { ChannelBinding, Credentials, SaslStep } from '../../../src/accounts/sasl/index.ts';
import {
  createExchange,
  deriveScramCredentials,
  formatScramCredentials,
  InvalidScramCredentialsError,
  MECHANISMS,
  parseScramCredentials,
  type ScramCredentials,
} from '../../../src/accounts/sasl/index.ts';

// RFC 7677 §3, the SCRAM-SHA-256 example exchange, as printed.
const RFC = {
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const USER = deriveScramCredentials('pencil', { salt: Buffer.from(RFC.salt, 'base64'), iterations: 4096 });
const BINDING: ChannelBinding = { type: 'tls-exporter', data: Buffer.alloc(32, 7) };

function credentials(users: Record<string, ScramCredentials> = { user: USER }): Credentials {
  return {
    verifyPassword: async () => false,
    scramCredentials: async (username) => users[username],
  };
}

function exchange(
  mechanism = 'SCRAM-SHA-256',
  options: { channelBinding?: ChannelBinding; plusOffered?: boolean } = {},
  creds = credentials(),
) {
  const e = createExchange(mechanism, creds, { plusOffered: false, ...options, nonce: () => RFC.serverNonce });
  assert.ok(e);
  return e;
}

const text = (s: string) => Buffer.from(s, 'utf8');
const failure = (reason: string) => ({ type: 'failure', reason });
function shape(step: SaslStep) {
  return step.type === 'failure' ? failure(step.reason) : step;
}

/** An independent SCRAM-SHA-256 client (RFC 5802 §3), to produce proofs for other cases. */
function client(username: string, password: string, gs2Header = 'n,,', bindingData: Buffer = Buffer.alloc(0)) {
  const bare = `n=${username.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=fyko+d2lbbFgONRv9qkxdawL`;
  return {
    first: text(gs2Header + bare),
    final(serverFirst: Buffer, tamper: (withoutProof: string) => string = (m) => m) {
      const sf = serverFirst.toString();
      const attrs = Object.fromEntries(sf.split(',').map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const cbind = Buffer.concat([text(gs2Header), bindingData]).toString('base64');
      const withoutProof = tamper(`c=${cbind},r=${attrs.r}`);
      const authMessage = `${bare},${sf},${withoutProof}`;
      const signature = createHmac('sha256', storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      const serverKey = createHmac('sha256', salted).update('Server Key').digest();
      const verifier = createHmac('sha256', serverKey).update(authMessage).digest('base64');
      return { message: text(`${withoutProof},p=${proof.toString('base64')}`), serverFinal: `v=${verifier}` };
    },
  };
}

/** Runs a whole exchange with the client; returns every server step. */
async function run(e: ReturnType<typeof exchange>, c: ReturnType<typeof client>) {
  const first = await e.start(c.first);
  if (first.type !== 'challenge') return { first, final: undefined, expected: undefined };
  const { message, serverFinal } = c.final(first.data);
  return { first, final: await e.next(message), expected: serverFinal };
}

test('RFC 7677 §3: server-first, the example proof verifies, server-final as printed', async () => {
  const e = exchange();
  assert.deepEqual(await e.start(text(RFC.clientFirst)), { type: 'challenge', data: text(RFC.serverFirst) });
  assert.deepEqual(await e.next(text(RFC.clientFinal)), {
    type: 'success',
    username: 'user',
    data: text(RFC.serverFinal),
  });
});

test('RFC 7677 §3 exchange without an initial response: an empty challenge first', async () => {
  const e = exchange();
  assert.deepEqual(await e.start(undefined), { type: 'challenge', data: Buffer.alloc(0) });
  assert.deepEqual(await e.next(text(RFC.clientFirst)), { type: 'challenge', data: text(RFC.serverFirst) });
  assert.equal((await e.next(text(RFC.clientFinal))).type, 'success');
});

test('RFC 7677 §3 with one proof bit flipped fails on credentials', async () => {
  const e = exchange();
  await e.start(text(RFC.clientFirst));
  const flipped = RFC.clientFinal.replace('p=dHzb', 'p=dHza');
  assert.deepEqual(shape(await e.next(text(flipped))), failure('credentials'));
});

test('derive, then a client with the password succeeds and one with another fails', async () => {
  const creds = credentials({ 'alice@example.com': deriveScramCredentials('correct horse') });
  const good = await run(exchange('SCRAM-SHA-256', {}, creds), client('Alice@example.com', 'correct horse'));
  assert.equal(good.final?.type, 'success');
  assert.deepEqual(good.final, { type: 'success', username: 'alice@example.com', data: text(good.expected!) });
  const bad = await run(exchange('SCRAM-SHA-256', {}, creds), client('alice@example.com', 'correct hors'));
  assert.deepEqual(shape(bad.final!), failure('credentials'));
});

test('the password is prepared with SASLprep on both sides, as PLAIN prepares it (RFC 5802 §2.2)', async () => {
  // A client that prepares 'ﬁne\u00a0password' sends the proof of 'fine password'.
  const creds = credentials({ 'alice@example.com': deriveScramCredentials('ﬁne\u00a0pass\u00adword') });
  const good = await run(exchange('SCRAM-SHA-256', {}, creds), client('alice@example.com', 'fine password'));
  assert.equal(good.final?.type, 'success');
  const plainHash = await hashPassword('ﬁne\u00a0pass\u00adword');
  assert.equal(await verifyPassword('fine password', plainHash), true, 'PLAIN takes what SCRAM takes');
});

test('username escapes =2C and =3D are decoded (RFC 5802 §5.1)', async () => {
  const creds = credentials({ 'a,b=c': deriveScramCredentials('pw') });
  const { final } = await run(exchange('SCRAM-SHA-256', {}, creds), client('a,b=c', 'pw'));
  assert.equal(final?.type === 'success' && final.username, 'a,b=c');
});

test('PLUS with the right tls-exporter bytes succeeds', async () => {
  const e = exchange('SCRAM-SHA-256-PLUS', { channelBinding: BINDING, plusOffered: true });
  const { final } = await run(e, client('user', 'pencil', 'p=tls-exporter,,', BINDING.data));
  assert.equal(final?.type, 'success');
});

test('PLUS with other binding bytes (a relaying man in the middle) fails on binding', async () => {
  const e = exchange('SCRAM-SHA-256-PLUS', { channelBinding: BINDING, plusOffered: true });
  const { final } = await run(e, client('user', 'pencil', 'p=tls-exporter,,', Buffer.alloc(32, 8)));
  assert.deepEqual(shape(final!), failure('binding'));
});

test('a c= that is not the gs2 header fails on binding', async () => {
  const c = client('user', 'pencil', 'n,,');
  const e = exchange();
  const first = await e.start(c.first);
  assert.equal(first.type, 'challenge');
  const { message } = c.final(first.type === 'challenge' ? first.data : Buffer.alloc(0), (m) =>
    m.replace('c=biws', 'c=eSws'),
  );
  assert.deepEqual(shape(await e.next(message)), failure('binding'));
});

const FLAG_CASES: [name: string, mechanism: string, gs2: string, binding: boolean, offered: boolean, want: string][] = [
  ['y,, when PLUS was offered: a downgrade (RFC 5802 §6)', 'SCRAM-SHA-256', 'y,,', true, true, 'binding'],
  ['y,, when PLUS was not offered', 'SCRAM-SHA-256', 'y,,', true, false, 'challenge'],
  ['y,, without a binding on the connection', 'SCRAM-SHA-256', 'y,,', false, true, 'challenge'],
  ['n,, on SCRAM-SHA-256 with PLUS offered', 'SCRAM-SHA-256', 'n,,', true, true, 'challenge'],
  ['p= on SCRAM-SHA-256', 'SCRAM-SHA-256', 'p=tls-exporter,,', true, true, 'binding'],
  ['p=tls-exporter without a binding', 'SCRAM-SHA-256-PLUS', 'p=tls-exporter,,', false, false, 'binding'],
  ['p=tls-unique', 'SCRAM-SHA-256-PLUS', 'p=tls-unique,,', true, true, 'binding'],
  ['n,, on SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256-PLUS', 'n,,', true, true, 'binding'],
  ['y,, on SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256-PLUS', 'y,,', true, true, 'binding'],
];
for (const [name, mechanism, gs2, binding, offered, want] of FLAG_CASES) {
  test(`gs2 flag: ${name} → ${want}`, async () => {
    const e = exchange(mechanism, { plusOffered: offered, ...(binding ? { channelBinding: BINDING } : {}) });
    const step = await e.start(text(`${gs2}n=user,r=abc`));
    assert.equal(step.type === 'failure' ? step.reason : step.type, want);
  });
}

test('y,, when PLUS was not offered completes the exchange', async () => {
  const e = exchange('SCRAM-SHA-256', { channelBinding: BINDING, plusOffered: false });
  assert.equal((await run(e, client('user', 'pencil', 'y,,'))).final?.type, 'success');
});

test('an authzid equal to the user is accepted; another is refused (no proxy authorization)', async () => {
  assert.equal((await run(exchange(), client('user', 'pencil', 'n,a=user,'))).final?.type, 'success');
  assert.deepEqual(shape(await exchange().start(text('n,a=admin,n=user,r=abc'))), failure('credentials'));
});

test('unknown user: the same steps, a stable made-up salt, failure only at the end', async () => {
  const known = await run(exchange(), client('user', 'pencil'));
  const unknown = await run(exchange(), client('nobody', 'pencil'));
  const again = await run(exchange(), client('nobody', 'pencil'));
  const other = await run(exchange(), client('someone', 'pencil'));
  const serverFirst = (s: SaslStep) => (s.type === 'challenge' ? s.data.toString() : assert.fail(s.type));
  const pattern = /^r=fyko\+d2lbbFgONRv9qkxdawL%hvYDpWUa2RaTCAfuxFIlj\)hNlF\$k0,s=[A-Za-z0-9+/]{22}==,i=4096$/;
  assert.match(serverFirst(known.first), pattern);
  assert.match(serverFirst(unknown.first), pattern);
  assert.equal(serverFirst(unknown.first), serverFirst(again.first));
  assert.notEqual(serverFirst(unknown.first), serverFirst(other.first));
  assert.equal(known.final?.type, 'success');
  assert.deepEqual(shape(unknown.final!), failure('credentials'));
});

const MALFORMED_FIRST: [message: string | Buffer, why: string][] = [
  ['', 'empty'],
  ['x,,n=user,r=abc', 'unknown gs2 flag'],
  ['n,n=user,r=abc', 'gs2 header without its second comma'],
  ['n,,r=abc', 'no username'],
  ['n,,n=,r=abc', 'empty username'],
  ['n,,n=us=er,r=abc', '"=" not followed by 2C or 3D'],
  ['n,,n=user', 'no nonce'],
  ['n,,n=user,r=', 'empty nonce'],
  ['n,,n=user,r=a\x7fb', 'nonce not printable'],
  ['n,,m=ext,n=user,r=abc', 'mandatory extension m= (RFC 5802 §5.1)'],
  ['n,,n=user,r=abc,bogus', 'extension without "="'],
  ['n,a=,n=user,r=abc', 'empty authzid'],
  [Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61]), 'not UTF-8'],
  [`n,,n=user,r=${'a'.repeat(5000)}`, 'too long'],
];
for (const [message, why] of MALFORMED_FIRST) {
  test(`client-first ${why} → malformed`, async () => {
    const step = await exchange().start(typeof message === 'string' ? text(message) : message);
    assert.deepEqual(shape(step), failure('malformed'));
  });
}

test('a mandatory extension is refused as such, not as a missing username', async () => {
  const step = await exchange().start(text('n,,m=ext,n=user,r=abc'));
  assert.equal(step.type === 'failure' && step.message, 'mandatory extensions (m=) are not supported');
});

const NONCE = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const PROOF = 'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const MALFORMED_FINAL: [message: string, why: string][] = [
  [`c=biws,${NONCE}`, 'no proof'],
  [`c=biws,${NONCE},p=dHzb`, 'proof too short'],
  [`c=biws,${NONCE},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ`, 'proof base64 without padding'],
  [`${NONCE},${PROOF}`, 'no c='],
  [`c=biws,${PROOF}`, 'no nonce'],
  [`c=biws,r=rOprNGfwEbeRWgbNEkqOother,${PROOF}`, 'another nonce'],
];
for (const [message, why] of MALFORMED_FINAL) {
  test(`client-final ${why} → malformed`, async () => {
    const e = exchange();
    await e.start(text(RFC.clientFirst));
    assert.deepEqual(shape(await e.next(text(message))), failure('malformed'));
  });
}

test('after the end, the exchange only fails', async () => {
  const e = exchange();
  await e.start(text(RFC.clientFirst));
  await e.next(text(RFC.clientFinal));
  assert.deepEqual(shape(await e.next(text(RFC.clientFinal))), failure('malformed'));
  assert.deepEqual(shape(await e.start(text(RFC.clientFirst))), failure('malformed'));
});

test('credentials format (RFC 5803) round trip', () => {
  const c = deriveScramCredentials('pencil', { iterations: 5000 });
  const s = formatScramCredentials(c);
  assert.match(s, /^SCRAM-SHA-256\$5000:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(parseScramCredentials(s), c);
  assert.equal(c.salt.byteLength, 16);
  assert.notDeepEqual(deriveScramCredentials('pencil').salt, deriveScramCredentials('pencil').salt);
});

const BAD_STORED: [stored: string, why: string][] = [
  ['', 'empty'],
  [formatScramCredentials(USER).replace('SCRAM-SHA-256', 'SCRAM-SHA-1'), 'another scheme'],
  [formatScramCredentials(USER).replace('$4096:', '$1000:'), 'under 4096 iterations'],
  [formatScramCredentials(USER).replace(RFC.salt, 'W22Z!J0SNY7soEsUEjb6gQ=='), 'salt not base64'],
  [formatScramCredentials(USER).replace(RFC.salt, 'W22ZaJ0='), 'salt under 8 bytes'],
  [formatScramCredentials({ ...USER, storedKey: USER.storedKey.subarray(0, 20) }), 'a 20-byte key'],
];
for (const [stored, why] of BAD_STORED) {
  test(`parseScramCredentials refuses a stored secret that is ${why}`, () => {
    assert.throws(() => parseScramCredentials(stored), InvalidScramCredentialsError);
  });
}

test('deriving refuses fewer than 4096 iterations (RFC 7677 §4) and an empty password', () => {
  assert.throws(() => deriveScramCredentials('pencil', { iterations: 4095 }), RangeError);
  assert.throws(() => deriveScramCredentials(''), TypeError);
});

test('MECHANISMS lists PLUS only with a binding; createExchange knows them, case-insensitively', () => {
  assert.deepEqual(MECHANISMS(true), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN', 'LOGIN']);
  assert.deepEqual(MECHANISMS(false), ['SCRAM-SHA-256', 'PLAIN', 'LOGIN']);
  for (const m of MECHANISMS(true)) assert.equal(createExchange(m, credentials(), { plusOffered: true })?.mechanism, m);
  assert.equal(createExchange('scram-sha-256', credentials(), { plusOffered: false })?.mechanism, 'SCRAM-SHA-256');
  assert.equal(createExchange('CRAM-MD5', credentials(), { plusOffered: false }), undefined);
});
