// The link checks end to end on the shapes of hosts and link text that url-hosts.ts reads: a brand's word
// neighbours, brand.tld- subdomains, addresses inside short text, other full stops, Latin IDNs, the root dot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BRANDS } from '../../../../src/filter/phishing/brands.ts';
import { linkSignals } from '../../../../src/filter/phishing/links/link-signals.ts';

const base = { text: '', senderDomain: 'acmecorp.ru', protectedDomains: ['acmecorp.ru'], brands: DEFAULT_BRANDS };
const link = (href: string, text: string) =>
  linkSignals({ ...base, html: `<p><a href="${href}">${text}</a></p>` })
    .map((s) => `${s.name} ${s.weight}`)
    .sort();

test('Microsoft 365 and other names one letter from a brand are no lookalike links', () => {
  for (const href of [
    'https://teams.cloud.microsoft/',
    'https://outlook.cloud.microsoft/mail/',
    'https://cloud.ru/',
    'https://console.cloud.ru/',
    'https://www.cloud.com/',
    'https://cloud.gov/',
    'https://www.finder.com/',
  ]) {
    assert.deepEqual(link(href, 'Open the console'), [], href);
  }
  assert.deepEqual(link('https://paypai.com/signin', 'Sign in'), ['lookalike-link 4']);
  assert.deepEqual(link('https://tindr.com/', 'Open'), ['lookalike-link 4']);
});

test('a brand domain run into the next label with a hyphen is a disguise', () => {
  assert.deepEqual(link('https://appleid.apple.com-verify.info/', 'Verify'), ['lookalike-link 4']);
  assert.deepEqual(link('https://www.paypal.com-login.evil.example/signin', 'Sign in'), ['lookalike-link 4']);
});

test('an address inside short link text is compared with where the link goes', () => {
  for (const text of [
    'https://www.paypal.com/ →',
    'https://www.paypal.com/signin (secure)',
    'View your statement at www.paypal.com',
  ]) {
    assert.deepEqual(link('https://evil.example/login', text), ['link-text-mismatch 3'], text);
  }
  assert.deepEqual(link('https://www.paypal.com/signin', 'Sign in at https://www.paypal.com/ →'), []);
  assert.deepEqual(link('https://learn.microsoft.com/aspnet/', 'Learn ASP.NET Core'), []);
});

test('ideographic and fullwidth full stops in link text are dots', () => {
  for (const text of ['www.paypal\u3002com', 'paypal\uFF0Ecom', 'https://paypal\uFF61com/']) {
    assert.deepEqual(link('https://evil.example/', text), ['link-text-mismatch 3'], text);
  }
});

test('a Latin IDN is no punycode link; a Latin homograph still is', () => {
  assert.deepEqual(link('https://www.xn--mnchen-3ya.de/', 'Stadtportal'), []);
  assert.deepEqual(link('https://www.bücher.de/', 'www.bücher.de'), []);
  assert.deepEqual(link('https://www.łódź.pl/', 'Łódź'), []);
  assert.deepEqual(link('https://xn--ithub-qmc.com/', 'Open'), ['punycode-link 2']); // ɡithub.com: Latin script ɡ
  assert.deepEqual(link('https://xn--oogle-qmc.com/', 'Open'), ['lookalike-link 4', 'punycode-link 2']); // ɡoogle.com
  assert.deepEqual(link('https://xn--pypal-4ve.com/', 'Sign in'), ['lookalike-link 4', 'punycode-link 2']);
});

test('a forms host with the root dot is still a forms host', () => {
  assert.deepEqual(link('https://forms.gle./abc', 'Fill in'), ['link-to-attachment-host 1']);
});
