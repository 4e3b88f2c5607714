import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { isSingleScript, scriptOf, scriptsOf, skeleton } from '../../../src/filter/phishing/confusables.ts';
import { confusablesUnicodeVersion } from '../../../src/filter/phishing/confusables-data.ts';

// UTS #39 §4: skeleton(X) === skeleton(Y) iff X and Y are confusable.
const confusable: [a: string, b: string][] = [
  ['exаmple', 'example'], // U+0430 CYRILLIC SMALL LETTER A
  ['gооgle', 'google'], // U+043E CYRILLIC SMALL LETTER O
  ['paypa1', 'paypal'], // DIGIT ONE → l
  ['rnicrosoft', 'microsoft'], // rn → m
  ['ѕсоре', 'scope'], // whole-script Cyrillic
  ['αpple', 'apple'], // U+03B1 GREEK SMALL LETTER ALPHA
];
for (const [a, b] of confusable) test(`skeleton: ${a} ~ ${b}`, () => assert.equal(skeleton(a), skeleton(b)));

test('the generated table is confusables.txt of Unicode 17.0.0', async () => {
  assert.equal(confusablesUnicodeVersion, '17.0.0');
  const source = await readFile(new URL('../../../src/filter/phishing/confusables-data.ts', import.meta.url), 'utf8');
  assert.match(source, /^ \* UTS #39 confusables\.txt, Unicode 17\.0\.0: /m);
  assert.match(source, /^ \* 6565 entries\. Source: ICU 78\.3 data item icudt78l\/confusables\.cfu/m);
  assert.match(source, /Unicode License V3/);
});

// Mappings that differ from Unicode 13's confusables.txt (the table used before): [input, skeleton now].
const sinceUnicode13: [input: string, expected: string][] = [
  ['paypaӏ', 'paypal'], // U+04CF CYRILLIC SMALL LETTER PALOCHKA → l (13: → i)
  ['шikipedia', 'wikipedia'], // U+0448 CYRILLIC SMALL LETTER SHA → w (13: none)
  ['ⲽ', 'w'], // U+2CBD COPTIC SMALL LETTER CRYPTOGRAMMIC NI → w (13: → ш)
  ['০', 'o'], // U+09E6 BENGALI DIGIT ZERO → o (13: → O)
  ['ട', 's'], // U+0D1F MALAYALAM LETTER TTA → s (13: none)
  ['ẞ', 'ß'], // U+1E9E LATIN CAPITAL LETTER SHARP S (13: none)
  ['\u20C1', '\u0631\u0649l\u0644'], // U+20C1 SAUDI RIYAL SIGN, new in Unicode 17.0
];
for (const [input, expected] of sinceUnicode13)
  test(`skeleton since Unicode 13: ${input}`, () => assert.equal(skeleton(input), expected));

test('confusables.txt gives m the prototype rn; r and n have none', () => {
  assert.equal(skeleton('m'), 'rn');
  assert.equal(skeleton('rn'), 'rn');
  assert.equal(skeleton('а'), 'a'); // U+0430 CYRILLIC SMALL LETTER A
  assert.equal(skeleton('ο'), 'o'); // U+03BF GREEK SMALL LETTER OMICRON
});

// UTS #39 §4, current revision: Default_Ignorable_Code_Point characters are removed before mapping (as ICU does).
test('skeleton drops default ignorable characters', () => {
  assert.equal(skeleton('pay\u200Bpal'), 'paypal'); // ZERO WIDTH SPACE
  assert.equal(skeleton('exam\u00ADple'), skeleton('example')); // SOFT HYPHEN
  assert.equal(skeleton('a\u200D\uFE0Fb'), 'ab'); // ZERO WIDTH JOINER, VARIATION SELECTOR-16
});

const distinct: [a: string, b: string][] = [
  ['example', 'exsmple'],
  ['google', 'goggle'],
];
for (const [a, b] of distinct) test(`skeleton: ${a} ≁ ${b}`, () => assert.notEqual(skeleton(a), skeleton(b)));

// UTS #39 §5.1: Common (digits, hyphen) fits any script; Han+Hiragana resolve to Jpan.
const scripts: [label: string, single: boolean][] = [
  ['example', true],
  ['paypa1-login', true],
  ['пример', true],
  ['ѕсоре', true],
  ['exаmple', false],
  ['gооgle', false],
  ['αpple', false],
  ['東京ひらがな', true],
  ['ꦗꦮ', true], // Javanese
  ['ꦗa', false],
  ['ᏣᎳᎩ', true], // Cherokee
];
for (const [label, single] of scripts)
  test(`single-script ${label}`, () => assert.equal(isSingleScript(label), single));

test('scriptOf', () => {
  assert.equal(scriptOf('а'), 'Cyrillic');
  assert.equal(scriptOf('a'), 'Latin');
  assert.equal(scriptOf('α'), 'Greek');
  assert.equal(scriptOf('1'), undefined);
});

test('every assigned character outside Common and Inherited has a named script', () => {
  const assigned = /[^\p{Cn}\p{Cs}\p{Co}]/u;
  const unnamed: string[] = [];
  for (let cp = 0x80; cp <= 0x10ffff; cp++) {
    const ch = String.fromCodePoint(cp);
    if (assigned.test(ch) && scriptsOf(ch)?.[0]?.startsWith('U+')) unnamed.push(cp.toString(16));
  }
  assert.deepEqual(unnamed, []);
  assert.deepEqual(scriptsOf('\u{E0080}'), ['U+E0080']); // unassigned: a script of its own
  assert.equal(scriptOf('ꦗ'), 'Javanese');
});
