// The display-name checks against names dressed up to read one way and compare another: invisible
// characters, bidi overrides, IDNA dot variants and letters from another script that look the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { displayNameSignals } from '../../../src/filter/phishing/display-name-signals.ts';
import { organisationOf } from '../../../src/filter/phishing/names.ts';
import { parseMessage } from '../../../src/mime/message.ts';

const people = [{ names: ['Ivan Petrov', 'Иван Петров'], addresses: ['i.petrov@vostok-trade.ru'] }];

/** The display-name signals of a From field as a client sent it: name → weight. */
async function signals(fromField: string): Promise<Map<string, number>> {
  const message = await parseMessage(Buffer.from(`From: ${fromField}\r\nSubject: hello\r\n\r\nHello\r\n`));
  const from = message.from[0]!;
  const found = displayNameSignals(from, organisationOf(from.address), {
    protectedDomains: ['vostok-trade.ru'],
    partnerDomains: [],
    brands: DEFAULT_BRANDS,
    people,
  });
  return new Map(found.map((s) => [s.name, s.weight]));
}

/** RFC 2047 B encoding, as clients send names outside ASCII. */
const word = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

describe('an address shown in the display name', () => {
  it('is read through zero-width characters, IDNA dot variants and a right-to-left override', async () => {
    assert.equal((await signals('"it@vostok-trade.ru" <it@evil-corp.net>')).get('display-name-address'), 3);
    for (const shown of [
      'it@vostok\u200b-trade.ru', // ZERO WIDTH SPACE
      'it@vostok-trade\u00ad.ru', // SOFT HYPHEN
      'it@vostok-trade\u3002ru', // IDEOGRAPHIC FULL STOP, a dot to IDNA (UTS #46 §2.3)
      'it@vostok-trade\uff0eru', // FULLWIDTH FULL STOP
      'it@vostok-trade\uff61ru', // HALFWIDTH IDEOGRAPHIC FULL STOP
      '\u202eur.edart-kotsov@ti', // RIGHT-TO-LEFT OVERRIDE: drawn as it@vostok-trade.ru
      '\u202eur.edart-kotsov@ti\u202c', // … closed by POP DIRECTIONAL FORMATTING
      'IT \u2067\u202eur.edart-kotsov@ti\u2069', // inside an isolate
    ]) {
      assert.equal((await signals(`${word(shown)} <it@evil-corp.net>`)).get('display-name-address'), 3, shown);
    }
  });

  it('names nothing when it shows the sender’s own domain, whatever the label form', async () => {
    assert.equal((await signals(`${word('it@m\u00fcnchen\u3002example')} <it@xn--mnchen-3ya.example>`)).size, 0);
    assert.equal((await signals(`${word('\u202eur.edart-kotsov@ti')} <it@vostok-trade.ru>`)).size, 0);
  });

  it('takes linear time on a 200 KB name without an address', async () => {
    for (const filler of ['a', 'a.', '@a', 'a@']) {
      const name = filler.repeat(100_000 / filler.length);
      const start = performance.now();
      await signals(`${word(name)} <x@example.org>`);
      const ms = performance.now() - start;
      assert.ok(ms < 1000, `${filler}: ${ms} ms`);
    }
  });
});

describe('a protected person’s name', () => {
  it('is recognised through zero-width characters and Cyrillic look-alike letters', async () => {
    assert.equal(
      (await signals('"Иван Петров" <ivan.petrov.ceo@gmail.com>')).get('protected-person-impersonation'),
      4.5,
    );
    for (const name of [
      'Ива\u200bн Петров',
      'Ivаn Petrоv', // Cyrillic а and о
      'IVAN PETRОV', // Cyrillic capital О
      'Пет\u2060ров Иван', // WORD JOINER, name order reversed
    ]) {
      const got = await signals(`${word(name)} <ivan.petrov.ceo@gmail.com>`);
      assert.equal(got.get('protected-person-impersonation'), 4.5, name);
    }
  });

  // Evasion audit D6: a small l for the capital I, a Hangul filler for the space, initials for the first name.
  it('is recognised with an l for its I, a Hangul filler between its words, or an initial', async () => {
    for (const name of ['lvan Petrov', 'Ivan\u3164Petrov', 'I. Petrov', 'Петров И.']) {
      const got = await signals(`${word(name)} <ivan.petrov.ceo@gmail.com>`);
      assert.equal(got.get('protected-person-impersonation'), 4.5, name);
    }
  });

  it('is not found in other names that merely share letters', async () => {
    for (const name of ['Ivan Petrovsky', 'Ivanka Petrova', 'Iván Petrov', 'Irvan Petrov', 'Петров и партнёры']) {
      assert.equal((await signals(`${word(name)} <x@example.org>`)).has('protected-person-impersonation'), false, name);
    }
  });
});

describe('a brand’s name', () => {
  it('is recognised through zero-width characters and letters of the other script', async () => {
    for (const name of [
      'PayPal',
      'Pay\u200bPal',
      'PаyPаl', // Cyrillic а
      'Cбербанк', // Latin C
      'СБЕРБAНК', // capitals, Latin A
      'Сбер\u00adбанк Онлайн',
      'Ozоn', // Cyrillic о
    ]) {
      const got = await signals(`${word(name)} <noreply@notify-service.example>`);
      assert.equal(got.get('display-name-brand'), 2.5, name);
    }
  });

  it('is recognised with a capital I for its small l (evasion audit D6)', async () => {
    for (const name of ['PayPaI Service', 'AppIe Support']) {
      const got = await signals(`${word(name)} <service@account-notify.example>`);
      assert.equal(got.get('display-name-brand'), 2.5, name);
    }
  });

  it('is not found in ordinary names: ASCII is not folded, short names keep their case', async () => {
    for (const name of [
      'John Stearn', // the full skeleton takes "rn" for "m": Steam
      'Kirn Consulting',
      'LC Waikiki', // not 1С
      'ups and downs',
      'Amazonas Tours',
      'Мария 👩‍💻 Соколова', // a zero-width joiner in an emoji sequence
    ]) {
      assert.equal((await signals(`${word(name)} <info@example.org>`)).has('display-name-brand'), false, name);
    }
    assert.equal((await signals(`${word('Cбербанк')} <noreply@sberbank.ru>`)).size, 0, 'the brand itself');
  });

  // Audit of legitimate senders (phish-fp-audit 45, 46, 47, 48, 104).
  it('that is an everyday word or a first name claims the brand only alone or with a service word', async () => {
    for (const name of [
      'Chase Miller', // a person
      'Apple Tree Catering',
      'VFS Global Visa Application Centre',
      'Lockergnome Apple Core',
      'Steam Cleaning Experts',
    ]) {
      assert.equal((await signals(`${word(name)} <info@example.org>`)).has('display-name-brand'), false, name);
    }
    for (const name of ['Chase', 'Chase Bank', 'Apple Support', 'Visa Secure', 'Steam Support', 'APPLE', 'Аpple ID']) {
      const got = await signals(`${word(name)} <noreply@notify-service.example>`);
      assert.equal(got.get('display-name-brand'), 2.5, name);
    }
  });

  it('is the brand’s own on its subsidiaries’ domains', async () => {
    assert.equal((await signals(`${word('ВТБ Лизинг')} <info@vtb-leasing.ru>`)).has('display-name-brand'), false);
    assert.equal((await signals(`${word('Сбербанк-АСТ')} <info@sberbank-ast.ru>`)).has('display-name-brand'), false);
    assert.equal((await signals(`${word('ВТБ Лизинг')} <info@vtb-lising.ru>`)).get('display-name-brand'), 2.5);
  });
});

describe('a department in the display name', () => {
  it('is read through zero-width characters', async () => {
    assert.equal(
      (await signals(`${word('I\u200bT Sup\u200bport')} <it.desk@gmail.com>`)).get('role-from-free-mail'),
      2.5,
    );
  });
});
