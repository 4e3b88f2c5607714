// Ways to hide what a link shows, or to write one a filter does not read as a link (phishing evasion
// audit D1, D7, D8; the messages of /tmp/phish-audit link-20 to link-24 and link-41 as the model).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { html, names, one, text } from './link-helpers.ts';

const EVIL = 'https://login-portal.top/s';
const SHOWN = 'https://www.paypal.com/signin';

const disguised: [name: string, body: string][] = [
  [
    'a title attribute (a tooltip) padding the text',
    `<a href="${EVIL}" title="Open your secure PayPal account statement for October now">${SHOWN}</a>`,
  ],
  [
    'nine words in a display:none span',
    `<a href="${EVIL}">${SHOWN}<span style="display:none">one two three four five six seven eight nine</span></a>`,
  ],
  [
    '310 hidden characters before the URL',
    `<a href="${EVIL}"><span style="display:none">${'x'.repeat(310)}</span>${SHOWN}</a>`,
  ],
  [
    'zero-size text before the URL',
    `<a href="${EVIL}"><span style="font-size:0px">login-portal.top </span>${SHOWN}</a>`,
  ],
  [
    'the alt text of a loaded 1×1 image',
    `<a href="${EVIL}">${SHOWN}<img src="${EVIL}/1.gif" width="1" height="1" alt="a b c d e f g h i"></a>`,
  ],
  ['visible words after the URL', `<a href="${EVIL}">${SHOWN} — review the October statement of your account now</a>`],
  ['a one dot leader for the dot', `<a href="${EVIL}">www.paypal\u2024com/signin</a>`],
  [
    'an image whose alt text shows where remote images are blocked',
    `<a href="${EVIL}"><img src="${EVIL}/b.png" alt="${SHOWN}"></a>`,
  ],
];
for (const [name, body] of disguised) {
  test(`link-text-mismatch through ${name} (audit D1, D7)`, () => {
    const signals = html(`<p>Hello, please review your recent statement.</p><p>${body}</p>`);
    assert.match(
      one(signals, 'link-text-mismatch').explanation.en,
      /shows paypal\.com but it leads to login-portal\.top/,
    );
    assert.equal(one(signals, 'link-text-mismatch').weight, 3);
  });
}

test('hidden words do not hide a brand claim, in the link or in the words before it (audit D1)', () => {
  const pad = '<span style="display:none">weather report and the news of the day</span>';
  assert.deepEqual(names(html(`<a href="${EVIL}">Log in to PayPal${pad}</a>`)), ['brand-link-elsewhere']);
  assert.deepEqual(names(html(`<a href="${EVIL}">PayPal${pad}</a>`)), ['brand-link-elsewhere']);
  assert.deepEqual(
    names(html(`<p>Log in to PayPal:${pad}${'<i style="opacity:0">z</i>'.repeat(120)} <a href="${EVIL}">here</a></p>`)),
    ['brand-link-elsewhere'],
  );
});

test('what the reader sees is not overruled by what is hidden (audit D1)', () => {
  // Hidden text naming the target does not excuse a visible URL of another site.
  assert.deepEqual(names(html(`<a href="${EVIL}"><span style="display:none">${EVIL} </span>${SHOWN}</a>`)), [
    'link-text-mismatch',
  ]);
  // Nor is a link or its URL lost because an inline style hides it: a style sheet may show it again.
  assert.deepEqual(names(html(`<div style="display:none"><a href="${EVIL}">${SHOWN}</a></div>`)), [
    'link-text-mismatch',
  ]);
});

test('text a descendant draws again inside a zero-font or invisible wrapper is what the link shows', () => {
  // CSS Fonts 4 §2.5, CSS 2.1 §11.2: the inner size and visibility are the text's own, whatever the wrapper's.
  const padding = 'x'.repeat(310);
  for (const [wrapper, inner] of [
    ['font-size:0', 'font-size:14px'],
    ['visibility:hidden', 'visibility:visible'],
  ]) {
    const link = `<a href="${EVIL}"><span style="${wrapper}">${padding}<span style="${inner}">${SHOWN}</span></span></a>`;
    assert.match(
      one(html(link), 'link-text-mismatch').explanation.en,
      /shows paypal\.com but it leads to login-portal\.top/,
    );
    // And the words before a link.
    const before = `<p><span style="${wrapper}"><span style="${inner}">Log in to PayPal</span></span>: <a href="${EVIL}">here</a></p>`;
    assert.deepEqual(names(html(before)), ['brand-link-elsewhere'], wrapper);
  }
});

test('no mismatch for prose, a tooltip or a picture that says nothing deceptive', () => {
  assert.deepEqual(
    names(html(`<a href="${EVIL}">We moved from www.old-shop.example to our new site, read more here</a>`)),
    [],
  );
  // A permalink picture known by its title: no claim taken from the prose before it.
  assert.deepEqual(
    names(
      html(
        `<p>Microsoft's chief prosecutor is named chancellor.&nbsp;<a href="${EVIL}" title="Permanent link to this item"><img src="${EVIL}/p.gif"></a></p>`,
      ),
    ),
    [],
  );
  // A brand name that is an everyday word claims the brand only with an account word.
  assert.deepEqual(names(html(`[<a title="View Large Image" href="${EVIL}">Zoom</a>]`)), []);
  assert.deepEqual(names(html(`<a href="${EVIL}">Log in to Zoom</a>`)), ['brand-link-elsewhere']);
});

test('plain text: a lookalike domain written without a scheme is a link (audit D8)', () => {
  const signals = text('Your PayPal account is limited. Restore access: paypa1.com/signin\n');
  const lookalike = one(signals, 'lookalike-link');
  assert.equal(lookalike.weight, 4);
  assert.equal(lookalike.evidence, 'http://paypa1.com/signin');
  assert.match(lookalike.explanation.en, /written in the text as "paypa1\.com\/signin", without a scheme/);
  assert.match(lookalike.explanation.ru, /без схемы/);
  assert.deepEqual(names(text('Restore access: PAYPA1.COM.')), ['lookalike-link']);
  assert.deepEqual(names(text('Go to paypal.com.secure-login.example.net/verify')), ['lookalike-link']);
});

test('plain text: names that are no links, and bare domains judged only for whom they imitate (audit D8)', () => {
  assert.deepEqual(names(text('Attached: report.pdf, setup.py and archive.zip; build 1.2.3 with node.js.')), []);
  // An e-mail address is a mailto: link, not a web page: its domain is not judged here.
  assert.deepEqual(names(text('Write to support@paypa1.com or to paypa1.support@acmecorp.ru.')), []);
  // A shortener, a forms service or an account page named without a scheme is mentioned, not linked to.
  assert.deepEqual(
    names(text('Shorten it with bit.ly, collect answers on forms.office.com, see example.com/login.')),
    [],
  );
  assert.deepEqual(names(text('Book it on Booking.com or amazon.de, or see ASP.NET.')), []);
});
