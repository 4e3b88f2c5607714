import assert from 'node:assert/strict';
import { argon2Sync } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, InvalidPasswordHashError, verifyPassword } from '../../src/accounts/password.ts';

// Reference vectors from the Argon2 reference implementation (P-H-C/phc-winner-argon2, src/test.c):
// password "password", salt "somesalt" (c29tZXNhbHQ). They prove our PHC parsing and Argon2id
// interoperate with hashes minted elsewhere.
const REFERENCE: [phc: string, password: string][] = [
  ['$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'password'],
  ['$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc', 'password'],
];
for (const [phc, password] of REFERENCE) {
  test(`verifies the reference hash ${phc.slice(0, 32)}…`, async () => {
    assert.equal(await verifyPassword(password, phc), true);
    assert.equal(await verifyPassword('passwore', phc), false);
  });
}

test('hashes to an argon2id PHC string with OWASP parameters and a 16-byte salt', async () => {
  const phc = await hashPassword('correct horse battery staple');
  const match = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  assert.ok(match, phc);
  assert.equal(Buffer.from(match[1] ?? '', 'base64').byteLength, 16);
  assert.equal(Buffer.from(match[2] ?? '', 'base64').byteLength, 32);
  assert.doesNotMatch(phc, /=$|=\$/, 'PHC base64 has no padding');
});

test('verifies the right password and refuses a wrong one', async () => {
  const phc = await hashPassword('correct horse battery staple');
  assert.equal(await verifyPassword('correct horse battery staple', phc), true);
  assert.equal(await verifyPassword('correct horse battery stapl', phc), false);
  assert.equal(await verifyPassword('', phc), false);
});

test('salts every hash: the same password hashes differently twice', async () => {
  assert.notEqual(await hashPassword('same'), await hashPassword('same'));
});

test('treats canonically equivalent Unicode passwords as one (RFC 8265 §4.2, NFC)', async () => {
  const phc = await hashPassword('caf\u00e9');
  assert.equal(await verifyPassword('cafe\u0301', phc), true);
});

test('prepares passwords with SASLprep (RFC 4013), as SCRAM clients do: one password however it is typed', async () => {
  // A no-break space is a space, a soft hyphen is nothing, a ligature is its letters (RFC 4013 §2.1, §2.2).
  const phc = await hashPassword('ﬁne\u00a0pass\u00adword');
  for (const typed of ['fine pass\u00adword', 'fine password', 'ﬁne\u00a0password']) {
    assert.equal(await verifyPassword(typed, phc), true, JSON.stringify(typed));
  }
  assert.equal(await verifyPassword('fine  password', phc), false);
  assert.equal(await verifyPassword('пароль', await hashPassword('пароль')), true);
});

test('a hash made before SASLprep (the password in NFC) still verifies with the password as typed', async () => {
  // What hashPassword stored before: Argon2id over the UTF-8 of NFC(password).
  const salt = Buffer.from('somesaltsomesalt');
  const old = (password: string) =>
    argon2Sync('argon2id', {
      message: password.normalize('NFC'),
      nonce: salt,
      memory: 256,
      passes: 2,
      parallelism: 1,
      tagLength: 32,
    });
  const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  const phc = `$argon2id$v=19$m=256,t=2,p=1$${b64(salt)}$${b64(old('ﬁne\u00a0x'))}`;
  assert.equal(await verifyPassword('ﬁne\u00a0x', phc), true);
  assert.equal(await verifyPassword('ﬁne\u00a0y', phc), false);
});

test('refuses to hash an empty password', async () => {
  await assert.rejects(hashPassword(''), TypeError);
});

const MALFORMED: [phc: string, why: string][] = [
  ['', 'empty'],
  ['plaintext', 'not PHC'],
  ['$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'argon2i, not argon2id'],
  ['$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'version 16'],
  ['$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'memory too large'],
  ['$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'zero passes'],
  ['$argon2id$v=19$m=256,t=2,p=1$c29tZQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'salt under 8 bytes'],
  ['$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgL', 'hash too short'],
];
for (const [phc, why] of MALFORMED) {
  test(`throws InvalidPasswordHashError for a stored hash that is ${why}`, async () => {
    await assert.rejects(verifyPassword('password', phc), InvalidPasswordHashError);
  });
}
