import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { bodyStart, insertBanner, warningBanner } from '../../../src/filter/actions/banner.ts';
import { decodeTextPart, findBodyTextParts } from '../../../src/filter/actions/mime-parts.ts';
import { ContentFilter } from '../../../src/filter/content-filter.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { parseMessage } from '../../../src/mime/message.ts';
import type { Envelope } from '../../../src/smtp/envelope.ts';
import { testPeer } from '../../support/peer.ts';

const reasons = [
  {
    en: 'The link text shows paypal.com but it leads to paypal-secure.xyz',
    ru: 'Текст ссылки показывает paypal.com, а ведёт она на paypal-secure.xyz',
  },
];
const banner = warningBanner({ language: 'en', reasons });

/** Lines joined with CRLF, as on the wire. */
function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

function linesOf(buf: Buffer): string[] {
  return buf.toString('latin1').split('\r\n');
}

test('default English wording, one paragraph', () => {
  assert.equal(
    banner.text,
    'CAUTION: this message may be phishing. Postern found: The link text shows paypal[.]com but it leads to paypal-secure[.]xyz. ' +
      'Do not open links or attachments or reply with passwords or payment details unless you have confirmed with the sender by another channel.',
  );
  assert.match(
    banner.html,
    /^<table role="presentation"[^>]*><tr><td style="[^"]+"><p lang="en" dir="ltr" style="margin:0;"><strong>CAUTION:<\/strong> this message/,
  );
});

test('both languages: Russian first, then English; at most three reasons', () => {
  const many = ['a.example', 'b.example', 'c.example', 'd.example'].map((d) => ({
    en: `sender ${d}`,
    ru: `отправитель ${d}`,
  }));
  const both = warningBanner({ language: 'both', reasons: many });
  const [ru, en, ...rest] = both.text.split('\n\n');
  assert.equal(rest.length, 0);
  assert.ok(
    ru?.startsWith(
      'ВНИМАНИЕ: это письмо может быть фишингом. Postern обнаружил: отправитель a.example; отправитель b.example; отправитель c.example. Не открывайте ссылки',
    ),
  );
  assert.ok(
    en?.startsWith(
      'CAUTION: this message may be phishing. Postern found: sender a.example; sender b.example; sender c.example. Do not',
    ),
  );
  assert.ok(!both.text.includes('d.example'));
  assert.ok(both.html.indexOf('lang="ru"') < both.html.indexOf('lang="en"'));
});

test('without reasons the "found" sentence is left out', () => {
  const plain = warningBanner({ language: 'ru', reasons: [] });
  assert.ok(plain.text.startsWith('ВНИМАНИЕ: это письмо может быть фишингом. Не открывайте'));
});

test('a configured template replaces the wording, {reasons} filled in', () => {
  const custom = warningBanner({
    language: 'both',
    reasons,
    template: { en: 'Careful! {reasons}', ru: 'Осторожно! {reasons}' },
  });
  const defanged = (reason = '') => reason.replace(/(paypal(?:-secure)?)\.(com|xyz)/g, '$1[.]$2');
  assert.equal(custom.text, `Осторожно! ${defanged(reasons[0]?.ru)}\n\nCareful! ${defanged(reasons[0]?.en)}`);
});

test('a domain in a reason is written defanged, so neither the reader nor the next Postern gets a link', () => {
  // Before: "paypa1.com" in the banner, which Gmail and Apple Mail turn into a link to the site warned
  // of, and which a second Postern on the way read as a link the message carries (a second banner).
  const b = warningBanner({
    language: 'en',
    reasons: [
      { en: "The sender's domain paypa1.com imitates paypal.com; x@login.paypa1.co.uk wrote; see invoice.zip", ru: '' },
    ],
  });
  assert.ok(
    b.text.includes('paypa1[.]com imitates paypal[.]com; x@login[.]paypa1[.]co[.]uk wrote; see invoice[.]zip'),
    b.text,
  );
  // Not names under an ICANN top-level domain: a file name, a score, a documentation domain.
  const kept = warningBanner({ language: 'en', reasons: [{ en: 'gnp.exe scored 1.5 from a.example', ru: '' }] });
  assert.ok(kept.text.includes('gnp.exe scored 1.5 from a.example'), kept.text);
});

test('dynamic text is escaped in HTML; no scripts, styles, images or remote content', () => {
  const evil = warningBanner({
    language: 'both',
    reasons: [{ en: 'Display name "<script>alert(1)</script>" & <img src=x>', ru: "Имя '<b>' <style>" }],
    template: { ru: 'Шаблон <i>{reasons}</i>' },
  });
  assert.ok(
    evil.html.includes('Display name &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; &lt;img src=x&gt;'),
  );
  assert.ok(evil.html.includes('Шаблон &lt;i&gt;Имя &#39;&lt;b&gt;&#39; &lt;style&gt;&lt;/i&gt;'));
  assert.doesNotMatch(evil.html, /<(script|img|style|link|iframe|b|i)\b|https?:|url\(/i);
  // The plain text keeps the characters as they are: it is never rendered as HTML.
  assert.ok(evil.text.includes('"<script>alert(1)</script>" & <img src=x>'));
});

test('line breaks, controls and bidi overrides in a reason are flattened', () => {
  const b = warningBanner({
    language: 'en',
    reasons: [{ en: 'evil\r\n\r\nVerified by IT\u202egnp.exe\u0000.', ru: '' }],
  });
  assert.ok(b.text.includes('Postern found: evil Verified by IT gnp.exe. Do not'));
});

const plainMessage = wire(`From: Bank <alerts@example.com>
To: user@example.org
Subject: Your account
Date: Sat, 28 Nov 2026 08:00:00 +0000
Message-ID: <1@example.com>

Dear customer,
please confirm your password.
`);

test('single text/plain part: banner on top, original text intact, CRLF kept, headers kept', async () => {
  const before = await parseMessage(plainMessage);
  const out = insertBanner(plainMessage, banner);
  const after = await parseMessage(out);
  assert.equal(after.text, `${banner.text}\n\n${before.text}`);
  assert.equal(after.subject, 'Your account');
  const text = out.toString('latin1');
  assert.ok(
    text.startsWith(
      'From: Bank <alerts@example.com>\r\nTo: user@example.org\r\nSubject: Your account\r\nDate: Sat, 28 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n',
    ),
  );
  assert.match(
    text,
    /\r\nMIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/,
  );
  assert.doesNotMatch(text, /[^\r]\n/);
  for (const line of linesOf(out)) assert.ok(line.length <= 76 || !line.includes('='), line);
});

test('single text/html part: banner right after <body …>', async () => {
  const html = wire(`From: a@example.com
Subject: hi
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>x</title></head><body class="main" data-x='a>b'><p>Hello</p></body></html>
`);
  const after = await parseMessage(insertBanner(html, banner));
  assert.equal(
    after.html,
    `<html><head><title>x</title></head><body class="main" data-x='a>b'>${banner.html}<p>Hello</p></body></html>\n`,
  );
});

test('HTML without a body tag: after </head>, else at the start', async () => {
  const make = (body: string) => wire(`Content-Type: text/html\n\n${body}\n`);
  assert.equal((await parseMessage(insertBanner(make('<p>Hi</p>'), banner))).html, `${banner.html}<p>Hi</p>\n`);
  assert.equal(
    (await parseMessage(insertBanner(make('<html><head></head ><p>Hi</p>'), banner))).html,
    `<html><head></head >${banner.html}<p>Hi</p>\n`,
  );
});

const longLine = `${'Please verify your account details at once or it will be closed. '.repeat(3).trim()}`;
const qpLong = `${longLine.slice(0, 70)}=\n${longLine.slice(70, 140)}=\n${longLine.slice(140)}`;
const alternative = wire(`From: a@example.com
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

This is the preamble.
--b1
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

${qpLong}
caf=C3=A9 is not ascii here but =3D stays
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>${qpLong}</p></body></html>
--b1--
This is the epilogue.
`);

test('multipart/alternative with quoted-printable soft line breaks: both parts, lines ≤ 76', async () => {
  const before = await parseMessage(alternative);
  assert.ok(before.text.startsWith(`${longLine}\n`));
  const out = insertBanner(alternative, banner);
  const after = await parseMessage(out);
  assert.equal(after.text, `${banner.text}\n\n${before.text}`);
  assert.equal(after.html, before.html.replace('<body>', `<body>${banner.html}`));
  const text = out.toString('latin1');
  assert.ok(
    text.startsWith(alternative.toString('latin1').slice(0, alternative.indexOf('--b1'))),
    'headers and preamble kept',
  );
  assert.ok(text.endsWith('\r\n--b1--\r\nThis is the epilogue.\r\n'));
  assert.equal(text.match(/^--b1\r$/gm)?.length, 2);
  for (const line of linesOf(out)) assert.ok(line.length <= 76, `line of ${line.length}: ${line}`);
});

const pdf = Buffer.from('%PDF-1.4 fake\x00\x01\x02 binary', 'latin1').toString('base64');
const mixed = wire(`From: a@example.com
Subject: mixed
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Привет, see the invoice.
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

${Buffer.from('<body><p>Привет, see the <b>invoice</b>.</p><img src="cid:logo"></body>').toString('base64')}

--alt--
--rel
Content-Type: image/png
Content-ID: <logo>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--outer
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

${pdf}
--outer
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

attached notes stay as they are
--outer
Content-Type: message/rfc822

From: inner@example.net
Subject: forwarded
Content-Type: text/plain

inner text stays
--outer--
`);

test('nested mixed/related/alternative: body parts get the banner, attachments stay byte for byte', async () => {
  const before = await parseMessage(mixed);
  const out = insertBanner(mixed, banner);
  const after = await parseMessage(out);
  assert.equal(after.text, `${banner.text}\n\n${before.text}`);
  assert.equal(after.html, before.html.replace('<body>', `<body>${banner.html}`));
  assert.deepEqual(after.attachments, before.attachments);
  const tail = mixed.subarray(mixed.indexOf('--rel\r\nContent-Type: image/png'));
  assert.ok(out.subarray(out.length - tail.length).equals(tail), 'everything after the alternative is byte-identical');
  const text = out.toString('latin1');
  assert.ok(text.includes('inner text stays') && text.includes('attached notes stay as they are'));
  assert.doesNotMatch(text, /[^\r]\n/, 'every line end stays CRLF');
  assert.equal(
    text.split(banner.text.slice(0, 20)).length,
    2,
    'the text banner once (quoted-printable keeps ASCII readable)',
  );
  // The base64 HTML part stays base64, in lines of 76.
  const html = text.slice(text.indexOf('Content-Type: text/html'), text.indexOf('--alt--'));
  assert.match(html, /^Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n/);
  const lines = html.split('\r\n').slice(3, -2);
  assert.ok(lines.length > 2 && lines.every((l, i) => (i < lines.length - 1 ? l.length === 76 : l.length <= 76)));
  assert.ok(html.endsWith('\r\n\r\n'), 'the blank line before the delimiter is kept');
});

/** "Привет"-style Cyrillic in windows-1251: А-я are 0xC0-0xFF. */
function cp1251(text: string): Buffer {
  return Buffer.from(
    new Uint8Array([...text].map((c) => (c >= 'А' && c <= 'я' ? c.charCodeAt(0) - 0x410 + 0xc0 : c.charCodeAt(0)))),
  );
}

function russianMessage(): Buffer {
  const koi8 = Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4, 0x2c, 0x20, 0xcd, 0xc9, 0xd2]); // "Привет, мир"
  const qp1251 = [
    ...cp1251(
      '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head><body>Здравствуйте, клиент</body></html>',
    ),
  ]
    .map((b) => (b > 0x7e || b === 0x3d ? `=${b.toString(16).toUpperCase()}` : String.fromCharCode(b)))
    .join('');
  return Buffer.concat([
    wire(`From: a@example.com
Subject: ru
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=x

--x
Content-Type: text/plain; charset="koi8-r"
Content-Transfer-Encoding: 8bit

`),
    koi8,
    wire(`
--x
Content-Type: text/html;
\tcharset=windows-1251
Content-Transfer-Encoding: quoted-printable

${qp1251.slice(0, 60)}=
${qp1251.slice(60)}
--x--
`),
  ]);
}

const russianHtml = (meta: string, bannerHtml: string) =>
  `<html><head><meta http-equiv="Content-Type" content="text/html; charset=${meta}"></head><body>${bannerHtml}Здравствуйте, клиент</body></html>\n`;

test('windows-1251 and koi8-r parts keep their charset, the Russian banner written in it', async () => {
  const message = russianMessage();
  const before = await parseMessage(message);
  assert.equal(before.text, 'Привет, мир\n');
  const ru = warningBanner({ language: 'ru', reasons });
  const out = insertBanner(message, ru);
  const after = await parseMessage(out);
  assert.equal(after.text, `${ru.text}\n\nПривет, мир\n`);
  // (Base64 now, where quoted-printable ended the text with a line end of its own.)
  assert.equal(after.html, russianHtml('windows-1251', ru.html).trimEnd(), 'the <meta> still says what the part is');
  const text = out.toString('latin1');
  // 8bit stays 8bit (RFC 6152), the KOI8-R octets as they came: one octet a letter, banner included.
  assert.ok(text.includes('Content-Type: text/plain; charset="koi8-r"\r\nContent-Transfer-Encoding: 8bit\r\n'));
  assert.ok(out.includes(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4, 0x2c, 0x20, 0xcd, 0xc9, 0xd2])));
  assert.ok(text.includes('Content-Type: text/html;\r\n\tcharset=windows-1251\r\nContent-Transfer-Encoding: '));
});

test('a banner with a character the charset lacks: the part comes out as UTF-8, its <meta> saying so', async () => {
  const message = russianMessage();
  const ru = warningBanner({ language: 'ru', reasons: [{ en: 'x', ru: 'отправитель 中国银行 <boc@example.cn>' }] });
  const out = insertBanner(message, ru);
  const after = await parseMessage(out);
  assert.equal(after.text, `${ru.text}\n\nПривет, мир\n`);
  assert.equal(after.html, russianHtml('utf-8', ru.html).trimEnd());
  const text = out.toString('latin1');
  assert.ok(text.includes('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n'));
  // Quoted-printable before; Cyrillic in UTF-8 is more than one octet in six to escape: base64 (RFC 2045 §6.8).
  // The field keeps its folding (RFC 5322 §2.2.3): only the charset's value changes.
  assert.ok(text.includes('Content-Type: text/html;\r\n\tcharset=utf-8\r\nContent-Transfer-Encoding: base64\r\n'));
});

// WHATWG Encoding §4.2 reads these labels as a Windows code page; a reader that takes the label at its
// word sees C1 controls (ISO 8859, RFC 1345 §4) or box drawing (KOI8-U, RFC 2319) for some of its bytes.
test('a label WHATWG reads as a larger charset keeps its charset only without the bytes where the two differ', async () => {
  const quoted = warningBanner({
    language: 'en',
    reasons: [{ en: 'The attachment “invoice.exe” is a program — it runs code…', ru: 'x' }],
  });
  const latin = (charset: string, body: Buffer) =>
    Buffer.concat([
      wire(
        `From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=${charset}\nContent-Transfer-Encoding: 8bit\n\n`,
      ),
      body,
      wire('\n'),
    ]);
  const french = Buffer.from('Merci beaucoup, ça va être réglé.', 'latin1');
  const thai = Buffer.from([0xca, 0xc7, 0xd1, 0xca, 0xb4, 0xd5]); // "สวัสดี" in TIS-620
  const cases: [string, Buffer, string][] = [
    ['iso-8859-1', french, 'Merci beaucoup, ça va être réglé.'],
    ['ISO_8859-1:1987', french, 'Merci beaucoup, ça va être réglé.'],
    ['latin1', french, 'Merci beaucoup, ça va être réglé.'],
    ['iso-8859-9', french, 'Merci beaucoup, ça va être réglé.'],
    ['iso-8859-11', thai, 'สวัสดี'],
    ['tis-620', thai, 'สวัสดี'],
  ];
  for (const [charset, body, text] of cases) {
    const out = insertBanner(latin(charset, body), quoted);
    const { headers, content } = splitMessage(out);
    assert.match(headers, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/, charset);
    new TextDecoder('utf-8', { fatal: true }).decode(content); // the octets are UTF-8, as labelled
    assert.equal((await parseMessage(out)).text, `${quoted.text}\n\n${text}\n`, charset);
  }
  // The Windows names mean the code page itself, whose 0x93 is “: the part keeps its octets and its label.
  for (const charset of ['windows-1252', 'cp1252', 'windows-1254', 'windows-874']) {
    const out = insertBanner(latin(charset, french), quoted);
    assert.match(splitMessage(out).headers, new RegExp(`\\r\\nContent-Type: text/plain; charset=${charset}\\r\\n`));
    assert.ok(out.includes(Buffer.from([0x93])), charset);
    assert.ok(out.includes(french), charset);
  }
  // A banner all in ISO 8859-1 keeps an iso-8859-1 part in it.
  const plain = warningBanner({ language: 'en', reasons: [{ en: 'The sender café.example is new', ru: 'x' }] });
  const kept = insertBanner(latin('iso-8859-1', french), plain);
  assert.match(splitMessage(kept).headers, /\r\nContent-Type: text\/plain; charset=iso-8859-1\r\n/);
  assert.ok(kept.includes(french));
  // KOI8-U: ў is 0xAE only in KOI8-RU, which WHATWG reads for both labels.
  const belarusian = warningBanner({ language: 'ru', reasons: [{ en: 'x', ru: 'отправитель Ўладзімір' }] });
  const koi8 = (charset: string) => splitMessage(insertBanner(latin(charset, Buffer.from([0xf0, 0xd2])), belarusian));
  assert.match(koi8('koi8-u').headers, /charset=utf-8\r\n/);
  assert.match(koi8('koi8-ru').headers, /charset=koi8-ru\r\n/);
});

/** The header section (with its last line end) and the body, as octets. */
function splitMessage(message: Buffer): { headers: string; content: Buffer } {
  const at = message.indexOf('\r\n\r\n');
  return { headers: message.toString('latin1', 0, at + 2), content: message.subarray(at + 4) };
}

test('base64 text part stays base64 and decodes to the banner and the text', async () => {
  const message = wire(`Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

${Buffer.from('Line one\r\nLine two\r\n').toString('base64')}
`);
  const before = await parseMessage(message);
  assert.equal(before.text, 'Line one\r\nLine two\r\n'); // base64 carries the text's own line ends
  const out = insertBanner(message, banner);
  assert.equal((await parseMessage(out)).text, `${banner.text}\r\n\r\n${before.text}`);
  assert.match(out.toString('latin1'), /Content-Transfer-Encoding: base64\r\n/);
});

test('a bare-LF message stays bare-LF', () => {
  const lf = Buffer.from('Subject: lf\nContent-Type: text/plain\n\nhello\n');
  const out = insertBanner(lf, banner);
  assert.ok(!out.includes('\r'));
  assert.ok(out.toString().endsWith('\n\nhello\n'));
});

/**
 * The message as insertBanner wraps it: a multipart/mixed whose first part is the banner, and whose
 * second is the original's content (its Content-* fields and body) byte for byte.
 */
async function assertWrapped(original: Buffer, out: Buffer): Promise<void> {
  const text = out.toString('latin1');
  const boundary = /^Content-Type: multipart\/mixed; boundary="([^"]+)"\r?$/m.exec(text)?.[1];
  assert.ok(boundary, text.slice(0, 400));
  const parts = text.split(`--${boundary}`);
  assert.equal(parts.length, 4, 'preamble, banner, original, close');
  assert.match(parts[1] ?? '', /Content-Type: text\/plain; charset=utf-8/);
  const split = original.toString('latin1').split(/\r?\n\r?\n/);
  const contentFields = (split[0] ?? '').split(/\r?\n(?![ \t])/).filter((f) => /^content-/i.test(f));
  const inner = parts[2] ?? '';
  for (const field of contentFields) assert.ok(inner.includes(field), field);
  const body = original
    .toString('latin1')
    .slice((split[0] ?? '').length)
    .replace(/^\r?\n\r?\n/, '');
  assert.ok(inner.includes(body), 'the original body, byte for byte');
  const parsed = await parseMessage(out);
  assert.ok(parsed.text.startsWith(banner.text), parsed.text.slice(0, 200));
}

test('no body text part (an image, a calendar): the message is wrapped with the banner first', async () => {
  const image = wire(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: image/png
Content-Disposition: inline

iVBORw0KGgo=
--b
Content-Type: text/plain
Content-Disposition: attachment; filename=a.txt

not a body
--b--
`);
  await assertWrapped(image, insertBanner(image, banner));
  const calendar = wire('From: a@example.com\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n');
  const out = insertBanner(calendar, banner);
  await assertWrapped(calendar, out);
  assert.match(out.toString(), /^From: a@example\.com\r\nMIME-Version: 1\.0\r\n/, 'other fields stay on top');
  const forwarded = wire('Content-Type: message/rfc822\n\nFrom: b@example.com\nSubject: inner\n\nphish here\n');
  await assertWrapped(forwarded, insertBanner(forwarded, banner));
});

test('a charset nobody knows does not keep the banner out (a phisher can name any charset)', async () => {
  // UTF-8 under an unknown label is read as UTF-8 and relabelled: the whole banner.
  const utf8 = Buffer.from('Content-Type: text/plain; charset=x-unknown-charset\r\n\r\nЗдравствуйте\r\n', 'utf8');
  const relabelled = await parseMessage(insertBanner(utf8, banner));
  assert.equal(relabelled.text, `${banner.text}\r\n\r\nЗдравствуйте\r\n`.replace(/\r\n/g, '\n'));
  // Other octets are kept as they are, under their own label, with the ASCII banner on top.
  const russian = warningBanner({ language: 'ru', reasons });
  const octets = Buffer.from('Content-Type: text/plain; charset=x-unknown-charset\r\n\r\n\xf0\xd2\xc9\r\n', 'latin1');
  const out = insertBanner(octets, russian);
  const text = out.toString('latin1');
  assert.match(
    text,
    /^Content-Type: text\/plain; charset=x-unknown-charset\r\nMIME-Version: 1\.0\r\nContent-Transfer-Encoding: quoted-printable\r\n/,
  );
  assert.ok(/^[\x00-\x7f]*$/.test(text), 'only ASCII added, the octets quoted-printable');
  assert.ok(text.includes('=F0=D2=C9'), 'the original octets, unchanged');
  assert.ok(text.includes('CAUTION: this message may be phishing.'), 'the English banner, whatever the language');
  // In HTML the banner keeps every language as character references.
  const html = Buffer.from('Content-Type: text/html; charset=x-unknown-charset\r\n\r\n<body>\xff</body>\r\n', 'latin1');
  const marked = insertBanner(html, russian).toString('latin1').replace(/=\r\n/g, ''); // QP soft breaks undone
  assert.ok(marked.includes('&#1042;&#1053;&#1048;&#1052;&#1040;&#1053;&#1048;&#1045;'), 'ВНИМАНИЕ as references');
  assert.match(marked, /charset=x-unknown-charset/);
  assert.ok(marked.includes('=FF</body>'));
});

test('a part whose transfer encoding we cannot read: the message is wrapped, nothing edited inside', async () => {
  const message = wire(`Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain
Content-Transfer-Encoding: x-uuencode

left alone
--b
Content-Type: text/html; charset=utf-8

<body>changed</body>
--b--
`);
  await assertWrapped(message, insertBanner(message, banner));
  const only = wire('Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nleft alone\n');
  await assertWrapped(only, insertBanner(only, banner));
});

test('a transfer encoding with a comment, a trailing ";" or no value is read as readers read it (RFC 2045 §6)', async () => {
  const encoded = Buffer.from('Your mailbox is full\r\n').toString('base64');
  for (const [field, body] of [
    ['base64 (encoded)', encoded],
    ['quoted-printable;', 'Your mailbox is full=\r\n'],
    ['', 'Your mailbox is full'],
  ] as const) {
    const message = wire(`Content-Type: text/plain\nContent-Transfer-Encoding: ${field}\n\n${body}\n`);
    const parsed = await parseMessage(insertBanner(message, banner));
    assert.ok(parsed.text.startsWith(banner.text), field);
    assert.match(parsed.text, /Your mailbox is full/, field);
  }
});

test('UTF-7, UTF-32 and stateful charsets are not relabelled UTF-8: the message is wrapped, its bytes kept', async () => {
  const cases: [charset: string, bytes: Buffer][] = [
    ['utf-7', Buffer.from('+BB8EQAQ4BDIENQRC-\r\n')],
    ['iso-2022-kr', Buffer.from('\x1b$)C\x0e>H3gGO<<?d\x0f\r\n', 'latin1')],
    ['hz-gb-2312', Buffer.from('~{Dc:CJ@=g~}\r\n')],
    ['utf-32', Buffer.from('\0\0\0H\0\0\0i', 'latin1')],
  ];
  for (const [charset, bytes] of cases) {
    const message = Buffer.concat([wire(`Content-Type: text/plain; charset=${charset}\n\n`), bytes]);
    const out = insertBanner(message, banner);
    await assertWrapped(message, out);
    assert.match(out.toString('latin1'), new RegExp(`charset=${charset}`), 'the label stays with its bytes');
  }
});

test('UTF-16 follows its byte order mark, big-endian without one (RFC 2781 §4.3)', async () => {
  for (const bytes of [
    Buffer.from([0xfe, 0xff, 0, 0x48, 0, 0x69]),
    Buffer.from([0, 0x48, 0, 0x69]),
    Buffer.from([0xff, 0xfe, 0x48, 0, 0x69, 0]),
  ]) {
    const message = Buffer.concat([
      wire('Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n'),
      Buffer.from(`${bytes.toString('base64')}\r\n`),
    ]);
    const parsed = await parseMessage(insertBanner(message, banner));
    assert.ok(parsed.text.endsWith('Hi'), JSON.stringify(parsed.text.slice(-10)));
  }
});

test('signed multiparts are wrapped, not edited: the signature stays valid (RFC 1847)', async () => {
  const signed =
    wire(`Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=s

--s
Content-Type: text/plain

signed text
--s
Content-Type: application/pkcs7-signature

MIAGCSqGSIb3DQEHAqCAMIACAQEx
--s--
`);
  await assertWrapped(signed, insertBanner(signed, banner));
});

test('an encrypted message is left as it is: wrapped, readers could not decrypt it', () => {
  const encrypted = wire(`Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e

--e
Content-Type: application/pgp-encrypted

Version: 1
--e
Content-Type: application/octet-stream

-----BEGIN PGP MESSAGE-----
hQEMA
-----END PGP MESSAGE-----
--e--
`);
  assert.equal(insertBanner(encrypted, banner), encrypted);
  const smime = wire(`Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m
Content-Transfer-Encoding: base64

MIAGCSqGSIb3DQEHA6CAMIACAQAx
`);
  assert.equal(insertBanner(smime, banner), smime, 'S/MIME enveloped data (RFC 8551 §3.3) too');
});

test('an encrypted part beside the text a reader shows does not keep the banner out of that text', async () => {
  const message = wire(`Content-Type: multipart/alternative; boundary=a

--a
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e

--e
Content-Type: application/pgp-encrypted

Version: 1
--e--
--a
Content-Type: text/html; charset=utf-8

<p>Your mailbox is full</p>
--a--
`);
  const out = insertBanner(message, banner);
  assert.notEqual(out, message);
  const parsed = await parseMessage(out);
  assert.match(`${parsed.text}\n${parsed.html}`, /may be phishing/, 'wrapped: the banner is its first part');
});

test('nesting deeper than 32 is wrapped, without error', async () => {
  let body = 'Content-Type: text/plain\r\n\r\ndeep\r\n';
  for (let i = 0; i < 40; i++)
    body = `Content-Type: multipart/mixed; boundary=n${i}\r\n\r\n--n${i}\r\n${body}--n${i}--\r\n`;
  const message = Buffer.from(body);
  await assertWrapped(message, insertBanner(message, banner));
});

test('a large message is handled in bounded time', () => {
  const big = Buffer.concat([
    wire('Content-Type: text/plain\n\n'),
    Buffer.alloc(20 * 1024 * 1024, 'All work and no play makes Jack a dull boy.\r\n'),
  ]);
  const started = performance.now();
  const out = insertBanner(big, banner);
  assert.ok(out.length > big.length);
  assert.ok(performance.now() - started < 15_000);
});

test('multipart/alternative: the banner goes into the last plain and the last HTML alternative only', () => {
  // A reader shows one alternative (RFC 2046 §5.1.4); 20,000 empty ones must not each get a banner.
  const empty = '--b\nContent-Type: text/html\n\n<p>x</p>\n'.repeat(20_000);
  const message = wire(`From: a@example.com
Subject: many
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/plain

first plain
--b
Content-Type: text/html

<p>first html</p>
${empty}--b
Content-Type: text/html

<p>last html</p>
--b--
`);
  const out = insertBanner(message, banner);
  assert.ok(out.length < message.length + 20_000, `grew from ${message.length} to ${out.length}`);
  const text = out.toString('latin1');
  const parts = text.split('\r\n--b\r\n');
  const marked = parts.map((part, i) => [i, part.includes('may be phishing')] as const).filter(([, m]) => m);
  // The first plain part (part 1, the only plain one), and the last HTML part, not the first HTML.
  assert.deepEqual(
    marked.map(([i]) => i),
    [1, parts.length - 1],
  );
  assert.match(parts.at(-1) ?? '', /may be phishing[\s\S]*last html/);
  assert.doesNotMatch(parts[2] ?? '', /may be phishing/);
});

test('the HTML banner goes after the real <body>, not one the sender hid in a comment, <style>, <title> or an attribute', async () => {
  const hidden = [
    '<!-- <body> -->',
    '<style>/* <body> */ p { color: red }</style>',
    '<title>Your <body> is ready</title>',
    '<script>document.write("<body>")</script>',
    '<meta name="x" content="<body>">',
    '<template><body></template>',
  ];
  for (const trick of hidden) {
    const message = wire(`From: a@example.com
Subject: hidden
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head>${trick}</head><BODY class="main"><p>Your mailbox is full</p></BODY></html>
`);
    const { html } = await parseMessage(insertBanner(message, banner));
    const bodyAt = html.indexOf('<BODY class="main">');
    const bannerAt = html.indexOf('may be phishing');
    assert.ok(bodyAt >= 0 && bannerAt > bodyAt, `${trick}: the banner is inside the real body`);
    assert.ok(html.indexOf('Your mailbox is full') > bannerAt, trick);
  }
});

test('the HTML banner goes where the browser opens the body (HTML 5 §13.2.6.4), never into hidden markup', () => {
  const at = (html: string, before: string) => {
    const start = bodyStart(html);
    assert.equal(start, html.indexOf(before), `${html} → ${start}`);
  };
  // A <body> written after the body opened implicitly is no body: the banner goes before the <div>.
  at('<div style="display:none"><body></div><p>Your mailbox is full</p>', '<div');
  // <!--> is a whole comment: the <body> after it is the real one.
  at('<!--><body><p>x</p><div hidden>--><body></div>', '<p>x');
  at('<html><head><template><body></template></head><body><p>x</p>', '<p>x');
  at('<!DOCTYPE html><p>Your mailbox</p>', '<p>'); // after the DOCTYPE: the page keeps its mode
  at('<!DOCTYPE html>\n<html><head><title>t</title></head>\n<body>\n<p>x', '\n<p>x');
  at('  \n<p>x', '<p>x');
  at('Hello <body>x', 'Hello');
  at('<html><head><!-- a --!><body>x', 'x'); // --!> ends a comment too
  at('<html><head><meta charset=utf-8>--!><body>x', '--!>'); // outside one it is text
  // A review's cases, where a tokenizer of our own read otherwise than browsers:
  at(`<head><meta x'><body><div hidden>'><p>x`, '<div hidden>'); // a quote in an attribute name opens no value
  at('<body\v hidden>x', '<body\v'); // \v ends no tag name: an unknown element, which opens the body
  at('<script></script\v><body></script>x', 'x');
  at('<script><!--<script></script><body>--></script>x', 'x'); // escaped script text
  at('<template><!--</template>--></template><body>x', 'x');
  at('<head><noscript><div style="display:none"></noscript><body></div>x', '<div'); // scripting off, as mail readers
  // Text inside a <table> is moved before it (foster parenting): the banner goes before the table.
  at('<table>hello<tr><td>x</td></tr></table>', '<table>');
  // A head longer than the first, short read: found in the second.
  at(`<head><style>${'p{}'.repeat(10_000)}</style></head><body>x`, 'x');
  // No body start to be found: the caller wraps the message instead.
  assert.equal(bodyStart('<frameset cols="50%"></frameset>'), undefined);
  assert.equal(bodyStart('<html><head><!-- never closed'), undefined);
  assert.equal(bodyStart('<html><head><script>never closed <p>x'), undefined);
  assert.equal(bodyStart(`<html><head><style>${'p{}'.repeat(100_000)}</style></head><body>x`), undefined);
});

test('HTML whose body start cannot be found is wrapped, not edited', async () => {
  for (const html of ['<html><head><!-- a body inside a comment <body>x', '<frameset cols="50%"></frameset>']) {
    const message = wire(`Content-Type: text/html; charset=utf-8\n\n${html}\n`);
    await assertWrapped(message, insertBanner(message, banner));
  }
});

test('8-bit text without a charset keeps its bytes; HTML naming its charset in <meta> is read in it', async () => {
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет" in windows-1251
  const plain = Buffer.concat([
    wire(
      'From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n',
    ),
    cp1251,
    wire('\n'),
  ]);
  const out = insertBanner(plain, banner);
  // Still 8bit, the same octets: not U+FFFD (EF BF BD), and no charset claimed for them.
  assert.ok(
    out.includes(Buffer.concat([Buffer.from('\r\n'), cp1251, Buffer.from('\r\n')])),
    'the Cyrillic bytes are as they were',
  );
  assert.ok(!out.includes(Buffer.from([0xef, 0xbf, 0xbd])));
  assert.doesNotMatch(out.toString('latin1'), /charset=utf-8/);
  assert.match(out.toString('latin1'), /Content-Transfer-Encoding: 8bit\r\n\r\nCAUTION: this message may be phishing/);
  const html = Buffer.concat([
    wire(
      'From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n' +
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head><body><p>',
    ),
    cp1251,
    wire('</p></body></html>\n'),
  ]);
  const bannered = insertBanner(html, banner);
  const parsed = await parseMessage(bannered);
  assert.match(parsed.html, /<p>Привет<\/p>/, 'read in the charset its <meta> names');
  assert.match(parsed.html, /charset=windows-1251"/, 'and written in it: the <meta> still says what the part is');
  assert.match(
    bannered.toString('latin1'),
    /\r\nContent-Type: text\/html; charset=windows-1251\r\n/,
    'Content-Type too',
  );
});

/** A message of one text part: these header fields, then the body. */
function onePart(fields: string, body: Buffer): Buffer {
  return Buffer.concat([wire(`From: a@example.com\nSubject: x\nMIME-Version: 1.0\n${fields}\n\n`), body]);
}

/** `line` repeated to about `size` octets, each time followed by CRLF. */
function lines(line: Buffer, size: number): Buffer {
  return Buffer.alloc(Math.floor(size / (line.length + 2)) * (line.length + 2), Buffer.concat([line, wire('\n')]));
}

test('a 5 MB part grows by at most 1.4×, whatever its text: 8bit stays 8bit, base64 past one escape in six', () => {
  const koi8 = Buffer.alloc(76, 0xf0); // "П" in KOI8-R and in windows-1251 ("р")
  const utf8 = Buffer.from('Привет, '.repeat(6));
  const cases: [string, Buffer][] = [
    [
      'KOI8-R 8bit',
      onePart('Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit', lines(koi8, 5e6)),
    ],
    [
      'windows-1251 without a transfer encoding',
      onePart('Content-Type: text/plain; charset=windows-1251', lines(koi8, 5e6)),
    ],
    [
      'UTF-8 Cyrillic 8bit',
      onePart('Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit', lines(utf8, 5e6)),
    ],
    // Lines longer than 8bit may carry (RFC 5322 §2.1.1): base64, not quoted-printable.
    [
      'UTF-8 Cyrillic, one long line',
      onePart('Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit', Buffer.alloc(5e6, utf8)),
    ],
    [
      'HTML in KOI8-R',
      onePart(
        'Content-Type: text/html; charset=koi8-r\nContent-Transfer-Encoding: 8bit',
        lines(Buffer.concat([Buffer.from('<p>'), koi8]), 5e6),
      ),
    ],
    ['ASCII', onePart('Content-Type: text/plain\nContent-Transfer-Encoding: 8bit', lines(Buffer.alloc(76, 'a'), 5e6))],
  ];
  const ru = warningBanner({ language: 'both', reasons });
  for (const [name, message] of cases) {
    const out = insertBanner(message, ru);
    assert.ok(out.length <= message.length * 1.4, `${name}: ${message.length} became ${out.length}`);
    const [part] = findBodyTextParts(out).parts;
    const text = part && decodeTextPart(out, part)?.text;
    assert.ok(text?.startsWith(part?.subtype === 'html' ? ru.html : ru.text.replace(/\n/g, '\r\n')), name);
  }
});

test('the 25 MB KOI8-R part of a phishing message costs the server little memory (it took over 1 GB)', () => {
  const script = `
    import { insertBanner, warningBanner } from ${JSON.stringify(new URL('../../../src/filter/actions/banner.ts', import.meta.url).href)};
    const line = Buffer.concat([Buffer.alloc(76, 0xf0), Buffer.from('\\r\\n')]);
    const body = Buffer.alloc(Math.floor((25 * 1024 * 1024 - 200) / 78) * 78, line);
    const message = Buffer.concat([Buffer.from('From: a@example.com\\r\\nContent-Type: text/plain; charset=koi8-r\\r\\nContent-Transfer-Encoding: 8bit\\r\\n\\r\\n'), body]);
    const before = process.resourceUsage().maxRSS;
    const out = insertBanner(message, warningBanner({ language: 'both', reasons: [] }));
    process.stdout.write(JSON.stringify({ in: message.length, out: out.length, before, peak: process.resourceUsage().maxRSS }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const measured = JSON.parse(child.stdout) as { in: number; out: number; before: number; peak: number };
  const { in: size, out, before, peak } = measured;
  assert.ok(out < size * 1.01, `${size} became ${out}`);
  // maxRSS, in KiB, is the most the process ever held: what the banner took on top of the message.
  // Quoted-printable of the text as UTF-8 took over 1 GB (45 times the message); now under 10.
  assert.ok((peak - before) * 1024 < 16 * size, `the banner took ${Math.round((peak - before) / 1024)} MiB`);
});

test('a banner that would take the message past maxSize (smtp.maxMessageSize) wraps it instead', async () => {
  const message = onePart(
    'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit',
    lines(Buffer.from('Привет, '.repeat(6)), 100_000),
  );
  const edited = insertBanner(message, banner, { maxSize: message.length + 10_000 });
  assert.match(edited.toString('latin1'), /^Content-Type: text\/plain; charset=utf-8\r$/m, 'edited in place');
  const wrapped = insertBanner(message, banner, { maxSize: message.length + 100 });
  await assertWrapped(message, wrapped);
  assert.ok(wrapped.length < message.length + 1024);
});

/** The filter as the server runs it, phishing from a score of 1 up. */
async function phishingFilter(t: { after(fn: () => void): void }, domain: string, maxMessageSize?: number) {
  const config = parseConfig(
    { domains: [domain], filter: { phishing: { thresholds: { warn: 1, junk: 90, quarantine: 95, reject: 99 } } } },
    'test',
  );
  const filter = await ContentFilter.create({
    config: config.filter,
    localDomains: config.domains,
    hostname: `mx.${domain}`,
    logger: createLogger('silent'),
    ...(maxMessageSize !== undefined ? { maxMessageSize } : {}),
  });
  t.after(() => filter.stop());
  return async (content: Buffer): Promise<Buffer> => {
    const envelope = {
      id: 'T1',
      greeting: 'EHLO',
      helo: 'out.paypa1.com',
      mailFrom: { address: 'service@paypa1.com', localPart: 'service', domain: 'paypa1.com' },
      declaredSize: undefined,
      body: '8BITMIME',
      smtputf8: false,
      recipients: [],
    } as unknown as Envelope;
    const outcome = await filter.filter({ envelope, peer: testPeer(), content, external: true });
    assert.equal(outcome.action, 'deliver');
    return outcome.action === 'deliver' ? Buffer.from(outcome.content) : content;
  };
}

const bankLure = () => fs.readFileSync(new URL('../../corpus/phishing/en/bank-01.eml', import.meta.url));

test('the server passes smtp.maxMessageSize to the banner: a message it would take past that is wrapped', async (t) => {
  const raw = bankLure();
  const roomy = await (await phishingFilter(t, 'example.com', raw.length + 10_000))(raw);
  assert.doesNotMatch(roomy.toString('latin1'), /boundary="=_postern_/, 'edited in place');
  assert.match(roomy.toString('latin1'), /may be phishing/);
  const tight = await (await phishingFilter(t, 'example.com', raw.length + 300))(raw);
  assert.match(tight.toString('latin1'), /boundary="=_postern_/, 'wrapped');
});

test('a second Postern on the way adds no second banner; a different one still goes on top', async (t) => {
  const count = async (m: Buffer) => {
    const { text, html } = await parseMessage(m);
    return `${text}\n${html}`.split('may be phishing').length - 1;
  };
  const hopA = await (await phishingFilter(t, 'a.example'))(bankLure());
  const hopB = await (await phishingFilter(t, 'b.example'))(hopA);
  assert.equal(await count(hopA), 2, 'the plain and the HTML alternative');
  assert.equal(await count(hopB), 2);
  for (const message of [
    plainMessage,
    wire('Content-Type: text/html\n\n<p>Hi</p>\n'),
    wire('Content-Type: image/png\n\nx\n'),
  ]) {
    const once = insertBanner(message, banner);
    assert.equal(insertBanner(once, banner), once, 'the same banner, reasons and all: left as it is');
  }
  // A sender's copy of our wording with reasons of its own keeps ours out no more than before.
  const other = warningBanner({ language: 'en', reasons: [{ en: 'Checked by your IT department', ru: '-' }] });
  const twice = insertBanner(insertBanner(plainMessage, other), banner);
  assert.equal(await count(twice), 2);
  assert.ok((await parseMessage(twice)).text.startsWith(banner.text));
});

test('an inner multipart never closed, its last delimiter right before the outer one: the banner goes into its text', async () => {
  // RFC 2046 §5.1.1: the CRLF before "--o" is the outer delimiter's, so "--i" ends the inner multipart
  // with no line end after it. The banner part had been written straight after it ("--iContent-Type:"),
  // the HTML running on into raw fields and encoded text, and each Postern after added another.
  const html = '<html><body><p>Verify your account</p></body></html>';
  const message = wire(
    'From: it@example.net\nSubject: Your mailbox is full\nMIME-Version: 1.0\n' +
      'Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n' +
      `--i\nContent-Type: text/html; charset=utf-8\n\n${html}\n--i\n--o--\n`,
  );
  const both = warningBanner({ language: 'both', reasons });
  const out = insertBanner(message, both);
  const raw = out.toString('latin1');
  assert.doesNotMatch(raw, /--i[^\r\n]/, 'nothing written on a delimiter line');
  assert.ok(raw.endsWith('\r\n--i\r\n--o--\r\n'), raw.slice(-80));
  const read = await parseMessage(out);
  assert.equal(read.html, `<html><body>${both.html}<p>Verify your account</p></body></html>`);
  assert.doesNotMatch(`${read.text}\n${read.html}`, /Content-Type|Content-Transfer-Encoding/);
  assert.equal(insertBanner(out, both), out, 'a second Postern adds no second banner');
});

test('a later alternative a reader may show instead (text/enriched, a calendar): the message is wrapped', async () => {
  for (const last of [
    'text/enriched\n\n<bold>Your account is limited.</bold>',
    'text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR',
  ]) {
    const message = wire(`From: PayPal <service@paypa1.com>
Subject: Account limited
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain

Your account is limited.
--b1
Content-Type: text/html

<p>Your account is limited.</p>
--b1
Content-Type: ${last}
--b1--
`);
    await assertWrapped(message, insertBanner(message, banner));
  }
});

test('multipart/related: the banner goes into the root its start parameter names (RFC 2387 §3.2)', async () => {
  const message = wire(`From: a@example.com
Subject: x
MIME-Version: 1.0
Content-Type: multipart/related; boundary="r"; type="text/html"; start="<root@x>"

--r
Content-Type: image/png
Content-ID: <logo@x>

iVBORw0KGgo=
--r
Content-Type: text/plain
Content-ID: <decoy@x>

decoy, shown to nobody
--r
Content-Type: text/html
Content-ID: <root@x>

<html><body><p>Pay here</p></body></html>
--r--
`);
  const out = insertBanner(message, banner).toString('latin1');
  assert.match(out, /Content-ID: <root@x>\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><body><table/);
  assert.match(out, /\r\n\r\ndecoy, shown to nobody\r\n/, 'the decoy stays as it was');
  // Without start, or naming no part, the first part that holds text is the body, as before.
  for (const start of ['', '; start="<none@x>"']) {
    const first = wire(
      `Content-Type: multipart/related; boundary="r"${start}\n\n--r\nContent-Type: text/html\n\n<p>first</p>\n--r\nContent-Type: text/plain\n\nsecond\n--r--\n`,
    );
    const parts = findBodyTextParts(first).parts;
    assert.deepEqual(
      parts.map((p) => p.subtype),
      ['html'],
    );
  }
  // A root that is not the first part: the first part gets it too, for readers that ignore start.
  const both = wire(
    'Content-Type: multipart/related; boundary="r"; start=root@x\n\n--r\nContent-Type: text/plain\n\nfirst\n--r\nContent-Type: text/html\nContent-ID: <root@x>\n\n<p>root</p>\n--r--\n',
  );
  assert.deepEqual(
    findBodyTextParts(both).parts.map((p) => p.subtype),
    ['html', 'plain'],
  );
});

test('S/MIME encrypted without smime-type (RFC 8551 §3.2.2) is left as it came and still decrypts', (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) return t.skip('openssl is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-smime-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=bob@example.com',
    '-days',
    '1',
    '-keyout',
    file('key.pem'),
    '-out',
    file('cert.pem'),
  );
  fs.writeFileSync(file('inner.txt'), 'Content-Type: text/plain\r\n\r\nThe secret report.\r\n');
  openssl('smime', '-encrypt', '-aes256', '-in', file('inner.txt'), '-out', file('enc.eml'), file('cert.pem'));
  const encrypted = fs.readFileSync(file('enc.eml'), 'latin1');
  assert.match(encrypted, /smime-type=enveloped-data/);
  // As older agents write it: application/x-pkcs7-mime; name=smime.p7m, no smime-type.
  const bare = Buffer.from(
    `From: a@evil.example\r\nSubject: enc\r\n${encrypted.replace(/\r?\n/g, '\r\n').replace(/ ?smime-type=enveloped-data;/, '')}`,
    'latin1',
  );
  assert.doesNotMatch(bare.toString('latin1'), /smime-type/);
  const out = insertBanner(bare, banner);
  assert.equal(out, bare, 'left as it came');
  fs.writeFileSync(file('out.eml'), out);
  openssl('smime', '-decrypt', '-in', file('out.eml'), '-inkey', file('key.pem'), '-out', file('dec.txt'));
  assert.match(fs.readFileSync(file('dec.txt'), 'utf8'), /The secret report\./);
  // Signed data and certificates a reader shows without a key: wrapped, as before.
  for (const type of ['signed-data', 'certs-only']) {
    const signed = wire(
      `Content-Type: application/pkcs7-mime; smime-type=${type}; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n`,
    );
    assert.match(insertBanner(signed, banner).toString('latin1'), /boundary="=_postern_/, type);
  }
});

test('x-user-defined text keeps its bytes and gets the ASCII banner, not private-use characters', () => {
  const bytes = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]);
  const message = onePart(
    'Content-Type: text/plain; charset="x-user-defined"\nContent-Transfer-Encoding: 8bit',
    Buffer.concat([bytes, wire('\n')]),
  );
  const ru = warningBanner({ language: 'both', reasons });
  const out = insertBanner(message, ru);
  assert.ok(out.includes(Buffer.concat([wire('\n\n'), bytes, wire('\n')])), out.toString('latin1'));
  assert.match(
    out.toString('latin1'),
    /Content-Type: text\/plain; charset="x-user-defined"\r\nContent-Transfer-Encoding: 8bit\r\n/,
  );
  assert.ok(out.includes(Buffer.from(ru.ascii.text.replace(/\n/g, '\r\n'))), 'the ASCII banner');
  assert.ok(!out.includes(Buffer.from([0xef, 0x9f])), 'no U+F7xx in UTF-8');
});

test('8-bit text with no Content-Type at all keeps its bytes and is not labelled UTF-8', () => {
  const bytes = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]);
  const message = Buffer.concat([wire('From: a@example.com\nSubject: x\n\n'), bytes, wire('\n')]);
  const out = insertBanner(message, banner).toString('latin1');
  assert.match(out, /\r\nContent-Type: text\/plain\r\n/);
  assert.doesNotMatch(out, /charset=utf-8/);
});

test('an empty or blank charset label names no charset: 8-bit text keeps its bytes and gets the ASCII banner', async (t) => {
  // "Grüße aus Köln" in ISO-8859-1: each ü, ß, ö had become U+FFFD (EF BF BD), read as UTF-8 non-fatally.
  const latin1 = Buffer.from('Grüße aus Köln, café crème.', 'latin1');
  for (const label of ['""', '" "', ' ""', '']) {
    const fields = `Content-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: 8bit`;
    const message = onePart(fields, Buffer.concat([latin1, wire('\n')]));
    const out = insertBanner(message, banner);
    assert.ok(
      out.includes(Buffer.concat([wire('\n\n'), latin1, wire('\n')])),
      `charset=${label}: ${out.toString('latin1')}`,
    );
    assert.ok(!out.includes(Buffer.from([0xef, 0xbf, 0xbd])), `charset=${label}: no U+FFFD`);
    assert.ok(
      out.includes(Buffer.from(banner.ascii.text.replace(/\n/g, '\r\n'))),
      `charset=${label}: the ASCII banner`,
    );
    assert.ok(out.includes(wire(`${fields}\n\n`)), `charset=${label}: its fields as they were`);
  }
  // As charset=x-unknown already was, and through the filter as the server runs it.
  const lure = onePart(
    'Content-Type: text/plain; charset=""\nContent-Transfer-Encoding: 8bit',
    Buffer.concat([latin1, wire('\nVerify your password now at http://192.0.2.7/login\n')]),
  );
  const filtered = await (await phishingFilter(t, 'example.com'))(
    Buffer.concat([wire('To: user@example.com\nMessage-ID: <cs@paypa1.com>\n'), lure]),
  );
  assert.match(filtered.toString('latin1'), /may be phishing/);
  assert.ok(filtered.includes(latin1), filtered.toString('latin1'));
  assert.ok(!filtered.includes(Buffer.from([0xef, 0xbf, 0xbd])));
  // Valid UTF-8 under a blank label is read as UTF-8 and labelled so; HTML goes by its <meta>.
  const utf8 = insertBanner(onePart('Content-Type: text/plain; charset=""', wire('plain ascii\n')), banner);
  assert.match(utf8.toString('latin1'), /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет"
  const html = insertBanner(
    onePart(
      'Content-Type: text/html; charset=""\nContent-Transfer-Encoding: 8bit',
      Buffer.concat([
        wire('<html><head><meta charset="windows-1251"></head><body><p>'),
        cp1251,
        wire('</p></body></html>\n'),
      ]),
    ),
    banner,
  );
  assert.match(html.toString('latin1'), /\r\nContent-Type: text\/html; charset=windows-1251\r\n/);
  assert.match((await parseMessage(html)).html, /<p>Привет<\/p>/);
});

test('Content-Type is rewritten as RFC 2045 §5.1 reads it: comments, folding and quoted strings stay intact', async () => {
  // The banner's “ ” are not in ISO-8859-1: the part becomes UTF-8 and only its charset's value changes.
  const latin1 = Buffer.from('Café crème\r\n', 'latin1');
  const cases: [string, string][] = [
    ['(comment) text/plain; charset=iso-8859-1', '(comment) text/plain; charset=utf-8'],
    ['text/plain;\n charset=\n iso-8859-1', 'text/plain;\r\n charset=\r\n utf-8'],
    [
      'text/plain; name="notes;charset=x.txt"; charset=iso-8859-1',
      'text/plain; name="notes;charset=x.txt"; charset=utf-8',
    ],
    ['text/plain (c); charset = iso-8859-1 (Latin 1)', 'text/plain (c); charset = utf-8 (Latin 1)'],
    ['text/plain; charset="iso-8859-1"; format=flowed', 'text/plain; charset=utf-8; format=flowed'],
    // RFC 2231 §3/§4 forms of the parameter go, so that no reader takes them for the new bytes' charset.
    ["text/plain; charset=iso-8859-1; charset*=utf-8''iso-8859-1; delsp=no", 'text/plain; charset=utf-8; delsp=no'],
    // No charset named and text that is UTF-8: the parameter is added after the type.
    ['text/plain; name="a (b).txt"', 'text/plain; charset=utf-8; name="a (b).txt"'],
    ['(c)', '(c) text/plain; charset=utf-8'],
  ];
  for (const [value, expected] of cases) {
    const body = value.includes('charset') ? latin1 : Buffer.from('Café crème\r\n', 'utf8');
    const message = onePart(`Content-Type: ${value}\nContent-Transfer-Encoding: 8bit`, body);
    const out = insertBanner(message, warningBanner({ language: 'en', reasons: [{ en: '“quoted”', ru: '-' }] }));
    const text = out.toString('latin1');
    assert.ok(text.includes(`\r\nContent-Type: ${expected}\r\n`), `${value}\n${text}`);
    assert.ok(out.includes(Buffer.from('Café crème', 'utf8')), `${value}: the text in UTF-8, as now labelled`);
  }
});
