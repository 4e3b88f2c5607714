import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HEADER_LIMITS, headerSectionExcess, readFirstFields } from '../../src/mime/header-section.ts';
import { Random } from '../support/fuzz-input.ts';
import { firstField, readHeaderFields } from '../support/header-fields.ts';

const NAMES = ['from', 'subject', 'date', 'message-id'];

/** What readFirstFields must give: the first value of each name, as the full reading finds it. */
function expected(content: Uint8Array, limit?: number): Map<string, string> {
  const fields = readHeaderFields(content, limit);
  const out = new Map<string, string>();
  for (const name of NAMES) {
    const value = firstField(fields, name);
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

function agree(content: Uint8Array, label: string, limit?: number): void {
  assert.deepEqual(readFirstFields(content, NAMES, limit), expected(content, limit), label);
}

test('reads the first From, Subject, Date and Message-ID, unfolded and trimmed', () => {
  const message = Buffer.from(
    'Received: from x\r\n\tby y\r\nFROM :  Ann <ann@example.net> \r\nsubject: Hello\r\n  world\t\r\n' +
      'Subject: second\r\nMessage-Id:<1@example.net>\r\nX-Date: no\r\n\r\nDate: in the body\r\n',
  );
  assert.deepEqual(
    readFirstFields(message, NAMES),
    new Map([
      ['from', 'Ann <ann@example.net>'],
      ['subject', 'Hello  world'],
      ['message-id', '<1@example.net>'],
    ]),
  );
  agree(message, 'the example');
});

test('agrees with the full header reading on edge cases', () => {
  const cases = [
    '',
    '\r\n',
    'From: a',
    'From: a\r',
    'From: a\r\n',
    '\ufeffFrom: after a byte order mark\r\n\r\n',
    '\nFrom: in the body\r\n',
    'Subject: \ufeffinner mark\r\n\r\n',
    'From\r: not a field\r\nFrom: a\r\n\r\n',
    'From-X: no\r\nFrom: yes\r\n\r\n',
    'From:\r\n continued only\r\n\r\n',
    'garbage line\r\n continuation of garbage\r\nSubject: s\r\n\r\n',
    ' leading fold\r\nSubject: s\r\n\r\n',
    'Subject: bare\nLF\n folded\n\nbody',
    'Subject: caf\xc3\xa9 \xe2\x82\r\nFrom: \xff\xfe\r\n\r\n',
    'Subject:: double colon\r\n\r\n',
    'Date: Sat, 28 Nov 2026 11:00:00 +0000\r\nmessage-ID: <x@y>\r\n\r\n',
  ];
  for (const text of cases) agree(Buffer.from(text, 'latin1'), JSON.stringify(text));
  // A real byte order mark (EF BB BF): the line after it is read as a line, even an empty one.
  const marked = [
    '\ufeffFrom: after a byte order mark\r\n\r\n',
    '\ufeff\r\nFrom: an empty line after the mark does not end the section\r\n\r\n',
    '\ufeff\nFrom: nor does a bare LF\r\n\r\n',
  ];
  for (const text of marked) agree(Buffer.from(text, 'utf8'), JSON.stringify(text));
});

test('agrees where the header cap cuts a line, with or without its CR', () => {
  const message = Buffer.from('Subject: abc\r\nFrom: defgh\r\n\r\n');
  for (let limit = 1; limit <= message.length; limit++) agree(message, `limit ${limit}`, limit);
});

test('agrees with the full header reading on the corpus and on seeded mutations of it', () => {
  const root = path.join(import.meta.dirname, '../corpus');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const file = path.join(dir, entry);
      if (statSync(file).isDirectory()) walk(file);
      else if (entry.endsWith('.eml')) files.push(file);
    }
  };
  walk(root);
  assert.ok(files.length > 100, `corpus messages found: ${files.length}`);
  const random = new Random(20261128);
  const pieces = ['\r\n', '\n', '\r', ' ', '\t', ':', 'From', 'subject', 'DATE', 'Message-ID', '\xff', '\ufeff'];
  for (const file of files) {
    const message = readFileSync(file);
    agree(message, file);
    for (let round = 0; round < 20; round++) {
      const bytes = Buffer.from(message.subarray(0, 2000));
      const mutated: number[] = [...bytes];
      for (let edits = random.int(6); edits >= 0; edits--) {
        const at = random.int(mutated.length + 1);
        if (random.chance(0.5)) mutated.splice(at, random.int(3));
        else mutated.splice(at, 0, ...Buffer.from(random.pick(pieces), 'utf8'));
      }
      agree(Uint8Array.from(mutated), `${file} round ${round}`);
    }
  }
});

test('headerSectionExcess: fields and octets of the header section against HEADER_LIMITS', () => {
  const fields = (n: number, body = '\r\nbody\r\n') =>
    Buffer.from(`${Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n\tfolded`).join('\r\n')}\r\n${body}`);
  assert.equal(HEADER_LIMITS.fields, 1000);
  assert.equal(headerSectionExcess(fields(1000)), undefined, 'folded lines are not fields');
  assert.deepEqual(headerSectionExcess(fields(1001)), { limit: 'fields', value: 1001 });
  assert.deepEqual(headerSectionExcess(fields(100_000)), { limit: 'fields', value: 1001 }, 'stops counting');
  // Fields in the body are the body's.
  assert.equal(headerSectionExcess(fields(10, `\r\n${'X-B: 1\r\n'.repeat(5000)}`)), undefined);
  const folded = (octets: number) => Buffer.from(`Subject: x${'\r\n y'.repeat(octets / 4)}\r\n\r\nbody\r\n`);
  assert.equal(headerSectionExcess(folded(200_000)), undefined);
  assert.deepEqual(headerSectionExcess(folded(300_000)), { limit: 'bytes', value: HEADER_LIMITS.bytes });
  const noBody = Buffer.from(`Subject: x${'\r\n y'.repeat(100_000)}`);
  assert.deepEqual(headerSectionExcess(noBody), { limit: 'bytes', value: HEADER_LIMITS.bytes }, 'never ends');
  assert.equal(headerSectionExcess(Buffer.from('\r\nonly a body\r\n')), undefined);
  assert.equal(headerSectionExcess(Buffer.from('Subject: x\nFrom: y\n\nbare LF\n')), undefined);
  assert.deepEqual(headerSectionExcess(fields(1001, '\nbody').subarray(0)), { limit: 'fields', value: 1001 });
});

test('headerSectionExcess: 100 Received fields are a loop (RFC 5321 §6.3), whatever their case or folding', () => {
  const hops = (n: number) =>
    Buffer.from(
      `${Array.from({ length: n }, (_, i) => `${i % 2 ? 'RECEIVED' : 'Received'} : from a${i}\r\n by b`).join('\r\n')}\r\nSubject: x\r\n\r\nReceived: in the body\r\n`,
    );
  assert.equal(HEADER_LIMITS.hops, 100);
  assert.equal(headerSectionExcess(hops(99)), undefined);
  assert.deepEqual(headerSectionExcess(hops(100)), { limit: 'hops', value: 100 });
  assert.equal(headerSectionExcess(Buffer.from(`${'Received-SPF: pass\r\n'.repeat(150)}\r\nbody`)), undefined);
});
