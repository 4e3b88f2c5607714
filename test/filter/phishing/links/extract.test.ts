import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractLinks } from '../../../../src/filter/phishing/links/extract.ts';

test('anchors with their visible text, images by alt; <img src> is no link', () => {
  const { links } = extractLinks(
    '<p>Dear user, log in to PayPal: <a href="https://a.example/x">click <b>here</b></a></p>' +
      '<a href="https://b.example/"><img src="https://c.example/logo.png" alt="PayPal"></a>' +
      '<map><area href="https://d.example/" alt="Sign in"></map><a name="top">no href</a>',
    '',
  );
  assert.deepEqual(
    links.map((l) => [l.source, l.href, l.text.trim(), l.context]),
    [
      ['a', 'https://a.example/x', 'click here', 'Dear user, log in to PayPal:'],
      ['a', 'https://b.example/', 'PayPal', ''],
      ['area', 'https://d.example/', 'Sign in', ''],
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
