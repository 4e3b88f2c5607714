import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  foldToMajorityScript,
  foreignLetterGroups,
  isMixedScript,
  isSuspiciousMixedWord,
} from '../../../../src/filter/phishing/language/mixed-script.ts';

// [word, mixed, worth reporting (≥ 3 letters)]
const cases: [word: string, mixed: boolean, suspicious: boolean][] = [
  ['пapoль', true, true], // Latin a, p, o among Cyrillic
  ['Sberbаnk', true, true], // Cyrillic а
  ['ПАРОЛb', true, true],
  ['Xа', true, false], // two letters
  ['password', false, false],
  ['пароль', false, false],
  ['COVID19', false, false],
  ['iPhone', false, false],
  ['кВт', false, false],
  ['Ёлка', false, false],
  ['café', false, false], // Latin-1 letters are Latin
  ['Привет123', false, false],
  // Greek is a third script (UTS #39 §5.1): a word with letters of two of the three is mixed.
  ['Pαypal', true, true], // Greek α
  ['pαssword', true, true],
  ['ΡΑΥΡΑL', true, true], // Greek Ρ, Α, Υ and a Latin L
  ['пαроль', true, true], // Greek α among Cyrillic
  ['ПАΡОЛЬ', true, true], // Greek Ρ
  ['pаsswοrd', true, true], // Cyrillic а and Greek ο: three scripts
  ['Καλημέρα', false, false], // honest Greek
  ['ἀρετή', false, false], // polytonic Greek (Greek Extended)
  ['µm', false, false], // the micro sign U+00B5 is no Greek letter
  ['Test\u037e', false, false], // the Greek question mark is punctuation
  // Greek letters as symbols: none passes for a Latin letter, or small ones at the ends of an acronym.
  ['μmol', true, false],
  ['ΔpH', true, false],
  ['λmax', true, false],
  ['TNFα', true, false],
  ['HIF1α', true, false],
  ['αKG', true, false],
  ['αpple', true, true], // no acronym: the α passes for a
  ['PAYPAΛ', true, false], // Λ passes for no Latin letter
  ['ΡAYPAL', true, true], // a Greek capital Ρ is no symbol
];
for (const [word, mixed, suspicious] of cases) {
  test(`${word}: mixed ${mixed}, suspicious ${suspicious}`, () => {
    assert.equal(isMixedScript(word), mixed);
    assert.equal(isSuspiciousMixedWord(word), suspicious);
  });
}

const folds: [word: string, folded: string, letters: string[], script: 'Latin' | 'Cyrillic' | 'Greek'][] = [
  ['пapoль', 'пароль', ['a', 'p', 'o'], 'Latin'], // a tie: п, л, ь have no Latin look-alike
  ['sberbаnk', 'sberbank', ['а'], 'Cyrillic'],
  ['пaроль', 'пароль', ['a'], 'Latin'],
  ['gооgle', 'google', ['о'], 'Cyrillic'],
  ['pαssword', 'password', ['α'], 'Greek'],
  ['vεrιfy', 'verify', ['ε', 'ι'], 'Greek'],
  ['пαроль', 'пароль', ['α'], 'Greek'],
  ['ΥOUR', 'YOUR', ['Υ'], 'Greek'], // read as written: capital Υ passes for Y, small υ for u
  ['ΝΕTFLIX', 'NETFLIX', ['Ν', 'Ε'], 'Greek'],
  ['ПАΡОЛЬ', 'ПАРОЛЬ', ['Ρ'], 'Greek'],
  ['ΡΑΥΡΑL', 'ΡΑΥΡΑL', ['L'], 'Latin'], // Greek is the majority, and L passes for no Greek letter
];
for (const [word, folded, letters, script] of folds) {
  test(`${word} reads as ${folded}`, () => {
    assert.equal(foldToMajorityScript(word), folded);
    assert.deepEqual(foreignLetterGroups(word)[0], { letters, script });
  });
}

test('a word of three scripts is read in its main one, every foreign letter folded', () => {
  assert.equal(foldToMajorityScript('pаsswοrd'), 'password'); // Cyrillic а, Greek ο
  assert.equal(foldToMajorityScript('пaрοль'), 'пароль'); // Latin a, Greek ο
});
