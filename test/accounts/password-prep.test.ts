// SASLprep's tables are loaded only for a password that needs them (they cost the server ~9 MB).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { preparePassword, saslPrepRefusal } from '../../src/accounts/password-prep.ts';

const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('saslprep'));

test('printable ASCII is its own SASLprep, and loads nothing; other text is prepared (RFC 4013)', () => {
  assert.equal(preparePassword('correct horse battery staple ~!'), 'correct horse battery staple ~!');
  assert.equal(loaded(), false, 'no tables for an ASCII password');
  assert.equal(preparePassword('ﬁne\u00a0pass\u00adword'), 'fine password');
  assert.equal(loaded(), true);
  assert.equal(preparePassword('a\u0007b'), 'a\u0007b', 'prohibited by SASLprep: normalized, not refused');
});

test('a refused password names the character SASLprep prohibits, not one it maps to nothing', () => {
  // RFC 4013 §2.1 maps the soft hyphen (table B.1) to nothing; §2.3 prohibits private use (C.3).
  assert.match(saslPrepRefusal('pass\u00ADword\uE000xyz') ?? '', /U\+E000/);
  assert.equal(saslPrepRefusal('pass\u00ADword'), undefined);
  assert.equal(saslPrepRefusal('\u00AD'), undefined, 'maps to nothing: the length check refuses it, not this');
  assert.match(saslPrepRefusal('abc\u05D0') ?? '', /right-to-left/);
  assert.equal(saslPrepRefusal('\u05D0\u05D1\u05D2'), undefined);
});
