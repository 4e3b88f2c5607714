import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecoderCache } from '../../src/mime/decoder-cache.ts';
import { decodeEncodedWords } from '../../src/mime/encoded-word.ts';
import { bodyDecoders, charsetDecoder, decodeCharset } from '../../src/mime/entity.ts';

test('charset labels from mail are kept at most 256 at a time, unknown ones included', () => {
  for (let i = 0; i < 2000; i++) {
    assert.equal(decodeEncodedWords(`=?x-unknown-${i}?Q?hello?=`), `=?x-unknown-${i}?Q?hello?=`);
    assert.equal(charsetDecoder(`x-unknown-${i}`), undefined);
  }
  assert.equal(decodeEncodedWords('=?windows-1251?B?7+jx/Ozu?='), 'письмо');
  assert.ok(charsetDecoder('KOI8-R'));
  // Encoded-words and bodies share one cache (charsetDecoder).
  assert.ok(bodyDecoders.size <= 256, `${bodyDecoders.size} decoders cached`);
});

test('a label that names no charset is tried once, not again for every word that names it', () => {
  const cache = new DecoderCache();
  let tried = 0;
  const make = () => {
    tried++;
    return undefined;
  };
  for (let i = 0; i < 100; i++) assert.equal(cache.get('x-no-such-charset', make), undefined);
  assert.equal(tried, 1);
  // The words themselves are still shown as written (RFC 2047 §6.2).
  const subject = '=?x-no-such-charset?Q?a?= '.repeat(50).trim();
  assert.equal(decodeEncodedWords(subject), subject);
});

test('a label longer than any charset name (RFC 2978 §2.3: 40) is no charset, whatever it spells', () => {
  const cache = new DecoderCache();
  let made = 0;
  const make = () => {
    made++;
    return new TextDecoder('utf-8');
  };
  assert.equal(cache.get(`utf-8${' '.repeat(5_000_000)}`, make), undefined);
  assert.equal(made, 0);
  assert.ok(cache.get('utf-8', make));
  assert.ok(cache.get('utf-8', make));
  assert.equal(made, 1, 'made once, then cached');
});

test('the cache holds at most 256 decoders', () => {
  const cache = new DecoderCache();
  for (let i = 0; i < 1000; i++) cache.get(`label-${i}`, () => new TextDecoder('utf-8'));
  assert.ok(cache.size <= 256);
});

test('UTF-16 text follows its byte order mark and is big-endian without one (RFC 2781 §4.3)', () => {
  // TextDecoder's "utf-16" is little-endian whatever the mark: "hi" would read as two CJK characters.
  assert.equal(decodeEncodedWords('=?UTF-16?B?AGgAaQ==?='), 'hi');
  assert.equal(decodeEncodedWords('=?utf-16?B?/v8AaABp?='), 'hi');
  assert.equal(decodeEncodedWords('=?utf-16?B?//5oAGkA?='), 'hi');
  assert.equal(decodeEncodedWords('=?UTF-16LE?B?aABpAA==?='), 'hi');
  assert.equal(decodeCharset(Buffer.from([0, 0x48, 0, 0x69]), 'UTF-16'), 'Hi');
  assert.equal(decodeCharset(Buffer.from([0xff, 0xfe, 0x48, 0, 0x69, 0]), 'utf-16'), 'Hi');
});
