import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bodyParts,
  charsetDecoder,
  decodeBase64,
  decodeBase64Units,
  decodeCharset,
  decodeQuotedPrintable,
  decodeTransferEncoding,
  lineEndOf,
  parseHeaderValue,
  readFields,
  splitEntity,
  transferEncodingOf,
} from '../../src/mime/entity.ts';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

function slices(message: Buffer, ranges: [number, number][]): string[] {
  return ranges.map(([start, end]) => message.toString('latin1', start, end));
}

test('splitEntity finds the empty line with CRLF and with bare LF', () => {
  const crlf = wire('A: 1\nB: 2\n\nbody\n');
  assert.deepEqual(splitEntity(crlf, 0, crlf.length), { fieldsEnd: 12, bodyStart: 14 });
  const lf = Buffer.from('A: 1\nB: 2\n\nbody\n');
  assert.deepEqual(splitEntity(lf, 0, lf.length), { fieldsEnd: 10, bodyStart: 11 });
  const noBody = Buffer.from('A: 1\n');
  assert.deepEqual(splitEntity(noBody, 0, noBody.length), { fieldsEnd: 5, bodyStart: 5 });
  const noFields = wire('\nbody');
  assert.deepEqual(splitEntity(noFields, 0, noFields.length), { fieldsEnd: 0, bodyStart: 2 });
});

test('readFields: a line starting with WSP never starts a field; a leading byte order mark is dropped', () => {
  const indented = Buffer.from(' From: "PayPal" <service@paypal.com>\r\nFrom: "Mallory" <m@evil.example>\r\n');
  assert.deepEqual(readFields(indented, 0, indented.length), [{ name: 'from', value: '"Mallory" <m@evil.example>' }]);
  const afterJunk = Buffer.from('nonsense\r\n From: <a@b.example>\r\nSubject: s\r\n');
  assert.deepEqual(readFields(afterJunk, 0, afterJunk.length), [{ name: 'subject', value: 's' }]);
  const bom = Buffer.from('\ufeffFrom: <a@b.example>\r\n', 'utf8');
  assert.deepEqual(readFields(bom, 0, bom.length), [{ name: 'from', value: '<a@b.example>' }]);
});

test('lineEndOf reads the first line end', () => {
  assert.equal(lineEndOf(wire('A: 1\n\nx')), '\r\n');
  assert.equal(lineEndOf(Buffer.from('A: 1\n\nx')), '\n');
});

test('readFields unfolds, keeps order and the folding whitespace, reads UTF-8, skips lines without a colon', () => {
  const message = Buffer.from('Subject: a\r\n  b\r\nFrom : x@y\r\nnonsense\r\nX-Ru: Привет\r\nX-Empty:\r\n', 'utf8');
  assert.deepEqual(readFields(message, 0, message.length), [
    { name: 'subject', value: 'a  b' },
    { name: 'from', value: 'x@y' },
    { name: 'x-ru', value: 'Привет' },
    { name: 'x-empty', value: '' },
  ]);
  // A no-break space is not field whitespace (RFC 5322 §2.2): " From" must not become "from".
  const nbsp = Buffer.from('\u00a0From: evil@x\n', 'utf8');
  assert.equal(readFields(nbsp, 0, nbsp.length)[0]?.name, '\u00a0from');
});

test('bodyParts: preamble and epilogue are not parts; transport padding; close delimiter', () => {
  const message = wire('preamble\n--b  \nA: 1\n\none\n--b\n\ntwo\n--b--\nepilogue\n--b\nnot a part\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), ['A: 1\r\n\r\none', '\r\ntwo']);
});

test('bodyParts: a longer line that starts with the boundary is not a delimiter; nor is one mid-line', () => {
  const message = wire('--b\none\n--bc\nx --b\n--b--\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), ['one\r\n--bc\r\nx --b']);
});

test('bodyParts: without a close delimiter the last part runs to the end; maxParts bounds the count', () => {
  const message = Buffer.from('--b\none\n--b\ntwo\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), ['one', 'two\n']);
  const many = Buffer.from(`${'--b\nx\n'.repeat(50)}--b--\n`);
  assert.equal(bodyParts(many, 0, many.length, 'b').length, 50);
  assert.equal(bodyParts(many, 0, many.length, 'b', 7).length, 7);
  assert.deepEqual(bodyParts(Buffer.from('no delimiters\n'), 0, 14, 'b'), []);
});

test('bodyParts searches only its own range: a message of many multiparts is not read once per multipart', () => {
  // A multipart whose boundary never comes, before a megabyte that is not its own: its search must stop at its end.
  const head = wire('--b\nx\n');
  const message = Buffer.concat([head, Buffer.alloc(1 << 20, 'X'), Buffer.from('\r\n--b\r\n')]);
  const searched: number[] = [];
  const indexOf = Buffer.prototype.indexOf;
  Buffer.prototype.indexOf = function (this: Buffer, ...args: Parameters<Buffer['indexOf']>) {
    searched.push(this.length);
    return indexOf.apply(this, args);
  };
  try {
    assert.deepEqual(slices(message, bodyParts(message, 0, head.length, 'b')), ['x\r\n']);
  } finally {
    Buffer.prototype.indexOf = indexOf;
  }
  assert.ok(searched.length > 0);
  assert.ok(Math.max(...searched) <= head.length, `searched ${Math.max(...searched)} octets of ${head.length}`);
});

test('quoted-printable: escapes, soft breaks (with trailing whitespace), bad escapes kept as written', () => {
  const decode = (s: string) => decodeQuotedPrintable(Buffer.from(s, 'latin1')).toString('latin1');
  assert.equal(decode('caf=C3=A9 =3D ok'), 'caf\xc3\xa9 = ok');
  assert.equal(decode('soft=\r\nbreak=  \nand=\tend='), 'softbreakand=\tend');
  assert.equal(decode('lower =c3=a9'), 'lower \xc3\xa9');
  assert.equal(decode('bad =ZZ and =4'), 'bad =ZZ and =4');
  assert.equal(decode('hard\r\nbreak\n'), 'hard\r\nbreak\n');
});

test('base64: line breaks and junk ignored, padding mid-body continues, base64url characters are junk', () => {
  const hello = Buffer.from('hello world').toString('base64');
  assert.equal(decodeBase64(Buffer.from(`${hello.slice(0, 6)}\r\n${hello.slice(6)}\r\n`)).toString(), 'hello world');
  assert.equal(
    decodeBase64(Buffer.from(`${hello}\r\n*** junk!`))
      .toString('latin1')
      .slice(0, 11),
    'hello world',
  );
  const perLine = `${Buffer.from('ab').toString('base64')}\n${Buffer.from('cd').toString('base64')}\n`; // YWI=\nY2Q=
  assert.equal(decodeBase64(Buffer.from(perLine)).toString(), 'abcd');
  assert.equal(
    decodeBase64(Buffer.from(`${hello}\n--boundary--\n____\n`))
      .toString('latin1')
      .slice(0, 11),
    'hello world',
  );
  assert.equal(decodeBase64(Buffer.from(`${Buffer.from('abc').toString('base64')}\n-_-_\n`)).toString(), 'abc');
});

test('decodeTransferEncoding: identity encodings, unknown is undefined; transferEncodingOf defaults to 7bit', () => {
  const body = Buffer.from('x=41');
  assert.equal(decodeTransferEncoding(body, '8bit'), body);
  assert.equal(decodeTransferEncoding(body, 'quoted-printable')?.toString(), 'xA');
  assert.equal(decodeTransferEncoding(body, 'x-uuencode'), undefined);
  assert.equal(transferEncodingOf(undefined), '7bit');
  assert.equal(transferEncodingOf(' (comment) Base64 '), 'base64');
  assert.equal(transferEncodingOf('"quoted-printable"'), 'quoted-printable');
});

test('charsets: aliases via libmime, windows-1251 and koi8-r; unknown → UTF-8 if valid, else windows-1252', () => {
  assert.equal(charsetDecoder('cp1251')?.encoding, 'windows-1251');
  assert.equal(charsetDecoder('WIN-1251')?.encoding, 'windows-1251');
  assert.equal(charsetDecoder(undefined)?.encoding, 'utf-8');
  assert.equal(charsetDecoder('x-unknown-charset'), undefined);
  assert.equal(decodeCharset(Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]), 'windows-1251'), 'Привет');
  assert.equal(decodeCharset(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), 'koi8-r'), 'Привет');
  assert.equal(decodeCharset(Buffer.from('Привет', 'utf8'), 'unknown-8bit'), 'Привет');
  assert.equal(decodeCharset(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x85]), 'DEFAULT_CHARSET'), 'café…');
  assert.equal(decodeCharset(Buffer.from([0x63, 0xe9]), undefined), 'c\ufffd'); // undeclared: UTF-8
});

test('parseHeaderValue: lower-case value, quoted and RFC 2231 parameters, comments', () => {
  assert.deepEqual(parseHeaderValue('Text/Plain; Charset="KOI8-R" (comment); format=flowed'), {
    value: 'text/plain',
    params: { charset: 'KOI8-R', format: 'flowed' },
  });
  assert.equal(
    parseHeaderValue("attachment; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.pdf").params.filename,
    'счёт.pdf',
  );
  assert.equal(
    parseHeaderValue('attachment; filename*0*=UTF-8\'\'%D1%84; filename*1="ile.exe"').params.filename,
    'фile.exe',
  );
  assert.equal(parseHeaderValue('').value, '');
  // RFC 2231 §4: "%" escapes two hex digits; a stray one stays as written (libmime made "%ZZ" "=ZZ").
  assert.equal(parseHeaderValue("attachment; filename*=utf-8''%ZZ.txt").params.filename, '%ZZ.txt');
  assert.equal(parseHeaderValue("attachment; filename*=utf-8''100%25%20off.pdf").params.filename, '100% off.pdf');
  assert.equal(parseHeaderValue('attachment; filename="50%ZZ.txt"').params.filename, '50%ZZ.txt');
  assert.equal(
    parseHeaderValue('attachment; filename="a*=%zz.txt"').params.filename,
    'a*=%zz.txt',
    'quoted: untouched',
  );
});

test('base64 with padding in the middle: one pass decodes as Node does unit by unit, on random input', () => {
  // The reference: each "=" run ends a unit, and Node decodes each (skipping what is not base64).
  const byUnits = (text: string) => Buffer.concat(text.split(/=+/).map((unit) => Buffer.from(unit, 'base64')));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/==== \r\n\t.!*';
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 2000; round++) {
    const length = random(60);
    let text = '';
    for (let i = 0; i < length; i++) text += alphabet[random(alphabet.length)];
    assert.deepEqual(decodeBase64Units(Buffer.from(text, 'latin1')), byUnits(text), JSON.stringify(text));
  }
  assert.equal(decodeBase64(Buffer.from('QUJD=REVG==R0g=')).toString(), 'ABCDEFGH');
});
