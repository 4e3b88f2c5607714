import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BRANDS } from '../../../../src/filter/phishing/brands.ts';
import {
  brandLookalike,
  disguisedAs,
  domainShownIn,
  harvestingService,
  idnProblem,
  ipLiteral,
  parseWebUrl,
  schemelessHost,
  schemeOf,
} from '../../../../src/filter/phishing/links/url-hosts.ts';

const ip = (href: string) => {
  const url = parseWebUrl(href);
  return url && ipLiteral(url, href);
};

// URL Standard §3.5 IPv4 parser: decimal, hex and octal parts all name an address.
const ipCases: [href: string, want: { ip: string; written: string } | undefined][] = [
  ['http://3232235777/', { ip: '192.168.1.1', written: '3232235777' }],
  ['http://0xC0A80101/', { ip: '192.168.1.1', written: '0xC0A80101' }],
  ['http://0300.0250.0001.0001/', { ip: '192.168.1.1', written: '0300.0250.0001.0001' }],
  ['http://192.168.257/', { ip: '192.168.1.1', written: '192.168.257' }],
  ['http://user@192.0.2.7:8080/x', { ip: '192.0.2.7', written: '192.0.2.7' }],
  ['http://[2001:db8::1]/', { ip: '[2001:db8::1]', written: '[2001:db8::1]' }],
  ['http://example.com/', undefined],
  ['http://1.2.3.4.example/', undefined],
];
for (const [href, want] of ipCases) test(`ip ${href}`, () => assert.deepEqual(ip(href), want));

test('parseWebUrl: www. as http, other schemes refused, userinfo read as browsers do', () => {
  assert.equal(parseWebUrl('www.example.com/x')?.href, 'http://www.example.com/x');
  assert.equal(parseWebUrl('mailto:a@example.com'), undefined);
  assert.equal(parseWebUrl('/relative'), undefined);
  assert.equal(parseWebUrl('https://www.paypal.com@evil.example/')?.hostname, 'evil.example');
  assert.equal(schemeOf(' JaVa\nScript:alert(1)'), 'javascript:');
});

// URL Standard, basic URL parser: leading and trailing C0 controls and spaces go, then every tab and newline.
const schemeCases: [href: string, want: string][] = [
  ['\x01javascript:alert(1)', 'javascript:'],
  ['\x00\x1f javascript:alert(1)', 'javascript:'],
  ['\x7fjavascript:alert(1)', ''], // DEL is not a C0 control: the browser sees no scheme
  ['java\tscr\nipt\r:alert(1)', 'javascript:'],
  ['\x01 data:text/html,x\x01', 'data:'],
  ['\u00A0javascript:alert(1)', 'javascript:'], // trimmed as before
  ['https://www.example.com/', 'https:'],
  ['//www.example.com/', ''],
  ['1javascript:x', ''],
];
for (const [href, want] of schemeCases) {
  test(`scheme of ${JSON.stringify(href)}`, () => assert.equal(schemeOf(href), want));
}

test('schemeOf: an href of 200,000 control characters is read in linear time', () => {
  const href = `${'\x01'.repeat(100_000)}javascript:x${'\x01 '.repeat(50_000)}`;
  const started = performance.now();
  assert.equal(schemeOf(href), 'javascript:');
  assert.ok(performance.now() - started < 500);
});

const idnCases: [host: string, kind: string | undefined][] = [
  ['xn--e1afmkfd.xn--p1ai', undefined], // пример.рф: one non-Latin script
  ['www.xn--e1afmkfd.xn--p1ai', undefined],
  ['xn--80ak6aa92e.com', 'mixed-script'], // аррӏе.com: Cyrillic name, Latin TLD
  ['xn--pypal-4ve.com', 'mixed-script'],
  ['xn--zz.com', 'punycode'], // not valid punycode
  ['example.com', undefined],
  // UTS #39 §5.2 Highly Restrictive: one script whose letters show what they are is an ordinary IDN.
  ['xn--bcher-kva.de', undefined], // bücher.de
  ['www.xn--mnchen-3ya.de', undefined], // münchen.de
  ['xn--franois-xxa.fr', undefined], // françois.fr
  ['xn--d-uga0v4h.pl', undefined], // łódź.pl
  // Latin letters that pass for plain ones (UTS #39 §4 skeleton all ASCII): a homograph, whatever it imitates.
  ['xn--oogle-qmc.com', 'punycode'], // ɡoogle.com, Latin small script g
  ['xn--cloud-m4a.com', 'punycode'], // ıcloud.com, dotless i
  ['xn--bcher-kva.xn--oogle-qmc.com', 'punycode'], // bücher.ɡoogle.com: one label is enough
];
for (const [host, kind] of idnCases) test(`idn ${host}`, () => assert.equal(idnProblem(host)?.kind, kind));

const shownCases: [text: string, want: string | undefined][] = [
  ['https://www.paypal.com/signin', 'paypal.com'],
  ['www.sberbank.ru', 'sberbank.ru'],
  ['sberbank.ru', 'sberbank.ru'],
  ['<http://login.example.co.uk/>', 'example.co.uk'],
  ['пример.рф', 'xn--e1afmkfd.xn--p1ai'],
  ['click here', undefined],
  ['setup.py', undefined],
  ['index.html', undefined],
  ['version 1.2.3', undefined],
  ['someone@example.com', undefined],
  ['http://setup.py/', 'setup.py'],
  // Drawn as nothing (Unicode Default_Ignorable_Code_Point): the reader sees paypal.com.
  ['https://www.pay\u00ADpal.com/signin', 'paypal.com'],
  ['https://www.paypal\u200B.com/signin', 'paypal.com'],
  ['www.pay\u200Cpal\u200D.com', 'paypal.com'],
  ['\u200Ewww.paypal.com\u200F', 'paypal.com'],
  ['sber\u2060bank\u2063.ru', 'sberbank.ru'],
  ['\uFEFFsberbank.ru', 'sberbank.ru'],
  ['\u202Asberbank.ru\u202C', 'sberbank.ru'],
  ['\u2066sberbank.ru\u2069', 'sberbank.ru'],
  ['click\u200Bhere', undefined],
  // Short text with an address in it (up to eight words): the address is what it shows.
  ['https://www.paypal.com/ →', 'paypal.com'],
  ['https://www.paypal.com/signin (secure)', 'paypal.com'],
  ['View your statement at www.paypal.com', 'paypal.com'],
  ['www.paypal.com Sign in', 'paypal.com'],
  ['Log in: paypal.com/signin', 'paypal.com'],
  ['Invoice at https://sever-logistic.ru/inv/12', 'sever-logistic.ru'],
  ['Sign in at\u00A0https://www.paypal.com/', 'paypal.com'],
  // Among words, a name without scheme, www. or path is a thing's name: ASP.NET, Socket.IO, Booking.com.
  ['Learn ASP.NET Core', undefined],
  ['Book your stay on Booking.com', undefined],
  ['Run setup.py first', undefined],
  ['Write to someone@example.com today', undefined],
  // Past eight words it is prose, which may mention other sites than the one it links to.
  ['We have moved from www.old-shop.example to our new site, read more', undefined],
  // UTS #46 §2.3: ideographic and fullwidth full stops are dots to a browser.
  ['www.paypal\u3002com', 'paypal.com'],
  ['paypal\uFF0Ecom', 'paypal.com'],
  ['https://paypal\uFF61com/signin', 'paypal.com'],
  ['Sign in at www.paypal\u3002com', 'paypal.com'],
  // NFKC (UAX #15), as the reader sees it: a one dot leader is a dot, fullwidth letters are ASCII (audit D7).
  ['www.paypal\u2024com/signin', 'paypal.com'],
  ['Sign in: www.paypal\u2024com', 'paypal.com'],
  ['\uFF57\uFF57\uFF57.\uFF50\uFF41\uFF59\uFF50\uFF41\uFF4C.\uFF43\uFF4F\uFF4D', 'paypal.com'],
  // Past eight words, a URL with its scheme still shows the address, and a www. name or path at the
  // start or end: words added to the address do not make it prose (audit D1).
  ['https://www.paypal.com/signin one two three four five six seven eight nine', 'paypal.com'],
  ['Your statement for October is ready, see it at https://www.paypal.com/signin today', 'paypal.com'],
  ['www.paypal.com/signin and then a b c d e f g h i', 'paypal.com'],
  ['Your statement for October is ready and waiting, see it at www.paypal.com', 'paypal.com'],
  [`${'word '.repeat(280)}https://www.paypal.com/`, 'paypal.com'],
  ['We moved from the old shop to www.new-shop.example and more, read it here please', undefined],
];
for (const [text, want] of shownCases)
  test(`shown "${text.slice(0, 80)}"`, () => assert.equal(domainShownIn(text), want));

test('shown: a long text or one that grows under NFKC costs a bounded amount (audit D7)', () => {
  // U+FDFA is 18 characters under NFKC; the text is cut before normalising and after.
  const started = performance.now();
  assert.equal(domainShownIn('\uFDFA'.repeat(500_000)), undefined);
  assert.equal(domainShownIn(`${'a.b '.repeat(200_000)}https://www.paypal.com/`), undefined);
  assert.ok(performance.now() - started < 1000);
});

const schemelessCases: [name: string, want: string | undefined][] = [
  ['paypa1.com', 'paypa1.com'],
  ['PAYPA1.COM', 'paypa1.com'],
  ['login.example.co.uk', 'login.example.co.uk'],
  ['пример.рф', 'xn--e1afmkfd.xn--p1ai'],
  ['report.pdf', undefined], // no TLD
  ['setup.py', undefined], // a TLD, but a file name's extension
  ['archive.zip', undefined],
  ['1.2.3', undefined],
  ['node.js', undefined],
  ['localhost', undefined],
  ['foo.example', undefined], // RFC 2606: reserved, in no public suffix section
];
for (const [name, want] of schemelessCases)
  test(`schemeless "${name}"`, () => assert.equal(schemelessHost(name), want));

const brands = ['paypal.com', 'amazon.com', 'google.com', 'gmail.com', 'live.com', 'mail.ru', 'apple.com'];
const brandCases: [domain: string, kind: string | undefined][] = [
  ['paypa1.com', 'homoglyph'],
  ['paypai.com', 'substitution'],
  ['paypal-secure-login.net', 'added-word'],
  ['paypal.xyz', 'tld-swap'],
  ['amazon.de', undefined], // country TLD: brands own these
  ['amazonaws.com', undefined], // added word, but not a lure
  ['googleapis.com', undefined],
  ['qmail.org', undefined], // a one-letter edit of a five-letter name
  ['hotmail.com', undefined], // mail.ru is too short a name
  ['olive.com', undefined],
  ['paypal.com', undefined],
];
for (const [domain, kind] of brandCases) {
  test(`brand lookalike ${domain}`, () => assert.equal(brandLookalike(domain, brands)?.kind, kind));
}

// With the default brands: a word next to a brand's name, or a name under a country's suffix one letter
// off a generic one, is a name of its own; a fresh misspelling is not.
const defaultBrandDomains = DEFAULT_BRANDS.flatMap((b) => b.domains);
const defaultBrandCases: [domain: string, want: string | undefined][] = [
  ['cloud.microsoft', undefined], // teams.cloud.microsoft, outlook.cloud.microsoft: Microsoft 365's own
  ['cloud.ru', undefined], // not icloud.com with the 'i' lost
  ['cloud.com', undefined],
  ['cloud.gov', undefined],
  ['finder.com', undefined], // not tinder.com
  ['finance.com', undefined], // not binance.com
  ['revolt.com', undefined], // not revolut.com
  ['telegra.ph', undefined], // Telegram's Telegraph, under a country's suffix
  ['paypay.ne.jp', undefined], // a Japanese payment app
  ['paypai.com', 'substitution paypal.com'],
  ['paypai.xyz', 'substitution paypal.com'], // generic suffix for generic: still a misspelling
  ['micosoft.com', 'deletion microsoft.com'],
  ['amazom.de', 'substitution amazon.de'], // the brand's own country domain, misspelt
  ['goggle.com', 'substitution google.com'], // a word, but one a glance reads as google
  ['amazons.com', 'insertion amazon.com'], // the brand's whole name, and a letter
  ['xn--pple-4q5a.com', 'substitution apple.com'], // ạpple.com: a mark under a five-letter name
  ['rnicrosoft.com', 'homoglyph microsoft.com'],
  ['micros0ft.com', 'substitution microsoft.com'],
  ['xn--pypal-4ve.com', 'punycode paypal.com'], // pаypal.com, Cyrillic а
];
for (const [domain, want] of defaultBrandCases) {
  test(`default brands: lookalike of ${domain}`, () => {
    const found = brandLookalike(domain, defaultBrandDomains);
    assert.equal(found && `${found.kind} ${found.protected}`, want);
  });
}

test('disguisedAs: a brand domain worn as a subdomain', () => {
  assert.equal(disguisedAs('paypal.com.secure.example.net', 'example.net', brands), 'paypal.com');
  assert.equal(disguisedAs('www.paypal.com', 'paypal.com', brands), undefined);
  assert.equal(disguisedAs('www.example.net', 'example.net', brands), undefined);
  assert.equal(disguisedAs('paypal.com.secure.example.net.', 'example.net', brands), 'paypal.com');
});

test('disguisedAs: a brand domain run into the next label with a hyphen', () => {
  assert.equal(disguisedAs('appleid.apple.com-verify.info', 'com-verify.info', brands), 'apple.com');
  assert.equal(disguisedAs('www.paypal.com-login.evil.example', 'evil.example', brands), 'paypal.com');
  assert.equal(disguisedAs('paypal.com-login.info', 'com-login.info', brands), 'paypal.com');
  // Not the brand's own host, not a name that only ends in the brand's label.
  assert.equal(disguisedAs('paypal.com-promo.paypal.com', 'paypal.com', brands), undefined);
  assert.equal(disguisedAs('mypaypal.com-login.info', 'com-login.info', brands), undefined);
  assert.equal(disguisedAs('www.paypal.community.example', 'community.example', brands), undefined);
});

test('harvesting services', () => {
  const svc = (href: string) => harvestingService(new URL(href));
  assert.equal(svc('https://forms.gle/x'), 'forms.gle');
  assert.equal(svc('https://docs.google.com/forms/d/x'), 'docs.google.com/forms');
  assert.equal(svc('https://x.firebaseapp.com/'), 'firebaseapp.com');
  assert.equal(svc('https://acct.blob.core.windows.net/c/x.html'), 'blob.core.windows.net');
  assert.equal(
    svc('https://gw.example/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'),
    'gw.example (IPFS)',
  );
  assert.equal(svc('https://docs.google.com/document/d/x'), undefined);
  assert.equal(svc('https://www.example.com/'), undefined);
});

test('harvesting services: a host with the root dot is the same host', () => {
  const svc = (href: string) => harvestingService(new URL(href));
  assert.equal(svc('https://forms.gle./x'), 'forms.gle');
  assert.equal(svc('https://FORMS.GLE./x'), 'forms.gle');
  assert.equal(svc('https://docs.google.com./forms/d/x'), 'docs.google.com/forms');
  assert.equal(svc('https://x.web.app./'), 'web.app');
});
