/**
 * Links, their text and the forms' fields as the tree a browser builds gives them (HTML Living Standard
 * §13.2), not as a tokenizer's start and end tags suggest: the evasions of audit A9 (#2, #3, #4, #14, #16).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BRANDS } from '../../../../src/filter/phishing/brands.ts';
import { MAX_ELEMENTS } from '../../../../src/filter/phishing/html-budget.ts';
import { extractBudget, extractLinks } from '../../../../src/filter/phishing/links/extract.ts';
import { linkSignals } from '../../../../src/filter/phishing/links/link-signals.ts';

const shown = (html: string) => extractLinks(html, '').links.map((l) => [l.href, l.text]);
const signals = (html: string) =>
  linkSignals({
    html,
    text: '',
    senderDomain: 'acmecorp.ru',
    protectedDomains: ['acmecorp.ru'],
    brands: DEFAULT_BRANDS,
  }).map((s) => s.name);
const forms = (html: string) => extractLinks(html, '').forms.map((f) => [f.action, f.password]);
const EVIL = 'https://evil.example/login';

// §13.2.4.3: an <a> still open at </p> is copied around the next paragraph's content, and is a link there.
test('an <a> left open is carried into the next paragraph, with the text shown there (A9 #2)', () => {
  const html = `<p><a href="${EVIL}">Dear customer,</p>\n<p>https://www.paypal.com/signin</p>`;
  assert.deepEqual(shown(html), [
    [EVIL, 'Dear customer,'],
    [EVIL, 'https://www.paypal.com/signin'],
  ]);
  assert.ok(signals(html).includes('link-text-mismatch'), JSON.stringify(signals(html)));
  assert.deepEqual(shown(`<div><a href="${EVIL}"></div><div>https://www.paypal.com/signin</div>`), [
    [EVIL, ''],
    [EVIL, 'https://www.paypal.com/signin'],
  ]);
  // A copy around nothing but the line break after the paragraph shows no link of its own.
  assert.deepEqual(shown(`<p><a href="${EVIL}">one</p>\n`), [[EVIL, 'one']]);
  // A second <a> ends the first (the adoption agency): each keeps its own text.
  assert.deepEqual(shown(`<a href="${EVIL}">x<a href="https://a.example/">https://www.paypal.com/</a>`), [
    [EVIL, 'x'],
    ['https://a.example/', 'https://www.paypal.com/'],
  ]);
});

// §13.2.6.4.4: a <head> ends at the first body content; §4.12.2: <noscript> is shown with scripting off.
test('links after an unclosed <head> and inside <noscript> keep their text (A9 #3)', () => {
  const head = `<html><head><meta charset="utf-8"><p>Dear customer</p><a href="${EVIL}">https://www.paypal.com/</a>`;
  assert.deepEqual(shown(head), [[EVIL, 'https://www.paypal.com/']]);
  assert.ok(signals(head).includes('link-text-mismatch'));
  const noscript = `<noscript><a href="${EVIL}">https://www.paypal.com/</a></noscript>`;
  assert.deepEqual(shown(noscript), [[EVIL, 'https://www.paypal.com/']]);
  assert.ok(signals(noscript).includes('link-text-mismatch'));
  // In the <head> itself a <noscript> holds no link: the <a> ends the head and stands in the body.
  assert.deepEqual(shown(`<head><noscript><a href="${EVIL}">https://www.paypal.com/</a></noscript></head>`), [
    [EVIL, 'https://www.paypal.com/'],
  ]);
  // The <base> of an unclosed <head> applies, and the link's text is read.
  assert.deepEqual(
    extractLinks('<head><base href="https://evil.example/"><p><a href="login">https://www.paypal.com/login</a>', '')
      .links[0],
    {
      href: EVIL,
      written: 'login',
      base: 'https://evil.example/',
      text: 'https://www.paypal.com/login',
      context: '',
      source: 'a',
    },
  );
  // What is never drawn is still no link text.
  assert.deepEqual(
    shown(
      `<a href="${EVIL}">A<script>x</script><style>y</style><title>z</title><noembed>w</noembed><iframe>v</iframe>B</a>`,
    ),
    [[EVIL, 'AB']],
  );
});

test('the 300-character text limit and the 100-character context count what is drawn (A9 #4)', () => {
  const url = 'https://www.paypal.com/signin';
  for (const padding of [' '.repeat(300), '\n'.repeat(300), '&#8203;'.repeat(300), '\u200b\u00ad'.repeat(200)]) {
    const html = `<a href="${EVIL}">${padding}${url}${padding}</a>`;
    assert.deepEqual(shown(html), [[EVIL, url]], padding.slice(0, 7));
    assert.ok(signals(html).includes('link-text-mismatch'));
  }
  assert.deepEqual(shown(`<a href="${EVIL}">${'\u200b'.repeat(300)}Log in to PayPal</a>`), [
    [EVIL, 'Log in to PayPal'],
  ]);
  assert.equal(extractLinks(`<a href="${EVIL}">${'x'.repeat(400)}</a>`, '').links[0]?.text.length, 300);
  const context = extractLinks(`<p>Log in to PayPal${' \n'.repeat(120)}: <a href="${EVIL}">here</a></p>`, '');
  assert.equal(context.links[0]?.context, 'Log in to PayPal :');
  // Text on two lines of the link reads as two words.
  assert.deepEqual(shown(`<a href="${EVIL}">www.paypal.com<br>Sign in</a>`), [[EVIL, 'www.paypal.com Sign in']]);
});

// §4.10.17.3: a field's form owner is the form its form attribute names, wherever the two stand.
test('a password field belongs to the form that its form attribute names (A9 #14)', () => {
  const action = 'https://evil.example/p';
  assert.deepEqual(
    forms(`<form id="f" action="${action}"></form><p>Password: <input type="password" name="p" form="f"></p>`),
    [[action, true]],
  );
  assert.deepEqual(forms(`<input type="password" form="f"><form id="f" action="${action}"></form>`), [[action, true]]);
  assert.deepEqual(
    signals(`<form id="f" action="${action}"></form><input type="password" form="f">`).filter((s) => s === 'html-form'),
    ['html-form'],
  );
  // The first element with that ID must be the form; a field naming none is in no form, even inside one.
  assert.deepEqual(forms(`<div id="f"></div><form id="f" action="${action}"></form><input type="password" form="f">`), [
    [action, false],
  ]);
  assert.deepEqual(forms(`<form action="${action}"><input type="password" form="elsewhere"></form>`), [
    [action, false],
  ]);
  // A form opened in a table is left empty, and the fields after it are still its own (§13.2.6.1).
  assert.deepEqual(forms(`<table><form action="${action}"><tr><td><input type="password"></td></tr></form></table>`), [
    [action, true],
  ]);
});

test('a text field whose placeholder, label or name asks for the password is a password field (A9 #14)', () => {
  const form = (field: string) => forms(`<form action="https://evil.example/p">${field}</form>`)[0]?.[1];
  for (const field of [
    '<input type="text" name="a2" placeholder="Password" style="-webkit-text-security:disc">',
    '<input placeholder="Пароль">',
    '<input aria-label="Passwort eingeben">',
    '<input name="user_pass">',
    '<input type="tel" name="pwd">',
  ]) {
    assert.equal(form(field), true, field);
  }
  for (const field of [
    '<input name="passport" placeholder="Passport number">',
    '<input type="hidden" name="password">',
    '<input type="checkbox" name="remember_password">',
    '<input name="q" placeholder="Search the compass catalogue">',
    '<textarea placeholder="Your message"></textarea>',
  ]) {
    assert.equal(form(field), false, field);
  }
});

// SVG 2 §16.2.2: an SVG <a> links by href, or by xlink:href when it has none.
test('an SVG <a> with only xlink:href is a link (A9 #16)', () => {
  const svg = `<svg><a xlink:href="${EVIL}"><text>https://www.paypal.com/</text><title>tip</title></a></svg>`;
  assert.deepEqual(shown(svg), [[EVIL, 'https://www.paypal.com/']]);
  assert.ok(signals(svg).includes('link-text-mismatch'));
  assert.deepEqual(shown(`<svg><a href="${EVIL}" xlink:href="https://a.example/"><text>x</text></a></svg>`), [
    [EVIL, 'x'],
  ]);
  // An HTML <a> has no xlink:href: that attribute is just a name there.
  assert.deepEqual(shown(`<a xlink:href="${EVIL}">x</a>`), []);
});

test('elements the parser copies are bounded: open <b>s carried into thousands of paragraphs', () => {
  // 2,000 different open <b> carried into each of 1,500 paragraphs are 3 million elements: parse5 took
  // 10 s and 1 GB for them, and 10,000 into 5,000 ran out of memory (the old code built the tree only
  // for a <base>). Building stops at MAX_ELEMENTS; what comes after is not read.
  const html = `<a href="login">https://www.paypal.com/</a><div>${Array.from({ length: 2000 }, (_, i) => `<b id=${i}>`).join('')}</div>${'<div>x</div>'.repeat(1500)}<base href="https://evil.example/">`;
  const budget = extractBudget();
  const started = performance.now();
  const { links } = extractLinks(html, '', undefined, budget);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 5000, `${elapsed.toFixed(0)} ms`);
  assert.deepEqual(
    links.map((l) => l.text),
    ['https://www.paypal.com/'],
  );
  assert.ok(budget.html.elements <= 0 && budget.html.elements > -MAX_ELEMENTS, `${budget.html.elements}`);
  // What the first part spent, a message attached to it does not get.
  assert.deepEqual(extractLinks(`<a href="${EVIL}">x</a>`, '', undefined, budget).links, []);
});
