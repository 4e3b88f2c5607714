import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  extractBudget,
  extractLinks,
  schemelessToken,
  schemelessTokens,
} from '../../../../src/filter/phishing/links/extract.ts';

test('anchors with their visible text, images by alt; <img src> is no link', () => {
  const { links } = extractLinks(
    '<p>Dear user, log in to PayPal: <a href="https://a.example/x">click <b>here</b></a></p>' +
      '<a href="https://b.example/"><img src="https://c.example/logo.png" alt="PayPal"></a>' +
      '<map><area href="https://d.example/" alt="Sign in"></map><a name="top">no href</a>',
    '',
  );
  assert.deepEqual(
    links.map((l) => [l.source, l.href, l.text.trim(), l.otherwise, l.context]),
    [
      ['a', 'https://a.example/x', 'click here', undefined, 'Dear user, log in to PayPal:'],
      // The image shows, not its alt text, unless remote images are blocked (Link.otherwise).
      ['a', 'https://b.example/', '', 'PayPal', ''],
      ['area', 'https://d.example/', 'Sign in', undefined, ''],
    ],
  );
});

test('link text as drawn: no tooltip, no text hidden by inline style, alt only for an image without a source (audit D1)', () => {
  const EVIL = 'https://login-portal.top/s';
  const { links } = extractLinks(
    `<a href="${EVIL}" title="Open your secure PayPal account statement">https://www.paypal.com/signin</a>` +
      `<a href="${EVIL}">www.paypal.com<span style="display:none">one two three</span></a>` +
      `<a href="${EVIL}"><span style="font-size:0">xxxx</span>www.paypal.com</a>` +
      `<a href="${EVIL}">www.paypal.com<img src="${EVIL}/1.gif" alt="a b c"></a>` +
      `<a href="${EVIL}"><img alt="www.paypal.com"></a>` +
      `<a href="${EVIL}" title="Permanent link"><img src="${EVIL}/p.gif"></a>` +
      `<p>Log in to PayPal<span style="display:none">${'x'.repeat(200)}</span>: <a href="${EVIL}">here</a></p>` +
      `<div style="display:none"><a href="${EVIL}/hidden">www.paypal.com</a></div>`,
    '',
  );
  assert.deepEqual(
    links.map((l) => [l.text, l.otherwise]),
    [
      ['https://www.paypal.com/signin', undefined],
      ['www.paypal.com', 'www.paypal.comone two three'],
      ['www.paypal.com', 'xxxxwww.paypal.com'],
      ['www.paypal.com', 'www.paypal.com a b c'],
      ['www.paypal.com', undefined],
      // A link that draws nothing is known by its title (Accessible Name Computation §4.3.2, 2I).
      ['Permanent link', undefined],
      ['here', undefined],
      // A style sheet may show it again: the link is still read, its text as drawn otherwise.
      ['', 'www.paypal.com'],
    ],
  );
  assert.equal(links[6]?.context, 'Log in to PayPal:');
});

test("link text inherits how it is drawn: a wrapper's zero font size is undone below it, display:none is not", () => {
  const EVIL = 'https://login-portal.top/s';
  const { links } = extractLinks(
    // A template's `font-size:0` wrapper closes the gaps between its inline blocks of readable text.
    `<a href="${EVIL}"><span style="font-size:0">x <span style="display:inline-block;font-size:14px">www.paypal.com</span> y</span></a>` +
      `<a href="${EVIL}"><span style="font-size:0"><span style="font-size:2em">relative</span></span>www.paypal.com</a>` +
      `<a href="${EVIL}"><div style="display:none"><p style="display:block;font-size:14px;visibility:visible">a</p></div>www.paypal.com</a>` +
      `<a href="${EVIL}"><span style="opacity:0"><span style="opacity:1">b</span></span>www.paypal.com</a>`,
    '',
  );
  assert.deepEqual(
    links.map((l) => [l.text, l.otherwise]),
    [
      ['www.paypal.com', 'x www.paypal.com y'],
      ['www.paypal.com', 'relativewww.paypal.com'],
      ['www.paypal.com', 'a www.paypal.com'],
      ['www.paypal.com', 'bwww.paypal.com'],
    ],
  );
});

test('entities are decoded as a browser does; script and style text is not link text', () => {
  const { links } = extractLinks(
    '<style>a{}</style><a href="java&#x09;script:x&amp;y">T&eacute;st<script>z</script></a>',
    '',
  );
  assert.equal(links[0]?.href, 'java\tscript:x&y');
  assert.equal(links[0]?.text, 'Tést');
});

test('forms: action is a link; password and personal fields are noted', () => {
  const { links, forms } = extractLinks(
    '<form action="https://e.example/post" method="post"><input name="login"><INPUT TYPE="Password"></form>' +
      '<form><input name="q"></form><input type="password">',
    '',
  );
  assert.deepEqual(forms, [
    { action: 'https://e.example/post', password: true, personal: true },
    { action: '', password: false, personal: false },
  ]);
  assert.deepEqual(
    links.map((l) => [l.source, l.href]),
    [['form', 'https://e.example/post']],
  );
});

test('bare URLs in text, trailing punctuation trimmed, parentheses balanced, HTML links not repeated', () => {
  const { links } = extractLinks(
    '<a href="https://a.example/">a</a>',
    'See https://a.example/ and (www.b.example/path). Also https://en.wikipedia.org/wiki/Foo_(bar), <http://c.example/x>.',
  );
  assert.deepEqual(
    links.map((l) => l.href),
    ['https://a.example/', 'www.b.example/path', 'https://en.wikipedia.org/wiki/Foo_(bar)', 'http://c.example/x'],
  );
});

test('limits: links and HTML size', () => {
  const many = '<a href="https://a.example/">x</a>'.repeat(250);
  assert.equal(extractLinks(many, 'http://late.example/').links.length, 200);
  assert.equal(extractLinks(many, '', { maxLinks: 10, maxHtmlBytes: 1 << 20 }).links.length, 10);
  const late = `${' '.repeat(600 * 1024)}<a href="https://late.example/">x</a>`;
  assert.equal(extractLinks(late, '').links.length, 0);
});

test('a bare URL ending in 40,000 closing parentheses or dots is read in linear time', () => {
  // Trimming one character per pass and recounting the whole URL took seconds here (quadratic time).
  for (const tail of [')'.repeat(40_000), `${'.'.repeat(40_000)}!`, ').'.repeat(20_000)]) {
    const started = performance.now();
    const { links } = extractLinks('', `see http://a.example/${tail}`);
    const elapsed = performance.now() - started;
    assert.deepEqual(
      links.map((l) => l.href),
      ['http://a.example/'],
    );
    assert.ok(elapsed < 500, `${tail.slice(0, 2)}…: ${elapsed.toFixed(0)} ms`);
  }
});

// HTML Living Standard §4.2.3: the document base URL comes from the first <base> with an href, in tree order.
test('relative links resolve against the first <base href>, wherever it stands', () => {
  const resolved = (html: string) => extractLinks(html, '').links.map((l) => [l.href, l.written, l.base]);
  const login = '<a href="login">https://bank.example/login</a>';
  const at = ['https://evil.example/login', 'login', 'https://evil.example/'];
  assert.deepEqual(resolved(`<html><head><base href="https://evil.example/"></head><body>${login}</body></html>`), [
    at,
  ]);
  assert.deepEqual(resolved(`${login}<base href="https://evil.example/">`), [at], 'a base after the link applies');
  assert.deepEqual(resolved(`${login}<base href="https://evil.example/"><base href="https://other.example/">`), [at]);
  assert.deepEqual(resolved(`<base target="_top"><base href="https://evil.example/">${login}`), [at]);
  // The first base with an href is the one, even when its href gives no URL: then there is no base.
  assert.deepEqual(resolved(`<base href="/mail/"><base href="https://evil.example/">${login}`), [
    ['login', undefined, undefined],
  ]);
  // A <template>'s content is not in the document: its <base> is none.
  assert.deepEqual(
    resolved(`<template><base href="https://t.example/"></template><base href="https://evil.example/">${login}`),
    [at],
  );
  // Forms and image maps too; what is absolute stays as written.
  assert.deepEqual(
    resolved(
      '<base href="https://evil.example/d/"><area href="../x" alt="x"><form action="post.php"></form><a href="http://0xC0A80101/">ip</a>',
    ),
    [
      ['https://evil.example/x', '../x', 'https://evil.example/d/'],
      ['https://evil.example/d/post.php', 'post.php', 'https://evil.example/d/'],
      ['http://0xC0A80101/', undefined, undefined],
    ],
  );
});

test('without a base a relative link stays relative; a scheme-relative one names its host (read over https)', () => {
  const resolved = (html: string) => extractLinks(html, '').links.map((l) => [l.href, l.written, l.base]);
  assert.deepEqual(resolved('<a href="login">x</a>'), [['login', undefined, undefined]]);
  assert.deepEqual(resolved('<a href="//evil.example/login">x</a>'), [
    ['https://evil.example/login', '//evil.example/login', undefined],
  ]);
});

// HTML Living Standard §4.2.3 with tree construction (§13.2.6): the first base element of the document's tree.
test('the <base> is found in the tree a browser builds: not in <svg> or <math>; moved out of a <table>', () => {
  const resolved = (html: string) => extractLinks(html, '').links.map((l) => [l.href, l.written, l.base]);
  const login = '<a href="signin">https://www.paypal.com/signin</a>';
  const evil = ['https://evil.example/signin', 'signin', 'https://evil.example/'];
  // A decoy the tokenizer sees first is an SVG or MathML element, not an HTML base: the reader goes to evil.example.
  for (const decoy of [
    '<svg><base href="https://www.paypal.com/"></svg>',
    '<math><base href="https://www.paypal.com/"></math>',
  ]) {
    assert.deepEqual(
      resolved(`<html><body>${decoy}<base href="https://evil.example/"><p>Sign in: ${login}</p>`),
      [evil],
      decoy,
    );
  }
  // Inside <foreignObject> or <mi> the HTML rules apply again (§13.2.6.5): that base is one.
  assert.deepEqual(resolved(`<svg><foreignObject><base href="https://evil.example/"></foreignObject></svg>${login}`), [
    evil,
  ]);
  // Foster parenting (§13.2.6.1) puts a base written in a table's body before the table, so before one in a cell.
  assert.deepEqual(
    resolved(
      `<table><tr><td><base href="https://www.paypal.com/">${login}</td></tr><base href="https://evil.example/"></table>`,
    ),
    [evil],
  );
  // A scheme-relative base is completed as a webmail served over https completes it (WHATWG URL §4.3).
  assert.deepEqual(resolved(`<head><base href="//evil.example/"></head>${login}<a href="https://a.example/">a</a>`), [
    ['https://evil.example/signin', 'signin', '//evil.example/'],
    ['https://a.example/', undefined, undefined],
  ]);
  assert.deepEqual(resolved(`<base href=" \\\\evil.example/">${login}`), [
    ['https://evil.example/signin', 'signin', ' \\\\evil.example/'],
  ]);
});

// whatwg/html#10548 parses a <select>'s content as any other, which keeps a <base> in it; older parsers drop it.
test('a <base> inside a <select>: links are judged against the base of either parser', () => {
  const resolved = (html: string) => extractLinks(html, '').links.map((l) => [l.href, l.base]);
  const login = '<a href="signin">https://www.paypal.com/signin</a>';
  assert.deepEqual(
    resolved(`<select><base href="https://evil.example/"></select><base href="https://www.paypal.com/">${login}`),
    [
      ['https://www.paypal.com/signin', 'https://www.paypal.com/'],
      ['https://evil.example/signin', 'https://evil.example/'],
    ],
  );
  assert.deepEqual(resolved(`<select><option><base href="https://evil.example/"></select>${login}`), [
    ['https://evil.example/signin', 'https://evil.example/'],
  ]);
  // The same base either way: each link once.
  assert.deepEqual(resolved(`<select><option>x</select><base href="https://evil.example/">${login}`), [
    ['https://evil.example/signin', 'https://evil.example/'],
  ]);
});

test('the <base> is looked for only in what the HTML budget reads', () => {
  const budget = extractBudget({ maxLinks: 200, maxHtmlBytes: 1000 });
  const late = `<a href="signin">x</a>${' '.repeat(2000)}<base href="https://evil.example/">`;
  assert.deepEqual(
    extractLinks(late, '', undefined, budget).links.map((l) => l.href),
    ['signin'],
  );
  // 20,000 nested elements (the start tag budget) before the base: read, and without deep recursion.
  const deep = `<a href="signin">x</a>${'<b>'.repeat(19_990)}<base href="https://evil.example/">`;
  assert.equal(extractLinks(deep, '').links[0]?.href, 'https://evil.example/signin');
});

test('a <base> after the last link looked at is still read, within the HTML budget', () => {
  const many = '<a href="https://a.example/">x</a>'.repeat(250);
  const links = extractLinks(`<a href="login">x</a>${many}<base href="https://evil.example/">`, '').links;
  assert.equal(links.length, 200);
  assert.equal(links[0]?.href, 'https://evil.example/login');
});

test('one budget for the parts of a message: what one spends, the next does not get', () => {
  const budget = extractBudget({ maxLinks: 3, maxHtmlBytes: 1 << 20 });
  const two = '<a href="https://a.example/">a</a><a href="https://b.example/">b</a>';
  assert.equal(extractLinks(two, '', undefined, budget).links.length, 2);
  assert.equal(extractLinks(two, 'https://c.example/ https://d.example/', undefined, budget).links.length, 1);
  assert.equal(extractLinks(two, '', undefined, budget).links.length, 0);
  // The HTML read is shared as well: characters and start tags.
  const small = extractBudget({ maxLinks: 200, maxHtmlBytes: 100 });
  assert.equal(extractLinks(`${' '.repeat(90)}${two}`, '', undefined, small).links.length, 0);
  assert.equal(extractLinks(two, '', undefined, small).links.length, 0, 'the first read spent the characters');
});

test('plain text: a domain without a scheme is a link, as mail readers make it one (audit D8)', () => {
  const { links } = extractLinks(
    '',
    'Restore access: paypa1.com/signin. Or PAYPA1.COM, or see https://x.example/?to=evil.com and www.b.example.\n' +
      'Not links: report.pdf, setup.py, notes.md, archive.zip, node.js, version 1.2.3, 3.14, ' +
      'write to help@support-paypa1.com or to john.smith@corp.example, path /srv/app.example.com/x, e.g. this.',
  );
  assert.deepEqual(
    links.map((l) => [l.href, l.written, l.bare]),
    [
      ['https://x.example/?to=evil.com', undefined, undefined],
      ['www.b.example', undefined, undefined],
      ['http://paypa1.com/signin', 'paypa1.com/signin', true],
      ['http://PAYPA1.COM', 'PAYPA1.COM', true],
    ],
  );
});

test('plain text: schemeless domains share the link budget and cost one pass', () => {
  assert.equal(extractLinks('', 'a.com '.repeat(300)).links.length, 1);
  assert.equal(extractLinks('', Array.from({ length: 300 }, (_, i) => `n${i}.com`).join(' ')).links.length, 200);
  const started = performance.now();
  extractLinks('', `${'a.'.repeat(200_000)}1 ${'a-'.repeat(100_000)}`);
  assert.ok(performance.now() - started < 1000);
});

test('plain text: the schemeless pass tries only the words before a dot, and finds what a scan of every position finds', () => {
  // Before: schemelessToken's \p{…} look-behind tried at every character of the text, the largest cost of
  // bench/scan.ts; schemelessTokens tries it only where a run of label characters before a dot starts.
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pieces = [
    'a',
    'Ж',
    'é',
    '\u0301',
    '1',
    '-',
    '.',
    '..',
    '@',
    '/',
    ':',
    ' ',
    '\n',
    '_',
    'com',
    'рф',
    '\u{1d41a}',
    'x.y',
    '~',
  ];
  for (let n = 0; n < 3000; n++) {
    let text = '';
    const length = 1 + Math.floor(next() * 24);
    for (let k = 0; k < length; k++) text += pieces[Math.floor(next() * pieces.length)];
    const fast = [...schemelessTokens(text)].map((m) => [m.index, m[0]]);
    const every = [...text.matchAll(schemelessToken)].map((m) => [m.index, m[0]]);
    assert.deepEqual(fast, every, JSON.stringify(text));
  }
  const words = ['account', 'Ваш', 'please', 'résumé', 'report,', 'today.', '(see', 'notes)'];
  let prose = '';
  for (let i = 0; prose.length < 20_000; i++) prose += words[(i * 7) % words.length] + (i % 11 ? ' ' : '\n');
  assert.deepEqual(
    extractLinks('', `${prose} see paypa1.com.`).links.map((l) => l.href),
    ['http://paypa1.com'],
  );
});
