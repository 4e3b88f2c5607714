import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bodyParts,
  decodeTextPart,
  encodeTextPart,
  findBodyTextParts,
  readRawFields,
  replaceRanges,
  splitEntity,
} from '../../../src/filter/actions/mime-parts.ts';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

function slices(message: Buffer, ranges: [number, number][]): string[] {
  return ranges.map(([start, end]) => message.toString('latin1', start, end));
}

test('header fields with folded lines and whitespace before the colon (RFC 5322 §2.2.3, §4.5.3)', () => {
  const message = wire('Subject: one\n two\nX-Test : a\nTo: b\n\nbody');
  const { fieldsEnd, bodyStart } = splitEntity(message, 0, message.length);
  assert.equal(message.toString('latin1', bodyStart), 'body');
  const fields = readRawFields(message, 0, fieldsEnd);
  assert.deepEqual(
    fields.map((f) => [f.name, f.value, f.raw]),
    [
      ['subject', 'one two', 'Subject: one\r\n two'],
      ['x-test', 'a', 'X-Test : a'],
      ['to', 'b', 'To: b'],
    ],
  );
  assert.equal(message.toString('latin1', fields[0]?.start, fields[0]?.end), 'Subject: one\r\n two\r\n');
});

test('an entity without fields starts with the empty line', () => {
  const message = wire('\nbody');
  assert.deepEqual(splitEntity(message, 0, message.length), { fieldsEnd: 0, bodyStart: 2 });
});

test('parts between delimiters: padding, lookalike lines, preamble and epilogue (RFC 2046 §5.1.1)', () => {
  const message = wire('preamble --b\n--b  \nA\n--bb not a delimiter\n--b\n\nB\n\n--b--\nepilogue\n--b\nignored');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), [
    'A\r\n--bb not a delimiter',
    '\r\nB\r\n',
  ]);
  const open = wire('--b\nA\n--b\nB tail');
  assert.deepEqual(slices(open, bodyParts(open, 0, open.length, 'b')), ['A', 'B tail']);
});

test('which parts are the body', () => {
  const message = wire(`Content-Type: multipart/mixed; boundary=m

--m
Content-Type: multipart/alternative; boundary=a

--a
Content-Type: text/plain

one
--a
Content-Type: text/html

<p>one</p>
--a--
--m
Content-Type: text/plain

footer of a mailing list, shown after the body
--m--
`);
  const parts = findBodyTextParts(message).parts;
  assert.deepEqual(
    parts.map((p) => [p.subtype, decodeTextPart(message, p)?.text]),
    [
      ['plain', 'one'],
      ['html', '<p>one</p>'],
    ],
  );
});

test('a digest holds messages, not body text (RFC 2046 §5.1.5)', () => {
  const digest = wire('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a message\n\ntext\n--d--\n');
  assert.deepEqual(findBodyTextParts(digest).parts, []);
});

test('an attachment first, then the body', () => {
  const message = wire(`Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain
Content-Disposition: attachment; filename=a.txt

attachment
--m
Content-Type: text/plain; charset=utf-8

body
--m--
`);
  assert.deepEqual(
    findBodyTextParts(message).parts.map((p) => decodeTextPart(message, p)?.text),
    ['body'],
  );
});

test('decoding: quoted-printable, base64, charsets and their aliases', () => {
  const cases: [headers: string, body: string, text: string | undefined][] = [
    ['Content-Transfer-Encoding: quoted-printable', 'a=3Db=\r\nc =C3=A9', 'a=bc é'],
    ['Content-Transfer-Encoding: BASE64', 'w6k=\r\n', 'é'],
    ['Content-Type: text/plain; charset=cp1251\r\nContent-Transfer-Encoding: 8bit', '\xcf\xf0\xe8', 'При'],
    ['Content-Type: text/plain; charset="iso-8859-1"', 'caf\xe9', 'café'],
    ['Content-Transfer-Encoding: x-uuencode', 'begin', undefined],
  ];
  for (const [headers, body, text] of cases) {
    const message = Buffer.from(`${headers}\r\n\r\n${body}`, 'latin1');
    const [part] = findBodyTextParts(message).parts;
    assert.ok(part);
    assert.deepEqual(decodeTextPart(message, part), text === undefined ? undefined : { text, opaque: false }, headers);
  }
});

test('a charset nobody knows: UTF-8 (ASCII too) is read as UTF-8, anything else kept octet for octet', () => {
  const read = (body: string) => {
    const message = Buffer.from(`Content-Type: text/plain; charset=x-nonsense\r\n\r\n${body}`, 'latin1');
    const [part] = findBodyTextParts(message).parts;
    assert.ok(part);
    return decodeTextPart(message, part);
  };
  assert.deepEqual(read('plain text'), { text: 'plain text', opaque: false });
  assert.deepEqual(read('caf\xc3\xa9'), { text: 'café', opaque: false });
  assert.deepEqual(read('caf\xe9 \xff'), { text: 'caf\xe9 \xff', opaque: true });
});

test('encoding keeps the other fields and rewrites charset and transfer encoding', () => {
  // "é" is not in KOI8-R: the text becomes UTF-8.
  const message = wire(`Content-Type: text/plain;
\tcharset="koi8-r"; format=flowed
X-Other: kept
Content-Transfer-Encoding: quoted-printable

x`);
  const [part] = findBodyTextParts(message).parts;
  assert.ok(part);
  assert.equal(
    encodeTextPart(message, part, { text: 'café = x, the rest ASCII', opaque: false }).toString('latin1'),
    // Folded as it was (RFC 5322 §2.2.3): only the charset's value changes.
    'Content-Type: text/plain;\r\n\tcharset=utf-8; format=flowed\r\nX-Other: kept\r\n' +
      'Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n\r\ncaf=C3=A9 =3D x, the rest ASCII',
  );
});

test('opaque text keeps its charset and its octets; only the transfer encoding is rewritten', () => {
  const message = wire(`Content-Type: text/plain; charset=x-nonsense
Content-Transfer-Encoding: 7bit

x`);
  const [part] = findBodyTextParts(message).parts;
  assert.ok(part);
  assert.equal(
    encodeTextPart(message, part, { text: 'NOTE\r\ncaf\xe9 \xff', opaque: true }).toString('latin1'),
    'Content-Type: text/plain; charset=x-nonsense\r\nContent-Transfer-Encoding: quoted-printable\r\n' +
      'MIME-Version: 1.0\r\n\r\nNOTE\r\ncaf=E9 =FF',
  );
});

test('a message of header fields only gets its empty line', () => {
  const message = Buffer.from('Subject: x');
  const [part] = findBodyTextParts(message).parts;
  assert.ok(part);
  assert.equal(
    encodeTextPart(message, part, { text: 'hi', opaque: false }).toString(),
    'Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nhi',
  );
});

test('replaceRanges returns the same Buffer when nothing changes', () => {
  const message = Buffer.from('abc');
  assert.equal(replaceRanges(message, []), message);
  assert.equal(
    replaceRanges(message, [
      { start: 2, end: 3, bytes: Buffer.from('Z') },
      { start: 0, end: 1, bytes: Buffer.from('') },
    ]).toString(),
    'bZ',
  );
});

test('8bit stays 8bit only while its lines are lines of the part and at most 998 octets (RFC 5322 §2.1.1)', () => {
  const encoded = (body: string, text: string) => {
    const message = wire(`Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${body}`);
    const [part] = findBodyTextParts(message).parts;
    assert.ok(part);
    const out = encodeTextPart(message, part, { text, opaque: false }).toString('latin1');
    return /Content-Transfer-Encoding: ([\w-]+)/.exec(out)?.[1];
  };
  assert.equal(encoded('x', 'Привет\r\nмир'), '8bit');
  assert.equal(encoded('x', `${'a'.repeat(998)}\r\nb`), '8bit');
  assert.equal(encoded('x', `${'a'.repeat(999)}\r\nb`), 'quoted-printable');
  // A bare CR written as a line end would start a line "--b": a delimiter of a multipart around it.
  assert.equal(encoded('x', 'text\r--b\r\nmore'), 'quoted-printable');
  assert.equal(encoded('x', 'a NUL\u0000 in a line of text'), 'quoted-printable');
  // Past one octet in six to escape, base64 is the smaller (RFC 2045 §6.7, §6.8).
  assert.equal(encoded('x', `${'я'.repeat(2000)}`), 'base64');
});

test('x-user-defined is read as opaque octets, never as private-use characters (WHATWG Encoding §14.5)', () => {
  const message = Buffer.concat([
    wire('Content-Type: text/plain; charset=x-user-defined\nContent-Transfer-Encoding: 8bit\n\n'),
    Buffer.from([0x41, 0xcf, 0xf0]),
  ]);
  const [part] = findBodyTextParts(message).parts;
  assert.ok(part);
  assert.deepEqual(decodeTextPart(message, part), { text: 'A\xcf\xf0', opaque: true });
});

test('an empty or blank charset label is no charset: text that is not UTF-8 is kept as its octets', () => {
  for (const label of ['""', '" "', '']) {
    const message = Buffer.concat([
      wire(`Content-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: 8bit\n\n`),
      Buffer.from('Grüße', 'latin1'),
    ]);
    const [part] = findBodyTextParts(message).parts;
    assert.equal(part?.charset, undefined, label);
    assert.deepEqual(decodeTextPart(message, part!), { text: 'Grüße', opaque: true }, label);
  }
});
