// docs/content-protection.md states these weights: a brand's name under another TLD counts as a brand
// name plus a word does (2.5), since brands often register their name under other TLDs themselves; a
// lookalike of our own domains is 4 whatever its kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { html, one } from './link-helpers.ts';

const weight = (href: string) => one(html(`<a href="${href}">Continue</a>`), 'lookalike-link').weight;

test('a brand under another TLD weighs 2.5, our own domain under another TLD 4', () => {
  for (const href of ['https://tbank.com/confirm', 'https://sberbank.org/confirm', 'https://gosuslugi.com/confirm'])
    assert.equal(weight(href), 2.5, href);
  assert.equal(weight('https://paypal-secure-login.net/'), 2.5);
  assert.equal(weight('https://gosusluqi.ru/verify'), 4);
  assert.equal(weight('https://acmecorp.com/login'), 4);
});
