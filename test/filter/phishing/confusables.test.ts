import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSingleScript, scriptOf, skeleton } from '../../../src/filter/phishing/confusables.ts';

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
];
for (const [label, single] of scripts)
  test(`single-script ${label}`, () => assert.equal(isSingleScript(label), single));

test('scriptOf', () => {
  assert.equal(scriptOf('а'), 'Cyrillic');
  assert.equal(scriptOf('a'), 'Latin');
  assert.equal(scriptOf('α'), 'Greek');
  assert.equal(scriptOf('1'), undefined);
});
