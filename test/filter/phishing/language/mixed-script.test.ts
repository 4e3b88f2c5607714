import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  foldToMajorityScript,
  foreignLetters,
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
];
for (const [word, mixed, suspicious] of cases) {
  test(`${word}: mixed ${mixed}, suspicious ${suspicious}`, () => {
    assert.equal(isMixedScript(word), mixed);
    assert.equal(isSuspiciousMixedWord(word), suspicious);
  });
}

const folds: [word: string, folded: string, letters: string[], script: 'Latin' | 'Cyrillic'][] = [
  ['пapoль', 'пароль', ['a', 'p', 'o'], 'Latin'], // a tie: п, л, ь have no Latin look-alike
  ['sberbаnk', 'sberbank', ['а'], 'Cyrillic'],
  ['пaроль', 'пароль', ['a'], 'Latin'],
  ['gооgle', 'google', ['о'], 'Cyrillic'],
];
for (const [word, folded, letters, script] of folds) {
  test(`${word} reads as ${folded}`, () => {
    assert.equal(foldToMajorityScript(word), folded);
    assert.deepEqual(foreignLetters(word), { letters, script });
  });
}
