import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainToASCII } from 'node:url';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { type LookalikeKind, lookalikeOf } from '../../../src/filter/phishing/lookalike.ts';

const ours = ['example.com', 'paypal.com', 'google.com', 'microsoft.com', 'scope.com', 'ab.com'];
const punyGoogle = domainToASCII('gооgle.com'); // Cyrillic о ×2 → xn--ggle-55da.com

const positives: [sender: string, protectedDomain: string, kind: LookalikeKind][] = [
  ['exаmple.com', 'example.com', 'mixed-script'], // UTS #39 §5.1: Latin + Cyrillic а
  ['gооgle.com', 'google.com', 'mixed-script'],
  ['раураl.com', 'paypal.com', 'mixed-script'],
  ['mail.exаmple.com', 'example.com', 'mixed-script'], // registrable part compared
  ['paypa1.com', 'paypal.com', 'homoglyph'], // UTS #39 §4 skeleton: 1 → l
  ['examp1e.com', 'example.com', 'homoglyph'],
  ['rnicrosoft.com', 'microsoft.com', 'homoglyph'], // rn → m
  ['ѕсоре.com', 'scope.com', 'homoglyph'], // whole-script Cyrillic: single script, still confusable
  [punyGoogle, 'google.com', 'punycode'], // RFC 3492 A-label decoded before comparing
  ['XN--GGLE-55DA.COM', 'google.com', 'punycode'],
  ['exsmple.com', 'example.com', 'substitution'],
  ['paypai.com', 'paypal.com', 'substitution'],
  ['exxample.com', 'example.com', 'insertion'],
  ['googgle.com', 'google.com', 'insertion'],
  ['exmple.com', 'example.com', 'deletion'],
  ['micosoft.com', 'microsoft.com', 'deletion'],
  ['examlpe.com', 'example.com', 'transposition'],
  ['paypla.com', 'paypal.com', 'transposition'],
  ['example-support.com', 'example.com', 'added-word'],
  ['secure-example.com', 'example.com', 'added-word'],
  ['examplelogin.com', 'example.com', 'added-word'],
  ['paypal-secure-login.net', 'paypal.com', 'added-word'],
  ['example.co', 'example.com', 'tld-swap'],
  ['example.co.uk', 'example.com', 'tld-swap'],
  ['google.ru', 'google.com', 'tld-swap'],
];
for (const [sender, want, kind] of positives) {
  test(`${sender} → ${kind} of ${want}`, () => {
    const got = lookalikeOf(sender, ours);
    assert.ok(got, `${sender} not flagged`);
    assert.equal(got.kind, kind);
    assert.equal(got.protected, want);
    assert.ok(got.explanation.en.includes(want) && got.explanation.ru.includes(want));
  });
}

const negatives: [sender: string, why: string][] = [
  ['example.com', 'protected itself'],
  ['EXAMPLE.COM.', 'protected itself, case and root dot'],
  ['mail.example.com', 'subdomain of a protected domain'],
  ['xn--exmple-cua.com.example.com', 'subdomain, whatever its labels'],
  ['a.b.google.com', 'deep subdomain'],
  ['unrelated.org', 'unrelated'],
  ['ac.com', 'short label: ab/ac is noise'],
  ['abc.com', 'short label insertion'],
  ['sample.com', 'distance 2 from example'],
  ['goggles.com', 'distance 2 from google'],
  ['ѕоо.com', 'Cyrillic but imitates nothing of ours'],
  ['пример.рф', 'Cyrillic domain, unrelated'],
  ['localhost', 'no public suffix'],
  ['', 'empty'],
];
for (const [sender, why] of negatives) {
  test(`${sender || '(empty)'} is no lookalike: ${why}`, () => assert.equal(lookalikeOf(sender, ours), undefined));
}

test('a protected domain is never a lookalike of another protected one', () => {
  assert.equal(lookalikeOf('example.net', ['example.com', 'example.net']), undefined);
  assert.equal(lookalikeOf('shop.example.net', ['example.com', 'example.net']), undefined);
});

test('explanations name the letter and its script, in English and Russian', () => {
  assert.deepEqual(lookalikeOf('exаmple.com', ours)?.explanation, {
    en: "The sender's domain exаmple.com imitates example.com: the 'а' is a Cyrillic letter.",
    ru: 'Домен отправителя exаmple.com имитирует example.com: буква «а» — кириллическая.',
  });
  assert.deepEqual(lookalikeOf('rnicrosoft.com', ours)?.explanation, {
    en: "The sender's domain rnicrosoft.com imitates microsoft.com: 'rn' stands in for 'm'.",
    ru: 'Домен отправителя rnicrosoft.com имитирует microsoft.com: «rn» вместо «m».',
  });
  const puny = lookalikeOf(punyGoogle, ours)?.explanation.en ?? '';
  assert.match(puny, /xn--ggle-55da\.com .*punycode.*gооgle\.com.*Cyrillic/);
  assert.match(lookalikeOf('example.co', ours)?.explanation.ru ?? '', /зона \.co вместо \.com/);
});

// Speed is measured by bench/scan.ts (the whole detector), not timed here.
test('many protected domains: each sender finds its own target, or none', () => {
  const protectedDomains = Array.from({ length: 20 }, (_, i) => `company${i}-brand.com`);
  const found = (sender: string) => {
    const l = lookalikeOf(sender, protectedDomains);
    return l && `${l.kind} ${l.protected}`;
  };
  assert.equal(found('company7-brand.co'), 'tld-swap company7-brand.com');
  assert.equal(found('cornpany3-brand.com'), 'homoglyph company3-brand.com');
  assert.equal(found('unrelated.org'), undefined);
  assert.equal(found('mail.company1-brand.com'), undefined);
});

test('a protected name split by a hyphen and padded with a word is an added-word lookalike', () => {
  const l = lookalikeOf('citi-bank-alerts.com', ['citibank.com']);
  assert.equal(l?.kind, 'added-word');
  assert.match(l?.explanation.en ?? '', /alerts/);
});

// UTS #39 §4 with confusables.txt keeps case (Greek Ρ → P but ρ → p; Υ → Y but υ → u; Κ → K but κ → ĸ), and a
// domain name has none of its own (RFC 4343 §2): it can be shown in capitals, where these letters pass for Latin.
const capitals: [sender: string, protectedDomain: string, kind: LookalikeKind][] = [
  ['ΡΑΥΡΑL.com', 'paypal.com', 'mixed-script'], // Greek Ρ, Α, Υ and a Latin L; ραυραl.com in small letters
  ['ραυραl.com', 'paypal.com', 'mixed-script'], // the same domain, however it is written
  [domainToASCII('ραυραl.com'), 'paypal.com', 'punycode'], // xn--l-ylba6dbx.com
  ['ΕΧΑΜΡLΕ.com', 'example.com', 'mixed-script'],
  ['ΜΙCRΟSΟFΤ.com', 'microsoft.com', 'mixed-script'], // Greek Ι is I, which the skeleton writes as l in both
  ['ΡΑΥΡΑL-SECURE.com', 'paypal.com', 'added-word'],
];
for (const [sender, want, kind] of capitals) {
  test(`Greek capitals: ${sender} → ${kind} of ${want}`, () => {
    const got = lookalikeOf(sender, ours);
    assert.equal(got?.kind, kind, sender);
    assert.equal(got?.protected, want);
  });
}

test('whole-script Greek (kappa, tau, omicron, alpha) is a homoglyph of a Latin name in capitals', () => {
  assert.equal(lookalikeOf('οκτα.com', ['okta.com'])?.kind, 'homoglyph'); // ΟΚΤΑ
  assert.equal(lookalikeOf('τbank.ru', ['tbank.ru'])?.kind, 'mixed-script'); // τ is ᴛ in small letters, Τ is T
  assert.equal(lookalikeOf('νtb.ru', ['vtb.ru'])?.kind, 'mixed-script'); // ν is v already in small letters
});

test('capitals are explained, with the letters that are Greek', () => {
  assert.deepEqual(lookalikeOf('ΡΑΥΡΑL.com', ours)?.explanation, {
    en: "The sender's domain ραυραl.com imitates paypal.com, and in capital letters ΡΑΥΡΑL.COM looks just like PAYPAL.COM: the letters 'Ρ', 'Α', 'Υ' are Greek.",
    ru: 'Домен отправителя ραυραl.com имитирует paypal.com: заглавными буквами ΡΑΥΡΑL.COM не отличить от PAYPAL.COM; буквы «Ρ», «Α», «Υ» — греческие.',
  });
  assert.match(lookalikeOf('ΡΑΥΡΑL-SECURE.com', ours)?.explanation.en ?? '', /adds 'secure' to the name 'paypal'/);
});

test('no lookalike in capitals: Greek with no Latin twin there, or an ASCII name', () => {
  assert.equal(lookalikeOf('ΝΟSΤΟΚ-trade.ru', ['vostok-trade.ru']), undefined); // Ν is N, not V
  assert.equal(lookalikeOf('ΑΡΡΙΕ.com', ['apple.com']), undefined); // Ι is I, not L
  assert.equal(lookalikeOf('ελλάδα.gr', ours), undefined);
  // ASCII capitals differ only in I, which the skeleton takes for 1 and l: IC.AC.UK is no 1C.RU.
  assert.equal(lookalikeOf('ic.ac.uk', ['1c.ru']), undefined);
});

// Everyday words one letter from a brand's name (brands.ts WORDS_NEAR_BRANDS) are names of their own, whoever
// asks: the link checks, and the sender's (cloud.com's mail is not icloud.com's, email.com's not gmail.com's).
test('a word next to a brand name is no one-letter lookalike of it', () => {
  const brands = ['icloud.com', 'tinder.com', 'gmail.com', 'chase.com', 'apple.com', 'binance.com'];
  for (const word of [
    'cloud.com',
    'cloud.ru',
    'cloud.microsoft',
    'finder.com',
    'email.com',
    'phase.com',
    'apply.com',
  ]) {
    assert.equal(lookalikeOf(word, brands), undefined, word);
  }
  assert.equal(lookalikeOf('finance.com', brands), undefined);
  // Misspellings still are, and so are confusable letters and added words around such a word's brand.
  assert.equal(lookalikeOf('icl0ud.com', brands)?.kind, 'substitution');
  assert.equal(lookalikeOf('tindr.com', brands)?.kind, 'deletion');
  assert.equal(lookalikeOf('icloud-verify.com', brands)?.kind, 'added-word');
});

test('a one-letter edit is matched first with the protected domain under the same suffix', () => {
  const got = lookalikeOf('amazom.de', ['amazon.com', 'amazon.de']);
  assert.equal(got?.protected, 'amazon.de');
  assert.match(got?.explanation.en ?? '', /amazon\.de/);
  assert.equal(lookalikeOf('amazom.com', ['amazon.de', 'amazon.com'])?.protected, 'amazon.com');
  assert.equal(lookalikeOf('amazom.fr', ['amazon.com', 'amazon.de'])?.protected, 'amazon.com'); // first, as before
});

// Audit of legitimate senders (phish-fp-audit probe.jsonl): a brand's name inside a longer word is chance.
test('an added word counts only when the name stands apart: hyphen, digit, label end or a lure word', () => {
  const brands = DEFAULT_BRANDS.flatMap((b) => b.domains);
  for (const innocent of [
    'pineapple-studio.ru', // the tail of another word
    'appleseed.org', // the head of another word
    'appletree-catering.ru',
    'homeoffice.gov.uk',
    'backoffice-soft.ru',
    'officemag.ru',
    'dropboxforum.com',
  ]) {
    assert.equal(lookalikeOf(innocent, brands), undefined, innocent);
  }
  for (const [phish, words] of [
    ['paypalsecure.com', ['secure']],
    ['myappleid.com', ['my', 'id']],
    ['secureamazonlogin.com', ['secure', 'login']],
    ['sberbankonline.ru', ['online']],
    ['apple-pine.com', ['pine']], // a hyphen sets the name apart, whatever the word
    ['appleid2.com', ['id2']],
  ] as const) {
    const got = lookalikeOf(phish, brands);
    assert.equal(got?.kind, 'added-word', phish);
    for (const w of words) assert.ok(got.explanation.en.includes(`'${w}'`), `${phish}: ${got.explanation.en}`);
  }
});

test('the brands’ sister domains and platforms imitate nothing', () => {
  const brands = DEFAULT_BRANDS.flatMap((b) => b.domains);
  for (const sister of [
    'googlegroups.com',
    'withgoogle.com',
    'amazonaws.com',
    'sns.amazonaws.com',
    'yandex-team.ru',
    'sberbank-ast.ru',
    'vtb-leasing.ru',
    'netflixtechblog.com',
    'epicgamesstore.com',
  ]) {
    assert.equal(lookalikeOf(sister, brands), undefined, sister);
  }
});

test('added words are cut from the label as written, not from its skeleton (m is not rn)', () => {
  const got = lookalikeOf('yandex-team.com', ['yandex.ru']);
  assert.equal(got?.kind, 'added-word');
  assert.match(got.explanation.en, /adds 'team' to the name 'yandex'/);
  assert.match(got.explanation.ru, /добавлено «team»/);
  assert.match(lookalikeOf('dropbox-forum.com', ['dropbox.com'])?.explanation.en ?? '', /adds 'forum'/);
});
