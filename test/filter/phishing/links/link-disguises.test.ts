/**
 * Audit A9 (#6, #7, #10, #11, #12, #15, S1): a brand in a link's userinfo, a repeated IP host, redirectors
 * that were not looked through, brands' own short and sister domains, "Sign in with <Brand>", bulk-mail click
 * trackers and a host written with its final dot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isClickTracker, isShortener, unwrap } from '../../../../src/filter/phishing/links/redirectors.ts';
import { html, names, one, text } from './link-helpers.ts';

const a = (href: string, shown: string) => `<p><a href="${href}">${shown}</a></p>`;
const enc = encodeURIComponent;

test('a domain or brand in the userinfo is a disguise (RFC 3986 §7.6)', () => {
  const got = one(html(a('https://www.paypal.com@evil.example/signin', 'Continue')), 'lookalike-link');
  assert.equal(got.weight, 4);
  assert.deepEqual(got.categories, { bank: 1 });
  assert.equal(
    got.explanation.en,
    'A link\'s address begins with www.paypal.com, but it really goes to evil.example: what stands before the "@" is only a user name handed to that site.',
  );
  assert.match(got.explanation.ru, /начинается с www\.paypal\.com, но на самом деле она ведёт на evil\.example/);
  assert.deepEqual(names(text('Visit https://www.paypal.com@evil.example/login today')), ['lookalike-link']);
  for (const href of [
    'https://paypal.com@evil.example/',
    'https://www.paypal.com:login@evil.example/',
    'https://www.paypal.com%2Fsignin@evil.example/',
    'https://https%3A%2F%2Fwww.paypal.com@evil.example/',
    'https://paypal-login@evil.example/',
    'https://acmecorp.ru@evil.example/', // our own domain
    'https://secure.shop.example.com@evil.example/', // plainly a host name
    `https://www.paypal.com@www.google.com/url?q=${enc('https://evil.example/')}`, // on the wrapper
  ]) {
    assert.deepEqual(names(html(a(href, 'Continue'))), ['lookalike-link'], href);
  }
  assert.deepEqual(names(html(a('http://www.paypal.com@192.0.2.7/', 'Continue'))), [
    'ip-literal-link',
    'lookalike-link',
  ]);
});

test('a user name that is no disguise is left alone', () => {
  for (const href of [
    'https://chase@git.example.net/repo.git', // a person called Chase, not the bank
    'https://john.doe@git.example.net/repo.git',
    'https://john.kim@git.example.net/repo.git', // .kim is a TLD, but this is a name
    'https://user%40example.com@host.example.net/',
    'https://www.paypal.com@www.paypal.com/', // where it really goes
    'https://paypal.com@www.paypal.de/', // the brand's own site
  ]) {
    assert.deepEqual(names(html(a(href, 'Continue'))), [], href);
  }
});

test('a second link to an IP already seen still has its text compared', () => {
  const twice = html(
    '<p>Dear customer, <a href="http://192.0.2.7/a">click here</a></p><p><a href="http://192.0.2.7/b">https://www.paypal.com/signin</a></p>',
  );
  assert.deepEqual(names(twice), ['ip-literal-link', 'link-text-mismatch']);
  assert.equal(one(twice, 'ip-literal-link').evidence, 'http://192.0.2.7/a');
  assert.equal(one(twice, 'link-text-mismatch').evidence, 'http://192.0.2.7/b');
  assert.equal(one(twice, 'link-text-mismatch').weight, 3);
});

test('AMP, YouTube, VK and DuckDuckGo redirectors are looked through', () => {
  const wrapped = [
    'https://www.google.com/amp/s/paypa1.com/signin',
    'https://google.de/amp/s/paypa1.com/signin',
    'https://paypa1-com.cdn.ampproject.org/c/s/paypa1.com/signin',
    `https://youtube.com/redirect?q=${enc('https://paypa1.com/signin')}`,
    `https://m.youtube.com/redirect?q=${enc('https://paypa1.com/signin')}`,
    `https://away.vk.com/away.php?to=${enc('https://paypa1.com/signin')}`,
    `https://duckduckgo.com/l/?uddg=${enc('https://paypa1.com/signin')}&rut=abc`,
  ];
  for (const href of wrapped) {
    const got = one(html(a(href, 'Sign in')), 'lookalike-link');
    assert.equal(got.evidence?.startsWith('https://paypa1.com/signin'), true, href);
    assert.match(got.explanation.en, /unwrapped from/, href);
  }
  assert.deepEqual(
    unwrap('http://www.google.com/amp/example.net/a?b=1', new URL('http://www.google.com/amp/example.net/a?b=1')),
    {
      kind: 'target',
      href: 'http://example.net/a?b=1',
      via: ['Google AMP (www.google.com)'],
    },
  );
  assert.deepEqual(names(html(a('https://www.google.com/amp/s/192.0.2.7/login', 'Sign in'))), ['ip-literal-link']);
  // The real sites' own pages are not wrappers.
  assert.deepEqual(names(html(a('https://www.youtube.com/watch?v=x', 'https://www.youtube.com/watch?v=x'))), []);
});

test('an empty parameter falls through, and an unreadable target keeps the link for the text check', () => {
  const fallThrough = `https://www.google.com/url?q=&url=${enc('https://paypa1.com/login')}`;
  assert.deepEqual(names(html(a(fallThrough, 'Sign in'))), ['lookalike-link']);
  const junk = `https://www.google.com/url?q=x&url=${enc('https://paypa1.com/login')}`;
  assert.deepEqual(names(html(a(junk, 'Sign in'))), ['lookalike-link']);
  // Nothing to unwrap: judged as the link it is, so the text showing PayPal is compared with it.
  const empty = html(a('https://eur01.safelinks.protection.outlook.com/?url=&data=x', 'https://www.paypal.com/'));
  assert.deepEqual(names(empty), ['link-text-mismatch']);
  assert.match(
    one(empty, 'link-text-mismatch').explanation.en,
    /leads to eur01\.safelinks\.protection\.outlook\.com\.$/,
  );
  const empty2 = 'https://www.google.com/url?q=&sa=D';
  assert.deepEqual(unwrap(empty2, new URL(empty2)), { kind: 'target', href: empty2, via: [] });
  // Opaque trackers stay opaque.
  assert.deepEqual(names(html(a('https://r20.rs6.net/tn.jsp?f=001x', 'https://www.paypal.com/'))), []);
});

test("a brand's own short and sister domains are its addresses", () => {
  const own: [shown: string, href: string][] = [
    ['WhatsApp', 'https://wa.me/123'],
    ['Google', 'https://g.co/kgs/x'],
    ['Google', 'https://youtu.be/x'],
    ['Google', 'https://www.google.de/'],
    ['Microsoft', 'https://aka.ms/abc'],
    ['OneDrive', 'https://1drv.ms/u/s!abc'],
    ['Outlook', 'https://outlook.cloud.microsoft/mail/'],
    ['Amazon', 'https://amzn.to/abc'],
    ['Apple', 'https://apple.co/abc'],
    ['Facebook', 'https://fb.me/x'],
    ['Spotify', 'https://spoti.fi/x'],
    ['Zoom', 'https://zoom.com/j/1'],
    ['VK', 'https://vkvideo.ru/video1'],
    ['Mastercard', 'https://www.priceless.com/'],
  ];
  for (const [shown, href] of own) {
    assert.ok(!names(html(a(href, shown))).includes('brand-link-elsewhere'), `${shown} → ${href}`);
  }
  // LinkedIn's shortener is its own, but it can lead anywhere: only the shortener counts.
  assert.deepEqual(names(html(a('https://lnkd.in/abc', 'LinkedIn'))), ['url-shortener']);
  // Someone else's short domain is still elsewhere, and a brand's sister domain is not another brand's.
  assert.deepEqual(names(html(a('https://bit.ly/abc', 'Microsoft'))), ['brand-link-elsewhere', 'url-shortener']);
  assert.deepEqual(names(html(a('https://wa.me/123', 'PayPal'))), ['brand-link-elsewhere']);
  // Google's country sites are known by their registrable domain: a name under co.de is someone else's.
  assert.ok(names(html(a('https://google.co.de/', 'Google'))).includes('brand-link-elsewhere'));
});

test('"with <Brand>" names the means, not where the link goes', () => {
  for (const body of [
    a('https://app.example.org/login/google', 'Log in with Google'),
    a('https://app.example.org/auth/microsoft', 'Sign in with Microsoft'),
    a('https://app.example.org/auth/apple', 'Continue with Apple'),
    a('https://app.example.org/auth/esia', 'Войти через Госуслуги'),
    '<p>You chose to pay with PayPal. To complete your order <a href="https://shop.example/checkout">click here</a></p>',
    '<p>Your order has shipped with DHL. To track it, <a href="https://shop.example/orders/1">click here</a>.</p>',
  ]) {
    assert.deepEqual(names(html(body)), [], body);
  }
  // The name as the destination still is a claim.
  for (const body of [
    '<p>Log in to PayPal: <a href="https://evil.example/">here</a></p>',
    '<p>Your PayPal account is limited. Pay with PayPal: <a href="https://evil.example/">click here</a></p>',
    a('https://evil.example/', 'Sign in with your Microsoft account'),
    a('https://evil.example/', 'Log in to PayPal'),
  ]) {
    assert.deepEqual(names(html(body)), ['brand-link-elsewhere'], body);
  }
});

test('bulk-mail click trackers lower the mismatch to the click-tracker weight', () => {
  for (const [href, shown] of [
    ['https://abc.r.sp1-brevo.net/mk/cl/f/sh/1t6Af4OiGsEFB', 'github.com'],
    ['https://x8k2m.mjt.lu/lnk/AUoAAD4/abc', 'www.theverge.com'],
    ['https://spgo.io/f/a/abc', 'www.theverge.com'],
    ['https://eu.spgo.io/f/a/abc', 'www.theverge.com'],
    ['https://mailchi.mp/abc/page', 'www.theverge.com'],
  ] as const) {
    const got = one(html(a(href, shown)), 'link-text-mismatch');
    assert.equal(got.weight, 1.5, href);
    assert.match(got.explanation.en, /click-tracking address/);
  }
  assert.equal(
    one(html(a('https://abc.r.sp1-brevo.net/mk/cl/f/x', 'Log in to PayPal')), 'brand-link-elsewhere').weight,
    1,
  );
  // Whole domains only: a name that merely ends like one is judged in full.
  assert.ok(!isClickTracker(new URL('https://evilmjt.lu/lnk/x')));
  assert.ok(!isClickTracker(new URL('https://mjt.lu.evil.example/x')));
  assert.equal(one(html(a('https://evilmjt.lu/x', 'github.com')), 'link-text-mismatch').weight, 3);
});

test('a host with its final dot is the same host (RFC 1034 §3.1)', () => {
  assert.ok(isShortener('bit.ly.'));
  assert.ok(isShortener('www.bit.ly.'));
  assert.deepEqual(names(html(a('https://bit.ly./x', 'x'))), ['url-shortener']);
  assert.deepEqual(names(html(a(`https://www.google.com./url?q=${enc('https://paypa1.com/')}`, 'Sign in'))), [
    'lookalike-link',
  ]);
});
