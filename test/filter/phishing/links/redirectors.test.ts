import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  embeddedHosts,
  isClickTracker,
  isShortener,
  type Unwrapped,
  unwrap,
} from '../../../../src/filter/phishing/links/redirectors.ts';

const open = (href: string): Unwrapped => unwrap(href, new URL(href));

const cases: [href: string, want: Unwrapped][] = [
  [
    'https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.example.com%2Fa%3Fb%3Dc&data=05',
    {
      kind: 'target',
      href: 'https://www.example.com/a?b=c',
      via: ['Microsoft Safe Links (eur01.safelinks.protection.outlook.com)'],
    },
  ],
  [
    'https://urldefense.proofpoint.com/v2/url?u=https-3A__www.example.com_a-3Fb-3Dc&d=DwMF',
    { kind: 'target', href: 'https://www.example.com/a?b=c', via: ['Proofpoint (urldefense.proofpoint.com)'] },
  ],
  [
    'https://urldefense.com/v3/__https://www.example.com/a__;!!AbC$',
    { kind: 'target', href: 'https://www.example.com/a', via: ['Proofpoint (urldefense.com)'] },
  ],
  [
    'https://www.google.com/url?q=https://www.example.com/&sa=D',
    { kind: 'target', href: 'https://www.example.com/', via: ['Google (www.google.com)'] },
  ],
  [
    'https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fwww.example.com&c=E,1',
    { kind: 'target', href: 'https://www.example.com', via: ['Barracuda (linkprotect.cudasvc.com)'] },
  ],
  [
    'https://protect-eu.mimecast.com/s/AbCd?domain=example.com',
    { kind: 'opaque', via: ['Mimecast (protect-eu.mimecast.com)'] },
  ],
  // Wrapped twice: Safe Links around Google's redirector.
  [
    `https://nam12.safelinks.protection.outlook.com/?url=${encodeURIComponent('https://www.google.com/url?q=https://x.example/')}`,
    {
      kind: 'target',
      href: 'https://x.example/',
      via: ['Microsoft Safe Links (nam12.safelinks.protection.outlook.com)', 'Google (www.google.com)'],
    },
  ],
  [
    'https://www.example.com/url?q=https://x.example/',
    { kind: 'target', href: 'https://www.example.com/url?q=https://x.example/', via: [] },
  ],
  [
    'https://www.google.co.uk/url?q=https://x.example/',
    { kind: 'target', href: 'https://x.example/', via: ['Google (www.google.co.uk)'] },
  ],
  [
    'https://google.com.au/url?q=https://x.example/',
    { kind: 'target', href: 'https://x.example/', via: ['Google (google.com.au)'] },
  ],
  ['https://r20.rs6.net/tn.jsp?f=001abc&c=xyz', { kind: 'opaque', via: ['Constant Contact (r20.rs6.net)'] }],
];
for (const [href, want] of cases) test(`unwrap ${href.slice(0, 60)}`, () => assert.deepEqual(open(href), want));

// Names anyone can register that only start or end like a wrapper's: not unwrapped, judged as they are.
const impostors = [
  'https://google.attacker.net/url?q=https://www.paypal.com/signin',
  'https://google.com.evil.net/url?q=https://www.paypal.com/signin',
  'https://www.google.evil/url?q=https://www.paypal.com/signin',
  'https://google.co.de/url?q=https://www.paypal.com/signin', // a name under co.de, not Google's
  'https://evilrs6.net/signin',
  'https://paypal-verifyrs6.net/signin',
  'https://evil-list-manage.com/track/click?u=1',
  'https://xsafelinks.protection.outlook.com.evil.net/?url=https%3A%2F%2Fwww.paypal.com%2F',
];
for (const href of impostors) {
  test(`not a wrapper: ${href.slice(0, 60)}`, () => assert.deepEqual(open(href), { kind: 'target', href, via: [] }));
}

test('Proofpoint v3 with many "/v3/__" is read in linear time', () => {
  const href = `https://urldefense.com/v3/__${'/v3/__'.repeat(40_000)}`;
  const started = performance.now();
  // No target can be read from it, so the link is judged as it stands.
  assert.deepEqual(open(href), { kind: 'target', href, via: [] });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 500, `${elapsed.toFixed(0)} ms`);
});

test('shorteners', () => {
  for (const host of ['bit.ly', 'www.bit.ly', 'tinyurl.com', 't.co', 'clck.ru', 'vk.cc'])
    assert.ok(isShortener(host), host);
  for (const host of ['example.com', 'vk.com', 'co']) assert.ok(!isShortener(host), host);
});

test('click trackers and carried targets', () => {
  // Known by its domain; a "click" the sender put in its own host is no tracker (audit).
  assert.ok(isClickTracker(new URL('https://abc12.mjt.lu/lnk/AUsAAA/1')));
  assert.ok(!isClickTracker(new URL('http://clickthru.example.net/Click?q=1')));
  assert.ok(!isClickTracker(new URL('http://www.example.net/news/1')));
  assert.deepEqual(embeddedHosts('http://x.example/go?dest=http%3A%2F%2Fwww%2Ebuy%2Ecom%2Fa'), ['www.buy.com']);
  assert.deepEqual(embeddedHosts('http://x.example/mm/*https://www.tesco.ie/'), ['www.tesco.ie']);
  assert.deepEqual(embeddedHosts('http://x.example/a'), []);
});
