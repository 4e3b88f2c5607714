import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BRANDS } from '../../../../src/filter/phishing/brands.ts';
import { detectPhishing } from '../../../../src/filter/phishing/detector.ts';
import { linkSignals } from '../../../../src/filter/phishing/links/link-signals.ts';
import { parseMessage } from '../../../../src/mime/message.ts';
import { base, html, names, one, text } from './link-helpers.ts';

const safeLink = (url: string) =>
  `https://eur01.safelinks.protection.outlook.com/?url=${encodeURIComponent(url)}&data=05%7C01&reserved=0`;

// Each row: HTML body, the signals it must give (exactly).
const cases: [what: string, body: string, want: string[]][] = [
  [
    'text shows paypal.com, href elsewhere',
    '<a href="https://login.evil.test.net/x">https://www.paypal.com/signin</a>',
    ['link-text-mismatch'],
  ],
  ['text shows a bare domain', '<a href="https://pay.example.net/">sberbank.ru</a>', ['link-text-mismatch']],
  ['text shows the same registrable domain', '<a href="https://www.paypal.com/x">paypal.com</a>', []],
  ['plain words are no domain', '<a href="https://example.net/">click here</a>', []],
  ['a file name is no domain', '<a href="https://github.com/x/y">setup.py</a>', []],
  ['brand named with an account word', '<a href="https://example.net/">Log in to PayPal</a>', ['brand-link-elsewhere']],
  ['brand alone', '<a href="https://example.net/">Сбербанк</a>', ['brand-link-elsewhere']],
  [
    'brand before a bare call to action',
    '<p>Log in to PayPal: <a href="https://example.net/">here</a></p>',
    ['brand-link-elsewhere'],
  ],
  ['brand link to its own domain', '<a href="https://www.paypal.com/signin">Log in to PayPal</a>', []],
  ['headline naming a brand', '<a href="https://news.example.net/">Apple ships a new iPod</a>', []],
  ['short name in another case', '<a href="https://example.net/">ups and downs</a>', []],
  ['short name as written', '<a href="https://example.net/">UPS</a>', ['brand-link-elsewhere']],
  ['lookalike of a brand', '<a href="https://paypal-secure-login.net/">Continue</a>', ['lookalike-link']],
  ['lookalike of our domain', '<a href="https://acmec0rp.ru/">Continue</a>', ['lookalike-link']],
  ['brand name as a subdomain', '<a href="https://paypal.com.account.example.net/">Continue</a>', ['lookalike-link']],
  ['brand country domain is not a lookalike', '<a href="https://www.amazon.de/">Shop</a>', []],
  ['brand word inside another name', '<a href="https://s3.amazonaws.com/b/x">file</a>', []],
  ['decimal IP', '<a href="http://3232235777/">x</a>', ['ip-literal-link']],
  ['hex IP', '<a href="http://0xC0A80101/x">x</a>', ['ip-literal-link']],
  ['octal IP', '<a href="http://0300.0250.01.01/x">x</a>', ['ip-literal-link']],
  ['dotted IP', '<a href="http://192.0.2.7/x">x</a>', ['ip-literal-link']],
  ['IPv6', '<a href="http://[2001:db8::1]/x">x</a>', ['ip-literal-link']],
  [
    'mixed-script host imitating a brand',
    '<a href="https://xn--80ak6aa92e.com/">x</a>',
    ['lookalike-link', 'punycode-link'],
  ],
  ['Cyrillic name under a Latin TLD', '<a href="https://xn--e1aybc.com/">x</a>', ['punycode-link']],
  ['Latin host with a letter that passes for g', '<a href="https://xn--ithub-qmc.example/">x</a>', ['punycode-link']],
  ['Latin host with accents shown as they are', '<a href="https://xn--bcher-kva.example/">x</a>', []],
  ['all-Cyrillic IDN', '<a href="https://пример.рф/">пример.рф</a>', []],
  ['all-Cyrillic IDN in punycode', '<a href="https://xn--e1afmkfd.xn--p1ai/">x</a>', []],
  ['javascript:', '<a href="javascript:alert(1)">x</a>', ['data-or-script-uri']],
  ['javascript: hidden with an entity tab', '<a href="java&#9;script:alert(1)">x</a>', ['data-or-script-uri']],
  ['data:', '<a href="data:text/html;base64,PGgxPg==">x</a>', ['data-or-script-uri']],
  ['vbscript:', '<a href="VBScript:msgbox(1)">x</a>', ['data-or-script-uri']],
  ['an image is not a link', '<img src="data:image/png;base64,AAAA"><img src="http://192.0.2.7/x.png">', []],
  ['mailto is not a web link', '<a href="mailto:someone@example.net">PayPal</a>', []],
  ['shortener', '<a href="https://bit.ly/3abc">x</a>', ['url-shortener']],
  ['Yandex shortener', '<a href="https://clck.ru/abc">x</a>', ['url-shortener']],
  ['http login page', '<a href="http://shop.example.net/account/login">x</a>', ['insecure-login-link']],
  [
    'http link with a login text',
    '<a href="http://shop.example.net/p">Войти в личный кабинет</a>',
    ['insecure-login-link'],
  ],
  ['https login page', '<a href="https://shop.example.net/account/login">x</a>', []],
  ['plain http link', '<a href="http://lists.example.net/mailman/listinfo/updates">x</a>', []],
  ['Google Forms', '<a href="https://forms.gle/abc">x</a>', ['link-to-attachment-host']],
  ['Google Docs form', '<a href="https://docs.google.com/forms/d/e/x/viewform">x</a>', ['link-to-attachment-host']],
  ['Firebase page', '<a href="https://secure-x.web.app/">x</a>', ['link-to-attachment-host']],
  ['Google Docs document', '<a href="https://docs.google.com/document/d/x">x</a>', []],
  ['search form', '<form action="https://example.net/search"><input name="q"></form>', ['html-form']],
];
for (const [what, body, want] of cases) test(what, () => assert.deepEqual(names(html(body)), want));

test('form weights: search 0.5, personal data 2, password 4 with the password mask', () => {
  assert.equal(one(html('<form><input name="q"></form>'), 'html-form').weight, 0.5);
  assert.equal(one(html('<form><input type="email" name="e"></form>'), 'html-form').weight, 2);
  const pw = one(
    html('<form action="https://x.example.net/p"><input name="u"><input type="password"></form>'),
    'html-form',
  );
  assert.equal(pw.weight, 4);
  assert.deepEqual(pw.categories, { password: 1 });
  assert.equal(pw.evidence, 'https://x.example.net/p');
});

test('SafeLinks-wrapped good link gives nothing; wrapped lookalike gives lookalike-link', () => {
  assert.deepEqual(
    names(html(`<a href="${safeLink('https://www.paypal.com/signin')}">https://www.paypal.com/</a>`)),
    [],
  );
  const got = html(`<a href="${safeLink('https://paypal-secure-login.net/')}">Continue</a>`);
  assert.deepEqual(names(got), ['lookalike-link']);
  const s = one(got, 'lookalike-link');
  assert.equal(s.evidence, 'https://paypal-secure-login.net/');
  assert.match(s.explanation.en, /Microsoft Safe Links/);
  assert.match(s.explanation.en, /paypal\.com/);
  assert.equal(s.weight, 2.5, "a brand's name plus a word weighs less than look-alike letters");
  assert.equal(one(html('<a href="https://paypa1.com/">Continue</a>'), 'lookalike-link').weight, 4);
});

test('other wrappers are unwrapped and not scored', () => {
  const good = [
    'https://urldefense.proofpoint.com/v2/url?u=https-3A__www.paypal.com_signin&d=DwMF&c=x',
    'https://urldefense.com/v3/__https://www.paypal.com/signin__;!!abc$',
    'https://www.google.com/url?q=https://www.paypal.com/&sa=D',
    'https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fwww.paypal.com%2f&c=E,1,x',
    'https://protect-eu.mimecast.com/s/AbCdEf?domain=example.net',
  ];
  for (const href of good) assert.deepEqual(names(html(`<a href="${href}">www.paypal.com</a>`)), [], href);
  const bad = 'https://urldefense.proofpoint.com/v2/url?u=http-3A__192.0.2.7_login&d=x';
  assert.deepEqual(names(html(`<a href="${bad}">x</a>`)), ['ip-literal-link']);
});

test('a click tracker or a carried URL of the shown site lowers the mismatch, never clears it', () => {
  const tracked = one(html('<a href="https://abc12.mjt.lu/lnk/AUsAAA/1">dilbert.com</a>'), 'link-text-mismatch');
  assert.equal(tracked.weight, 1.5);
  // The browser goes to shop.example.net; whether it sends the reader on to buy.com is its own choice.
  const carried = one(
    html('<a href="http://shop.example.net/go/to?destUrl=http%3A%2F%2Fwww%2Ebuy%2Ecom%2F">buy.com</a>'),
    'link-text-mismatch',
  );
  assert.equal(carried.weight, 1.5);
  assert.equal(
    carried.explanation.en,
    'The link text shows buy.com but it leads to shop.example.net (it passes on a link to buy.com, but where it really leads is up to shop.example.net).',
  );
  assert.match(carried.explanation.ru, /передаётся ссылка на buy\.com/);
});

test('a URL of the shown site in the query does not hide where the link goes (audit L1, E2)', () => {
  for (const query of ['?ref=https://www.paypal.com/', '?continue=https%3A%2F%2Fwww.paypal.com%2F']) {
    const got = one(
      html(`<a href="https://evil-corp.net/signin${query}">https://www.paypal.com/signin</a>`),
      'link-text-mismatch',
    );
    assert.equal(got.weight, 1.5, query);
    assert.deepEqual(got.categories, { bank: 1 });
  }
  // A carried URL of some other site is no excuse at all.
  const other = html('<a href="https://evil-corp.net/signin?ref=https://www.google.com/">https://www.paypal.com/</a>');
  assert.equal(one(other, 'link-text-mismatch').weight, 3);
  // Nor for a brand's name: the link still goes elsewhere.
  const brand = html('<a href="https://evil-corp.net/signin?next=https://www.paypal.com/">Log in to PayPal</a>');
  assert.equal(one(brand, 'brand-link-elsewhere').weight, 1);
});

test('a host that only starts or ends like a wrapper is judged itself (audit L2, L3)', () => {
  const shows = '>https://www.paypal.com/signin</a>';
  assert.equal(one(html(`<a href="https://evilrs6.net/signin"${shows}`), 'link-text-mismatch').weight, 3);
  const google = html(`<a href="https://google.attacker.net/url?q=https://evil-corp.net/"${shows}`);
  assert.equal(one(google, 'link-text-mismatch').weight, 3);
  assert.match(one(google, 'link-text-mismatch').explanation.en, /leads to google\.attacker\.net\.$/);
  const disguised = html('<a href="https://google.com.evil.net/url?q=https://www.google.com/">Continue</a>');
  assert.deepEqual(names(disguised), ['lookalike-link']);
  // The real ones are still looked through.
  assert.deepEqual(names(html(`<a href="https://www.google.de/url?q=https://www.paypal.com/"${shows}`)), []);
  assert.deepEqual(names(html(`<a href="https://r20.rs6.net/tn.jsp?f=001x"${shows}`)), []);
});

test('characters a reader does not see do not hide the mismatch (audit L5, L6)', () => {
  for (const shown of [
    'https://www.pay&shy;pal.com/signin',
    'https://www.paypal&#8203;.com/signin',
    'https://www.pay&#x2060;pal.com/',
    '&#xFEFF;www.paypal.com',
    '&#x202A;www.paypal.com&#x202C;',
  ]) {
    assert.deepEqual(names(html(`<a href="https://evil-corp.net/signin">${shown}</a>`)), ['link-text-mismatch'], shown);
  }
  assert.deepEqual(names(html('<a href="https://evil-corp.net/">Pay&#8203;Pal</a>')), ['brand-link-elsewhere']);
  assert.deepEqual(names(html('<p>Log in to Pay&shy;Pal: <a href="https://evil-corp.net/">here</a></p>')), [
    'brand-link-elsewhere',
  ]);
});

test('a script scheme after control characters is still a script link (audit L8)', () => {
  for (const href of ['&#1;javascript:alert(1)', '&#x1F; &#9;javascript:alert(1)', 'javascript:alert(1)&#1;']) {
    assert.deepEqual(names(html(`<a href="${href}">x</a>`)), ['data-or-script-uri'], href);
  }
  assert.deepEqual(names(html('<a href="\x01 vbscript:x">x</a>')), ['data-or-script-uri']);
});

test('an organisation linking between its own domains, DMARC-authenticated, is no mismatch (audit F4, L14)', () => {
  const sber = '<a href="https://www.sberbank.com/promo">www.sberbank.ru</a>';
  const sberbank = { ...base, senderDomain: 'sberbank.ru', html: sber };
  assert.deepEqual(names(linkSignals({ ...sberbank, authenticatedSenderDomain: 'sberbank.ru' })), []);
  // Unauthenticated (no DMARC pass), the From address may be anyone's.
  assert.deepEqual(names(linkSignals(sberbank)), ['link-text-mismatch']);
  assert.deepEqual(names(linkSignals({ ...sberbank, authenticatedSenderDomain: '' })), ['link-text-mismatch']);
  const microsoft = {
    ...base,
    senderDomain: 'microsoft.com',
    authenticatedSenderDomain: 'microsoft.com',
    html: '<a href="https://login.live.com/">https://account.microsoft.com</a>',
  };
  assert.deepEqual(names(linkSignals(microsoft)), []);
  // Only the shown domain's owner is excused: a phisher authenticated on their own domain is not.
  const phisher = {
    ...base,
    senderDomain: 'evil-corp.net',
    authenticatedSenderDomain: 'evil-corp.net',
    html: '<a href="https://evil-corp.net/signin">https://www.paypal.com/signin</a>',
  };
  assert.deepEqual(names(linkSignals(phisher)), ['link-text-mismatch']);
  // The other link signals still count for the owner.
  const ip = linkSignals({
    ...sberbank,
    authenticatedSenderDomain: 'sberbank.ru',
    html: sber.replace('www.sberbank.com', '192.0.2.7'),
  });
  assert.deepEqual(names(ip), ['ip-literal-link']);
});

test('plain-text bodies: bare URLs are links', () => {
  assert.deepEqual(names(text('Sign in at http://192.0.2.7/login now.')), ['ip-literal-link']);
  assert.deepEqual(names(text('Sign in at http://shop.example.net/login.')), ['insecure-login-link']);
  assert.deepEqual(names(text('see www.paypal.com and https://example.net/')), []);
});

test('each signal once per message, with evidence and explanations in both languages', () => {
  const body = '<a href="http://192.0.2.1/">a</a><a href="http://192.0.2.2/">b</a><a href="https://bit.ly/x">c</a>';
  const got = html(body);
  assert.deepEqual(names(got), ['ip-literal-link', 'url-shortener']);
  const ip = one(got, 'ip-literal-link');
  assert.equal(ip.group, 'links');
  assert.equal(ip.evidence, 'http://192.0.2.1/');
  assert.match(ip.explanation.ru, /IP-адрес 192\.0\.2\.1/);
  const written = one(html('<a href="http://3232235777/">x</a>'), 'ip-literal-link');
  assert.match(written.explanation.en, /192\.168\.1\.1 \(written as 3232235777\)/);
  assert.match(written.explanation.ru, /записан как 3232235777/);
});

test('Russian explanations name the hosts', () => {
  const mismatch = one(
    html('<a href="https://paypal-secure.example.net/">https://www.paypal.com/</a>'),
    'link-text-mismatch',
  );
  assert.equal(
    mismatch.explanation.ru,
    'Текст ссылки показывает paypal.com, а ведёт она на paypal-secure.example.net.',
  );
  assert.equal(mismatch.explanation.en, 'The link text shows paypal.com but it leads to paypal-secure.example.net.');
  assert.deepEqual(mismatch.categories, { bank: 1 });
  const brand = one(html('<a href="https://example.net/">Войти в Сбербанк</a>'), 'brand-link-elsewhere');
  assert.equal(
    brand.explanation.ru,
    'Ссылка «Войти в Сбербанк» упоминает Сбербанк, но ведёт на example.net — это не адрес бренда «Сбербанк».',
  );
  assert.deepEqual(brand.categories, { bank: 1 });
  const fake = one(html('<a href="https://xn--80ak6aa92e.com/">x</a>'), 'punycode-link');
  assert.match(fake.explanation.ru, /смешаны буквы разных алфавитов \(кириллица, латиница\)/);
  const look = one(html('<a href="https://paypa1.com/">x</a>'), 'lookalike-link');
  assert.match(look.explanation.ru, /^Ссылка ведёт на paypa1\.com\. Домен ссылки paypa1\.com имитирует paypal\.com/);
  assert.deepEqual(look.categories, { bank: 1 });
});

test('evidence is cut to about 120 characters', () => {
  const long = `http://192.0.2.7/${'a'.repeat(300)}`;
  assert.equal(one(html(`<a href="${long}">x</a>`), 'ip-literal-link').evidence?.length, 120);
});

test('a brand sending about itself is not flagged for its own name', () => {
  const got = linkSignals({ ...base, senderDomain: 'paypal.com', html: '<a href="https://example.net/">PayPal</a>' });
  assert.deepEqual(names(got), []);
});

test('at most 200 links are looked at', () => {
  const filler = '<a href="https://example.net/">x</a>'.repeat(200);
  assert.deepEqual(names(html(`${filler}<a href="http://192.0.2.7/">x</a>`)), []);
  assert.deepEqual(names(html(`${filler.slice(0, -40)}<a href="http://192.0.2.7/">x</a>`)), ['ip-literal-link']);
});

test('link text showing a domain over a link to an IP address is a mismatch too', () => {
  const got = html('<a href="http://203.0.113.9/owa/login.php">https://mail.example.com/owa</a>');
  assert.ok(names(got).includes('link-text-mismatch'), names(got).join(','));
  assert.ok(names(got).includes('ip-literal-link'));
});

test('the detector excuses the mismatch only for a From domain that passed DMARC (audit F4)', async () => {
  const message = await parseMessage(
    Buffer.from(
      'From: =?UTF-8?B?0KHQsdC10YDQkdCw0L3Qug==?= <news@sberbank.ru>\r\nTo: a@vostok-trade.ru\r\nSubject: Promo\r\n' +
        'Content-Type: text/html; charset=utf-8\r\n\r\n<p><a href="https://www.sberbank.com/promo">www.sberbank.ru</a></p>\r\n',
    ),
  );
  const settings = {
    protectedDomains: ['vostok-trade.ru'],
    partnerDomains: [],
    brands: DEFAULT_BRANDS,
    people: [],
    allowlist: [],
  };
  const links = async (authentication: { dmarc: string; dmarcDomain?: string }) =>
    names((await detectPhishing({ message, authentication }, settings)).signals.filter((s) => s.group === 'links'));
  assert.deepEqual(await links({ dmarc: 'pass', dmarcDomain: 'sberbank.ru' }), []);
  assert.deepEqual(await links({ dmarc: 'pass' }), []);
  assert.deepEqual(await links({ dmarc: 'none', dmarcDomain: 'sberbank.ru' }), ['link-text-mismatch']);
  // A pass for some other domain vouches for nothing here.
  assert.deepEqual(await links({ dmarc: 'pass', dmarcDomain: 'evil-corp.net' }), ['link-text-mismatch']);
});

test('a relative link is judged where its <base href> sends it (HTML §4.2.3)', () => {
  const shown = '<a href="login">https://www.paypal.com/login</a>';
  const got = html(`<html><head><base href="https://evil.example/"></head><body>${shown}</body></html>`);
  const mismatch = one(got, 'link-text-mismatch');
  assert.equal(mismatch.evidence, 'https://evil.example/login');
  assert.equal(
    mismatch.explanation.en,
    'The link text shows paypal.com but it leads to evil.example (its address "login" is relative, completed from the message\'s <base href="https://evil.example/">).',
  );
  assert.match(
    mismatch.explanation.ru,
    /адрес «login» относительный и дополнен из <base href="https:\/\/evil\.example\/">/,
  );
  assert.deepEqual(names(html(`${shown}<base href="https://paypa1.com/">`)), ['link-text-mismatch', 'lookalike-link']);
  assert.deepEqual(names(html('<base href="https://evil.example/"><a href="signin">Log in to PayPal</a>')), [
    'brand-link-elsewhere',
  ]);
  // With no base, a relative link opens the mail program's own page: no remote target to judge.
  assert.deepEqual(names(html(shown)), []);
  // The base of a site the text shows is no mismatch.
  assert.deepEqual(names(html(`<base href="https://www.paypal.com/">${shown}`)), []);
});

test('a decoy <base> that browsers do not use does not hide the one they do', () => {
  const shown = '<a href="signin">https://www.paypal.com/signin</a>';
  for (const decoy of [
    '<svg><base href="https://www.paypal.com/"></svg>',
    '<math><base href="https://www.paypal.com/"></math>',
  ]) {
    const got = html(`<html><body>${decoy}<base href="https://evil.example/"><p>Sign in: ${shown}</p></body></html>`);
    assert.equal(one(got, 'link-text-mismatch').evidence, 'https://evil.example/signin', decoy);
  }
  // A <base> in a <select> counts for the readers whose parser keeps it (whatwg/html#10548).
  const select = html(
    `<select><base href="https://evil.example/"></select><base href="https://www.paypal.com/">${shown}`,
  );
  assert.equal(one(select, 'link-text-mismatch').evidence, 'https://evil.example/signin');
  // A scheme-relative base names its host, as a webmail on https reads it.
  const got = one(html(`<head><base href="//evil.example/"></head>${shown}`), 'link-text-mismatch');
  assert.equal(got.evidence, 'https://evil.example/signin');
  assert.match(got.explanation.en, /completed from the message's <base href="\/\/evil\.example\/">/);
});

test('a scheme-relative link is judged by the host it names', () => {
  const got = one(html('<a href="//evil.example/login">https://www.paypal.com/login</a>'), 'link-text-mismatch');
  assert.equal(got.evidence, 'https://evil.example/login');
  assert.match(got.explanation.en, /"\/\/evil\.example\/login" has no scheme/);
  assert.match(got.explanation.ru, /записан без схемы/);
});

test('the links of an attached message are checked, and say where they are', () => {
  const attached = [
    {
      name: 'forward.eml',
      text: '',
      html: '<p><a href="https://evil.example/x">https://www.paypal.com/signin</a></p>',
    },
  ];
  const got = linkSignals({ ...base, html: '<p>See the attached notice.</p>', attached });
  const mismatch = one(got, 'link-text-mismatch');
  assert.equal(mismatch.evidence, 'https://evil.example/x');
  assert.equal(
    mismatch.explanation.en,
    'The link text shows paypal.com but it leads to evil.example (in the attached message forward.eml).',
  );
  assert.equal(
    mismatch.explanation.ru,
    'Текст ссылки показывает paypal.com, а ведёт она на evil.example (во вложенном письме forward.eml).',
  );
  const text = linkSignals({
    ...base,
    html: '',
    attached: [{ name: 'a.eml', html: '', text: 'Sign in: http://192.0.2.7/login' }],
  });
  assert.deepEqual(names(text), ['ip-literal-link']);
  const form = linkSignals({
    ...base,
    html: '',
    attached: [{ name: 'a.eml', text: '', html: '<form action="https://x.example/p"><input type="password"></form>' }],
  });
  assert.equal(one(form, 'html-form').explanation.en.startsWith('The attached message a.eml contains a form'), true);
  assert.match(one(form, 'html-form').explanation.ru, /^Во вложенном письме a\.eml есть форма/);
});

test('an attached message shares the message’s link budget: nesting adds no work', () => {
  const filler = '<a href="https://example.net/">x</a>'.repeat(200);
  const attached = [{ name: 'forward.eml', text: '', html: '<a href="http://192.0.2.7/">x</a>' }];
  assert.deepEqual(names(linkSignals({ ...base, html: filler, attached })), []);
  assert.deepEqual(names(linkSignals({ ...base, html: filler.slice(0, -40), attached })), ['ip-literal-link']);
});
