// localAddress gives the key accounts are stored under: local parts match case-insensitively in ASCII
// only (RFC 5321 §2.4), so a UTF-8 local part (RFC 6531 §3.3) never lands on an ASCII account.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asciiLowerCase, localAddress } from '../../src/policy/local-address.ts';
import { type Path, parseMailbox } from '../../src/smtp/path.ts';

const server = { localDomains: new Set(['example.com', 'xn--bcher-kva.example']), hostname: 'mx.example.com' };
const address = (mailbox: string) => localAddress(parseMailbox(mailbox) as Path, server).address;

test('ASCII letters are lower-cased, the rest kept: U+212A KELVIN SIGN is not "k", U+0130 not "i"', () => {
  assert.equal(asciiLowerCase('Kate@Example.COM'), 'kate@example.com');
  assert.equal(asciiLowerCase('\u212Aate'), '\u212Aate');
  assert.equal(asciiLowerCase('\u0130PEK'), '\u0130pek');
  assert.equal(asciiLowerCase('ÄBC'), 'Äbc');
});

test('a Kelvin-sign local part is not kate@, quoted or not; ASCII case still folds', () => {
  assert.equal(address('KATE@Example.com'), 'kate@example.com');
  assert.equal(address('\u212Aate@example.com'), '\u212Aate@example.com');
  assert.equal(address('"\u212Aate"@example.com'), '"\u212Aate"@example.com');
  assert.equal(address('"\u212AATE"@bücher.example'), '"\u212Aate"@xn--bcher-kva.example');
});
