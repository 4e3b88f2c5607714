import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import {
  brandNamedIn,
  looseNameKey,
  nameKey,
  organisationKey,
  organisationOf,
  personNamed,
  sameOrganisation,
  shownForms,
} from '../../../src/filter/phishing/names.ts';

test('a display name as drawn: invisible characters gone, IDNA dots as dots, bidi overrides applied (UAX #9)', () => {
  assert.deepEqual(shownForms(' Pay\u200bPal '), ['PayPal']);
  assert.deepEqual(shownForms('it@example\u3002com'), ['it@example.com']);
  assert.deepEqual(shownForms('ＰａｙＰａｌ'), ['PayPal']); // NFKC: fullwidth letters
  // Drawn first, then as written (a reader that ignores the controls shows that).
  assert.deepEqual(shownForms('\u202eur.elpmaxe@ti'), ['it@example.ru', 'ur.elpmaxe@ti']);
  assert.deepEqual(shownForms('Support \u202eur.elpmaxe@ti\u202c team'), [
    'Support it@example.ru team',
    'Support ur.elpmaxe@ti team',
  ]);
  // An LRO inside an RLO keeps its own run in order, and the run moves as a whole (L2).
  assert.deepEqual(shownForms('\u202eab\u202dcd\u202cef\u202c')[0], 'fecdba');
  // An RLE without override does not reverse left-to-right letters (I2); an isolate is closed by PDI.
  assert.deepEqual(shownForms('a\u202bbc\u202cd'), ['abcd']);
  assert.deepEqual(shownForms('\u2067\u202eba\u2069cd')[0], 'abcd');
});

test('names compare with look-alike letters of another script written as the Latin letter', () => {
  assert.equal(nameKey('Ivаn Petrоv'), nameKey('Ivan Petrov')); // Cyrillic а, о
  assert.equal(nameKey('Cбербанк'), nameKey('Сбербанк')); // Latin C
  assert.equal(nameKey('СБЕРБАНК'), nameKey('Сбербанк'));
  assert.equal(nameKey('Кim'), nameKey('Kim')); // Cyrillic К: its skeleton is K, the small к's is ĸ
  assert.equal(nameKey('Ива\u200bн\u00ad Петров'), nameKey('Иван Петров'));
  assert.notEqual(nameKey('Stearn'), nameKey('Steam')); // ASCII is not folded ("rn" is no "m")
  assert.notEqual(nameKey('lvan'), nameKey('Ivan'));
});

test('organisations compare as A-labels (RFC 5890 §2.3.2.1), and keep their form for display', () => {
  assert.equal(organisationKey('jörg@mail.münchen.example'), 'xn--mnchen-3ya.example');
  assert.equal(organisationKey('jorg@xn--mnchen-3ya.example'), 'xn--mnchen-3ya.example');
  assert.equal(organisationOf('jörg@mail.münchen.example'), 'münchen.example');
  assert.ok(sameOrganisation('a@münchen.example', 'b@XN--MNCHEN-3YA.example'));
  assert.ok(sameOrganisation('пример.рф', 'mail.xn--e1afmkfd.xn--p1ai'));
  assert.ok(!sameOrganisation('a@münchen.example', 'b@munchen.example'));
});

// Evasion audit D6: a Hangul filler drawn as a blank, I for l, a name signed with initials.
test('a Hangul filler is drawn as a blank, so it separates words instead of joining them', () => {
  for (const filler of ['\u3164', '\uffa0', '\u115f', '\u1160']) {
    assert.deepEqual(shownForms(`Ivan${filler}Petrov`), ['Ivan Petrov'], filler.codePointAt(0)!.toString(16));
    assert.equal(nameKey(`Ivan${filler}Petrov`), 'ivan petrov');
  }
});

test('the loose key takes capital I, small l, 1 and | as one letter, and keeps a small i apart', () => {
  assert.equal(looseNameKey('lvan Petrov'), looseNameKey('Ivan Petrov'));
  assert.equal(looseNameKey('PayPaI'), looseNameKey('PayPal'));
  assert.equal(looseNameKey('PayPa1'), looseNameKey('PayPal'));
  assert.equal(looseNameKey('PayPa|'), looseNameKey('PayPal'));
  assert.notEqual(looseNameKey('ivan'), looseNameKey('lvan')); // a small i has its dot
  assert.notEqual(nameKey('lvan'), nameKey('Ivan')); // the strict key is unchanged
});

test('protected people are found by a look-alike l, a Hangul filler or their initials', () => {
  const people = [{ names: ['Ivan Petrov', 'Петров Иван Сергеевич'], addresses: ['i.petrov@vostok-trade.ru'] }];
  for (const shown of ['lvan Petrov', 'Ivan\u3164Petrov', 'I. Petrov', 'Petrov I.', 'Петров И.С.', 'ПЕТРОВ И. С.']) {
    assert.ok(personNamed(shown, people), shown);
  }
  // An initial needs its dot ("и" is "and"), one word in full, and the right letter.
  for (const shown of [
    'Петров и партнёры',
    'I Petrov',
    'I. P.',
    'A. Petrov',
    'Petrov',
    'Iván Petrov',
    'Irvan Petrov',
    'i.petrov@vostok-trade.ru', // an address, not initials
  ]) {
    assert.equal(personNamed(shown, people), undefined, shown);
  }
});

test('a brand name is found with a capital I for its l, long names only', () => {
  assert.equal(brandNamedIn('PayPaI Service', DEFAULT_BRANDS)?.names[0], 'PayPal');
  assert.equal(brandNamedIn('Ivan Petrov', DEFAULT_BRANDS), undefined);
});
