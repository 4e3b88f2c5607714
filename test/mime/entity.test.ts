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
  entityHeader,
  lineEndOf,
  parseHeaderValue,
  readFields,
  STRUCTURED_VALUE_LIMITS,
  splitEntity,
  transferEncodingOf,
} from '../../src/mime/entity.ts';
import { HEADER_LIMITS } from '../../src/mime/header-section.ts';

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

test('bodyParts: a boundary given as bytes is searched as they are; a string, one character a byte', () => {
  const message = Buffer.from('--S\u00e9\r\none\r\n--S\u00e9--\r\n', 'utf8');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, Buffer.from('S\u00e9'))), ['one']);
  assert.deepEqual(bodyParts(message, 0, message.length, 'S\u00e9'), []); // 53 E9: not what is written
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'S\u00c3\u00a9')), ['one']);
  // readFields gives the bytes back one character each when asked.
  const field = Buffer.from('\ufeffContent-Type: multipart/mixed; boundary="S\u00e9"\r\n', 'utf8');
  assert.deepEqual(readFields(field, 0, field.length, 'latin1'), [
    { name: 'content-type', value: 'multipart/mixed; boundary="S\u00c3\u00a9"' },
  ]);
});

test('bodyParts: a longer line that starts with the boundary is not a delimiter; nor is one mid-line', () => {
  const message = wire('--b\none\n--bc\nx --b\n--b--\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), ['one\r\n--bc\r\nx --b']);
});

test('bodyParts: "--b--" followed by more than padding is no close delimiter (RFC 2046 §5.1.1)', () => {
  const message = wire('--b\nbenign\n--b--x\n--b\n<a href="http://evil.example/">PHISH</a>\n--b-- \t\nepilogue\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), [
    'benign\r\n--b--x',
    '<a href="http://evil.example/">PHISH</a>',
  ]);
  const atEnd = Buffer.from('--b\none\n--b--');
  assert.deepEqual(slices(atEnd, bodyParts(atEnd, 0, atEnd.length, 'b')), ['one']);
});

test('bodyParts: without a close delimiter the last part runs to the end; maxParts bounds the count', () => {
  const message = Buffer.from('--b\none\n--b\ntwo\n');
  assert.deepEqual(slices(message, bodyParts(message, 0, message.length, 'b')), ['one', 'two\n']);
  const many = Buffer.from(`${'--b\nx\n'.repeat(50)}--b--\n`);
  assert.equal(bodyParts(many, 0, many.length, 'b').length, 50);
  assert.equal(bodyParts(many, 0, many.length, 'b', 7).length, 7);
  assert.deepEqual(bodyParts(Buffer.from('no delimiters\n'), 0, 14, 'b'), []);
});

test('bodyParts: a delimiter at the end of the range with no line end opens no part (RFC 2046 §5.1.1)', () => {
  // The inner multipart is never closed; the CRLF before "--o" is the outer delimiter's, so "--i" ends
  // the inner range. It had opened an empty part there, and the banner's fields went right after "--i".
  const message = wire('--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\nA\n--i\n--o--\n');
  const [outer] = bodyParts(message, 0, message.length, 'o') as [[number, number]];
  assert.ok(message.toString('latin1', 0, outer[1]).endsWith('\r\n--i'));
  const inner = splitEntity(message, outer[0], outer[1]).bodyStart;
  assert.deepEqual(bodyParts(message, inner, outer[1], 'i'), [[inner + 5, inner + 6]]);
  // At the end of the message too, with transport padding, or as the first delimiter.
  for (const text of ['--b\r\none\r\n--b', '--b\r\none\r\n--b \t']) {
    const atEnd = Buffer.from(text);
    assert.deepEqual(slices(atEnd, bodyParts(atEnd, 0, atEnd.length, 'b')), ['one'], JSON.stringify(text));
  }
  assert.deepEqual(bodyParts(Buffer.from('--b'), 0, 3, 'b'), []);
  // A delimiter with its line end still opens a part, an empty one at the end.
  const open = Buffer.from('--b\r\none\r\n--b\r\n');
  assert.deepEqual(slices(open, bodyParts(open, 0, open.length, 'b')), ['one', '']);
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
    decodedParams: [],
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

test('parseHeaderValue: RFC 822 comments in a structured field are not part of the value (RFC 2045 §5.1)', () => {
  assert.equal(parseHeaderValue('multipart/mixed; (x) boundary="abc"').params.boundary, 'abc');
  assert.equal(parseHeaderValue('multipart/mixed (c); boundary=abc (comment)').params.boundary, 'abc');
  assert.equal(parseHeaderValue('text/plain; charset=koi8-r (Cyrillic)').params.charset, 'koi8-r');
  assert.equal(parseHeaderValue('attachment; filename=Invoice(1).pdf').params.filename, 'Invoice(1).pdf');
});

test('parseHeaderValue: RFC 2231 parameters are named as decoded already; oversized values keep only the ones parts are named by', () => {
  const double = parseHeaderValue(
    'attachment; filename*=utf-8\'\'100%3D%3Futf-8%3FQ%3F%3D25%3F%3D.txt; x="=?utf-8?Q?a?="',
  );
  assert.equal(double.params.filename, '100=?utf-8?Q?=25?=.txt');
  assert.deepEqual(double.decodedParams, ['filename']);
  const long = `application/octet-stream; name="a.exe"; x="${'y'.repeat(STRUCTURED_VALUE_LIMITS.length)}"`;
  assert.deepEqual(parseHeaderValue(long), {
    value: 'application/octet-stream',
    params: { name: 'a.exe' },
    decodedParams: [],
  });
  let many = 'Multipart/Mixed';
  for (let i = 0; i <= STRUCTURED_VALUE_LIMITS.parameters; i++) many += `; p${i}*0*=x`;
  assert.deepEqual(parseHeaderValue(`${many}; boundary=b`), {
    value: 'multipart/mixed',
    params: { boundary: 'b' },
    decodedParams: [],
  });
});

test('entityHeader: ends at the empty line; notes the first line that is neither field nor continuation', () => {
  const plain = wire('A: 1\n b\nFrom : x\n\nbody\n');
  assert.deepEqual(entityHeader(plain, 0, plain.length), {
    fieldsEnd: 20,
    bodyStart: 22,
    firstNonField: undefined,
    excess: false,
  });
  const noSeparator = wire('Content-Type: text/html\n<p>Log in: <a href="http://evil.example/">here</a></p>\n');
  assert.deepEqual(entityHeader(noSeparator, 0, noSeparator.length), {
    fieldsEnd: noSeparator.length,
    bodyStart: noSeparator.length,
    firstNonField: 25,
    excess: false,
  });
  // A byte order mark before the first field and an mbox "From " line are header lines, as readers take them.
  const mbox = Buffer.from('\ufeffFrom a@b.example Mon Jan  1 00:00:00 2024\nSubject: s\n\nx\n', 'utf8');
  assert.equal(entityHeader(mbox, 0, mbox.length).firstNonField, undefined);
  for (const junk of ['no colon', ':empty name', 'Sp ace: x', 'Ümlaut: x']) {
    const message = Buffer.from(`A: 1\n${junk}\nB: 2\n\nbody\n`, 'utf8');
    assert.equal(entityHeader(message, 0, message.length).firstNonField, 5, junk);
  }
});

test('entityHeader: HEADER_LIMITS bound every entity; the reading stops within them', () => {
  const manyFields = Buffer.from(`${'X-A: a\n'.repeat(HEADER_LIMITS.fields + 1)}\nbody\n`);
  const fields = entityHeader(manyFields, 0, manyFields.length);
  assert.equal(fields.excess, true);
  assert.equal(fields.fieldsEnd, 7 * HEADER_LIMITS.fields);
  const atLimit = Buffer.from(`${'X-A: a\n'.repeat(HEADER_LIMITS.fields)}\nbody\n`);
  assert.equal(entityHeader(atLimit, 0, atLimit.length).excess, false);
  const folded = Buffer.from(`Content-Type: text/plain; a="${'a'.repeat(76)}\n `.repeat(4000) + '"\n\nbody\n');
  const bytes = entityHeader(folded, 0, folded.length);
  assert.equal(bytes.excess, true);
  assert.ok(bytes.fieldsEnd <= HEADER_LIMITS.bytes);
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

test('an over-long Content-Type or Content-Disposition still names its boundary and file name (padding hides neither)', () => {
  const pad = `x-pad="${'A'.repeat(20_000)}"`;
  // Past the limits libmime is not asked, but what mail programs read is: a boundary after the padding,
  // a file name, quoted or not, and one in RFC 2231 continuations with a charset.
  const multipart = parseHeaderValue(`multipart/mixed; ${pad}; (a comment) boundary="b=_1"`);
  assert.deepEqual([multipart.value, multipart.params.boundary], ['multipart/mixed', 'b=_1']);
  assert.equal(parseHeaderValue(`attachment; ${pad}; filename=invoice.pdf.exe`).params.filename, 'invoice.pdf.exe');
  const continued = parseHeaderValue(
    `attachment; ${pad}; filename*1="ile.exe"; filename*0*=UTF-8''%D1%84; size=${'9'.repeat(10)}`,
  );
  assert.deepEqual([continued.params.filename, continued.decodedParams], ['фile.exe', ['filename']]);
  assert.equal(parseHeaderValue(`text/plain; ${pad}; charset=koi8-r`).params.charset, 'koi8-r');
  // Past the parameter count too.
  const many = parseHeaderValue(`multipart/mixed; ${'a=b; '.repeat(200)}boundary=last`);
  assert.equal(many.params.boundary, 'last');
});

test('a file name in more RFC 2231 segments than are joined keeps its first and its last: the extension is not lost', () => {
  const segments = Array.from({ length: 120 }, (_, i) => `filename*${i}="a"`);
  const value = `attachment; ${segments.join('; ')}; filename*120=".exe"`;
  const name = parseHeaderValue(value).params.filename as string;
  assert.ok(name.endsWith('a.exe'), name);
  assert.ok(name.length <= 105, `${name.length}`);
  // The first segment, which names the charset (RFC 2231 §4), stays; numbers past 999 are read too.
  const extended = `attachment; filename*0*=utf-8''%D1%84; ${segments.slice(1).join('; ')}; filename*1000=".js"`;
  const read = parseHeaderValue(extended).params.filename as string;
  assert.ok(read.startsWith('ф') && read.endsWith('a.js'), read);
});
