/**
 * syntax.ts against the mailauth code it replaces (lib/dkim/syntax.js, lib/tools.js 7.1): the RFC 6376 §3.5
 * patterns, toALabel (RFC 5890 §2.3.2.1) and isSameOrSubdomain.
 */

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  BODY_LENGTH,
  DOMAIN_NAME,
  isSameOrSubdomain,
  SELECTOR,
  TIMESTAMP,
  toALabel,
} from '../../../src/authentication/dkim/syntax.ts';

const require = createRequire(import.meta.url);
const tools = require('mailauth/lib/tools.js') as {
  toALabel(domain: string): string;
  isSameOrSubdomain(child: string, parent: string): boolean;
};
const syntax = require('mailauth/lib/dkim/syntax.js') as Record<string, RegExp>;

test('the §3.5 patterns are mailauth’s', () => {
  for (const [name, ours] of Object.entries({ DOMAIN_NAME, SELECTOR, TIMESTAMP, BODY_LENGTH })) {
    assert.equal(ours.source, syntax[name]?.source, name);
    assert.equal(ours.flags, syntax[name]?.flags, name);
  }
});

/** Names whose labels are ASCII or valid U-labels: the same A-labels as mailauth's Punycode. */
const SAME = [
  '',
  'example.com',
  'EXAMPLE.COM.',
  'sel._domainkey.example.com',
  'xn--bcher-kva.de',
  'bücher.de',
  'BÜCHER.de',
  'München.DE',
  'sel._domainkey.bücher.de',
  'straße.de',
  'ΣΊΣΥΦΟΣ.gr',
  '日本語.jp',
  'אב1.com',
  'İstanbul.tr',
  '😀.com',
  'ü_x.com',
  'ü-.com',
  '--ü.com',
  'ü。com',
  'ü..com',
  'Ü.',
  'ü@x',
  `${'ü'.repeat(70)}.com`,
  'u\u0308.com', // NFD, normalized first
];

test('toALabel gives mailauth’s A-labels for ASCII and valid U-labels', () => {
  for (const name of SAME) assert.equal(toALabel(name), tools.toALabel(name), JSON.stringify(name));
});

test('toALabel keeps a label that is no valid U-label as written, never mapping it to another name', () => {
  // mailauth Punycode-encodes these blindly; UTS #46 refuses them or maps them to other characters
  for (const label of ['ｅｘａｍｐｌｅ', 'a b ü', '\u0301abc', 'a\u200db', 'ﬀ', 'a\u00adü', '\ufffdü', 'ǅü']) {
    assert.equal(toALabel(`${label}.com`), `${label}.com`, JSON.stringify(label));
  }
  assert.equal(toALabel('ｅｘａｍｐｌｅ.bücher.de'), 'ｅｘａｍｐｌｅ.xn--bcher-kva.de');
});

test('isSameOrSubdomain is mailauth’s', () => {
  const cases: [string, string][] = [
    ['example.com', 'example.com'],
    ['mail.example.com', 'example.com'],
    ['MAIL.Example.COM.', 'example.com'],
    [' example.com ', 'EXAMPLE.com.'],
    ['badexample.com', 'example.com'],
    ['example.com', 'mail.example.com'],
    ['', 'example.com'],
    ['example.com', ''],
    ['.', '.'],
    ['mail.bücher.de', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'BÜCHER.de'],
    ['a.example.org', 'example.com'],
  ];
  for (const [child, parent] of cases) {
    assert.equal(isSameOrSubdomain(child, parent), tools.isSameOrSubdomain(child, parent), `${child} ⊆ ${parent}`);
  }
});
