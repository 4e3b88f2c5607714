import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileLexicon,
  findPhrases,
  phraseText,
  tokenize,
  wordAt,
  writtenWord,
} from '../../../../src/filter/phishing/language/match.ts';

const words = (text: string) => {
  const w = tokenize(text);
  return Array.from(w.start, (_, i) => wordAt(w, i));
};

test('words are lower-cased, ё read as е, split at hyphens, joined at apostrophes', () => {
  assert.deepEqual(words("Учётная ЗАПИСЬ, e-mail: don’t DON'T «Ёлка» COVID-19 naïve"), [
    'учетная',
    'запись',
    'e',
    'mail',
    "don't",
    "don't",
    'елка',
    'covid',
    '19',
    'naïve',
  ]);
});

test('a mixed-script word is read in its main script and remembered', () => {
  const w = tokenize('Ваш пapoль и Sberbаnk');
  assert.deepEqual(
    Array.from(w.start, (_, i) => wordAt(w, i)),
    ['ваш', 'пароль', 'и', 'sberbank'],
  );
  assert.deepEqual(w.mixed, [1, 3]);
});

test('a word with Greek look-alikes is read in its main script, capitals as written', () => {
  const w = tokenize('Verify your pαssword. VERIFY ΥOUR PΑSSWORD. Обновите пαроль.');
  assert.deepEqual(
    Array.from(w.start, (_, i) => wordAt(w, i)),
    ['verify', 'your', 'password', 'verify', 'your', 'password', 'обновите', 'пароль'],
  );
  assert.deepEqual(w.mixed, [2, 4, 5, 7]);
  assert.equal(w.text.slice(w.start[2], w.end[2]), 'pαssword', 'the text is left as written');
});

test('an astral letter is part of its word; compatibility forms are read as NFKC, offsets as written', () => {
  const w = tokenize('ab\u{10400}cd ef ﬁle ｐａｓｓ，𝐰𝐨𝐫𝐝 😀x');
  assert.deepEqual(
    Array.from(w.start, (_, i) => wordAt(w, i)),
    ['ab\u{10428}cd', 'ef', 'file', 'pass', 'word', 'x'],
  );
  assert.deepEqual(
    Array.from(w.start, (_, i) => writtenWord(w, i)),
    ['ab\u{10400}cd', 'ef', 'ﬁle', 'ｐａｓｓ', '𝐰𝐨𝐫𝐝', 'x'],
  );
  assert.equal(phraseText(w, 2, 4), 'ﬁle ｐａｓｓ，𝐰𝐨𝐫𝐝');
});

test('Greek words, and Greek letters standing alone as symbols, are not mixed', () => {
  const w = tokenize('Καλημέρα, ἀρετή. The α-helix: β = 0.5, Δ 5%, 3 µm; αβγ.');
  assert.deepEqual(w.mixed, []);
  assert.deepEqual(
    Array.from(w.start, (_, i) => wordAt(w, i)),
    ['καλημέρα', 'ἀρετή', 'the', 'α', 'helix', 'β', '0', '5', 'δ', '5', '3', 'µm', 'αβγ'],
  );
});

test('offsets stay those of the source when lower-casing would change a length', () => {
  const source = 'İstanbul Verify your account';
  const w = tokenize(source);
  assert.equal(source.slice(w.start[1], w.end[1]), 'Verify');
  assert.equal(wordAt(w, 1), 'verify');
});

test('characters nobody sees (Default_Ignorable_Code_Point) do not split words; offsets are into the text without them', () => {
  const w = tokenize('Па\u00adроль pass\u200bword Pay\u2060Pal\ufeff и\u200d\u202eвход');
  assert.deepEqual(
    Array.from(w.start, (_, i) => wordAt(w, i)),
    ['пароль', 'password', 'paypal', 'ивход'],
  );
  assert.equal(w.text, 'Пароль password PayPal ивход');
  assert.equal(w.text.slice(w.start[0], w.end[0]), 'Пароль');
});

test('sentences end at . ! ? ; … before a space, and at a blank line; not inside example.com', () => {
  const w = tokenize('One two. Three! Four? Five; six… seven\neight\n\nnine example.com ten');
  assert.deepEqual(Array.from(w.sentence), [0, 0, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6]);
});

const lexicon = compileLexicon({
  exact: ['пароль'],
  prefix: ['подтверд* учетн* запис*'],
  short: ['данн* карт~'],
  number: ['within # hour*'],
  adjacent: ['=act now'],
  either: ['gift|steam card*'],
  greek: ['verif* your password*'],
});
const keysOf = (text: string) => [...findPhrases(tokenize(text), lexicon).keys()].sort();

const cases: [text: string, keys: string[]][] = [
  ['Пароль', ['exact']],
  ['пароля', []], // exact means exact
  ['Подтвердите учётную запись', ['prefix']],
  ['подтверждение учетной записи', []], // подтвержд- is another stem
  ['Подтвердите, пожалуйста, вашу учетную запись', ['prefix']], // up to three words between
  ['Подтвердите, пожалуйста, как можно скорее вашу учетную запись', []], // four is too many
  ['запись учетная подтвердите', []], // in order only
  ['данные карты', ['short']],
  ['данные картой', ['short']],
  ['данные картриджа', []], // more than three letters after карт
  ['within 24 hours', ['number']],
  ['within two hours', []],
  ['act now', ['adjacent']],
  ['act right now', []],
  ['Steam cards', ['either']],
  ['gift card', ['either']],
  ['Verify your pαssword', ['greek']], // Greek α
  ['VΕRΙFY YOUR PΑSSWΟRD', ['greek']], // Greek capitals Ε, Ι, Α, Ο
  ['Пαроль', ['exact']], // Greek α in a Russian word
];
for (const [text, keys] of cases)
  test(`${text} → ${keys.join(',') || 'nothing'}`, () => assert.deepEqual(keysOf(text), keys));

test('the first match of a key is reported, as written', () => {
  const source = 'Please PODTVERDITE… no: Подтвердите учётную запись. Подтвердите учетную запись.';
  const w = tokenize(source);
  const m = findPhrases(w, lexicon).get('prefix');
  assert.ok(m);
  assert.equal(phraseText(w, m.first, m.last), 'Подтвердите учётную запись');
  assert.equal(m.source, 'подтверд* учетн* запис*');
});

test('of matches starting at the same word, the tightest is reported', () => {
  const l = compileLexicon({ k: ['update* account*', 'update* password*'] });
  const source = 'Update your password, or the account goes.';
  const w = tokenize(source);
  const m = findPhrases(w, l).get('k')!;
  assert.equal(phraseText(w, m.first, m.last), 'Update your password');
});

test('a denial before a negatable phrase drops it', () => {
  const l = compileLexicon({ ask: ['confirm* password*', 'код* из смс'] });
  const find = (text: string) => [...findPhrases(tokenize(text), l, new Set(['ask'])).keys()];
  assert.deepEqual(find('We will never ask you to confirm your password.'), []);
  assert.deepEqual(find('Никогда не сообщайте код из СМС.'), []);
  assert.deepEqual(find('Не сообщайте никому код из СМС.'), []);
  assert.deepEqual(find('Confirm your password now.'), ['ask']);
  assert.deepEqual(find('Если не подтвердите, введите код из СМС.'), ['ask']);
  assert.deepEqual([...findPhrases(tokenize('never confirm your password'), l).keys()], ['ask']); // not negatable
});

test('a pattern word must be one word and a stem at least three letters', () => {
  assert.throws(() => compileLexicon({ k: ['e-mail'] }), /not one word/);
  assert.throws(() => compileLexicon({ k: ['ab* c'] }), /bad stem/);
  assert.throws(() => compileLexicon({ k: ['a * b'] }), /bad stem/);
});

test('long input stays linear: 200 KB of near misses', () => {
  const text = 'подтвердите подтвердите учетную '.repeat(6000);
  const found = findPhrases(tokenize(text), lexicon);
  assert.equal(found.size, 0);
});

test('a mixed-script word of 500,000 code units is folded, not spread onto the stack', () => {
  const word = 'aа'.repeat(250_000); // Latin a, Cyrillic а
  const w = tokenize(word);
  assert.deepEqual(w.mixed, [0]);
  assert.equal(w.end[0], word.length);
});
