// SASLprep's tables are loaded only for a password that needs them (they cost the server ~9 MB).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { preparePassword } from '../../src/accounts/password-prep.ts';

const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('saslprep'));

test('printable ASCII is its own SASLprep, and loads nothing; other text is prepared (RFC 4013)', () => {
  assert.equal(preparePassword('correct horse battery staple ~!'), 'correct horse battery staple ~!');
  assert.equal(loaded(), false, 'no tables for an ASCII password');
  assert.equal(preparePassword('ﬁne\u00a0pass\u00adword'), 'fine password');
  assert.equal(loaded(), true);
  assert.equal(preparePassword('a\u0007b'), 'a\u0007b', 'prohibited by SASLprep: normalized, not refused');
});
