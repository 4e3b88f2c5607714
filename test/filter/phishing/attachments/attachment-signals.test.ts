import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ZipFile } from 'yazl';
import { attachmentSignals } from '../../../../src/filter/phishing/attachments/attachment-signals.ts';
import { type MessageAttachment, parseMessage } from '../../../../src/mime/message.ts';

const fixtures = new URL('./fixtures/', import.meta.url);

async function zip(files: [name: string, content: string | Uint8Array][]): Promise<Uint8Array> {
  const z = new ZipFile();
  for (const [name, content] of files) z.addBuffer(Buffer.from(content), name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const chunk of z.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function file(
  filename: string,
  content: string | Uint8Array,
  contentType = 'application/octet-stream',
): MessageAttachment {
  return { filename, contentType, disposition: 'attachment', content: Buffer.from(content) };
}

/** "name:weight[evidence]" for each signal, sorted, so a table line states the whole outcome. */
async function signals(attachments: MessageAttachment[], text = '', subject = ''): Promise<string[]> {
  const got = await attachmentSignals({ attachments, text, subject });
  for (const s of got) {
    assert.equal(s.group, 'attachments');
    assert.ok(s.explanation.en.length > 40 && s.explanation.ru.length > 40, s.name);
    assert.match(s.explanation.ru, /[а-я]/);
  }
  return got.map((s) => `${s.name}:${s.weight}[${s.evidence}]`).sort();
}

function pe(): Uint8Array {
  const b = Buffer.alloc(0x80);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  return b;
}
const lnk = Buffer.from([0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0x00, 0, 0, 0, 0]);
const ole = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, ...Buffer.alloc(504)]);
const iso = Buffer.alloc(0x8800);
iso.write('CD001', 0x8001, 'latin1');
const sevenZip = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4, 0, 0]);

const singles: [label: string, attachment: MessageAttachment, want: string[]][] = [
  ['an .exe', file('setup.exe', pe()), ['executable-attachment:5[setup.exe]']],
  ['a .js by name', file('invoice.js', 'var x = 1;'), ['executable-attachment:5[invoice.js]']],
  ['a PE named .pdf', file('invoice.pdf', pe()), ['executable-attachment:5[invoice.pdf]']],
  ['a shell script', file('rotate', '#!/bin/sh\n'), ['executable-attachment:2[rotate]']],
  [
    'a double extension',
    file('invoice.pdf.exe', pe()),
    ['double-extension:4[invoice.pdf.exe]', 'executable-attachment:5[invoice.pdf.exe]'],
  ],
  [
    'spaces before .js',
    file('scan.docx   .js', 'x'),
    ['double-extension:4[scan.docx   .js]', 'executable-attachment:5[scan.docx   .js]'],
  ],
  [
    'an RLO name, shown with the control named',
    file('invoice\u202efdp.exe', pe()),
    ['double-extension:4[invoice[U+202E]fdp.exe]', 'executable-attachment:5[invoice[U+202E]fdp.exe]'],
  ],
  ['a .docm', file('letter.docm', 'PK'), ['macro-office:3[letter.docm]']],
  [
    'a legacy .doc with a VBA project',
    file('letter.doc', Buffer.concat([ole, Buffer.from('_VBA_PROJECT', 'utf16le')])),
    ['macro-office:3[letter.doc]'],
  ],
  [
    'an .html',
    file('statement.html', '<html><body>Your statement</body></html>'),
    ['html-attachment:3[statement.html]'],
  ],
  ['an .htm with a form', file('login.htm', '<form action="https://example.com/x">'), ['html-attachment:4[login.htm]']],
  ['HTML with a password field', file('a.html', '<input type="password" name=p>'), ['html-attachment:4[a.html]']],
  [
    'HTML decoding base64',
    file('b.html', '<script>document.write(atob("PGZvcm0+"))</script>'),
    ['html-attachment:4[b.html]'],
  ],
  [
    'HTML redirecting',
    file('c.shtml', '<script>window.location="https://example.net"</script>'),
    ['html-attachment:4[c.shtml]'],
  ],
  [
    'text/html without a name but as an attachment',
    { filename: '', contentType: 'text/html', disposition: 'attachment', content: Buffer.from('<p>hi</p>') },
    ['html-attachment:3[(text/html)]'],
  ],
  ['HTML named .pdf', file('doc.pdf', '<!DOCTYPE html><html>'), ['html-attachment:3[doc.pdf]']],
  [
    'an .svg',
    file('logo.svg', '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'),
    ['svg-attachment:3[logo.svg]'],
  ],
  ['an SVG with a script', file('fax.svg', '<svg><script>location="x"</script></svg>'), ['svg-attachment:4[fax.svg]']],
  ['an SVG with onload', file('img.svg', '<svg onload="go()"></svg>'), ['svg-attachment:4[img.svg]']],
  [
    'an SVG with foreignObject',
    file('f.svg', '<svg><foreignObject><form/></foreignObject></svg>'),
    ['svg-attachment:4[f.svg]'],
  ],
  [
    'SVG content named .png',
    file('logo.png', '<svg xmlns="http://www.w3.org/2000/svg"/>'),
    ['svg-attachment:3[logo.png]'],
  ],
  ['an .iso', file('order.iso', iso), ['disk-image-attachment:4[order.iso]']],
  ['ISO content named .jpg', file('photo.jpg', iso), ['disk-image-attachment:4[photo.jpg]']],
  ['a .vhd by name', file('disk.vhd', 'x'), ['disk-image-attachment:4[disk.vhd]']],
  ['an .lnk', file('invoice.lnk', lnk), ['shortcut-attachment:5[invoice.lnk]']],
  ['LNK content named .pdf', file('invoice.pdf', lnk), ['shortcut-attachment:5[invoice.pdf]']],
  ['a 7z archive', file('files.7z', sevenZip), ['unlistable-archive:1[files.7z]']],
  ['a damaged ZIP', file('files.zip', 'PK\x03\x04 truncated'), ['unlistable-archive:1[files.zip]']],
];
for (const [label, attachment, want] of singles) {
  test(label, async () => assert.deepEqual(await signals([attachment]), want));
}

const legit: [label: string, attachment: MessageAttachment][] = [
  ['a PDF', file('report.pdf', '%PDF-1.7\n...', 'application/pdf')],
  ['a JPEG', file('photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'image/jpeg')],
  ['a PNG', file('chart.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'image/png')],
  ['a calendar invitation', file('invite.ics', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n', 'text/calendar')],
  ['a vCard', file('contact.vcf', 'BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n', 'text/vcard')],
  ['an OpenPGP signature', file('signature.asc', '-----BEGIN PGP SIGNATURE-----\n', 'application/pgp-signature')],
  ['an S/MIME signature', file('smime.p7s', Buffer.from([0x30, 0x82, 0x05, 0x00]), 'application/pkcs7-signature')],
  ['a legacy .doc without macros', file('letter.doc', Buffer.concat([ole, Buffer.from('WordDocument', 'utf16le')]))],
  [
    'an inline HTML part without a name',
    { filename: '', contentType: 'text/html', disposition: 'inline', content: Buffer.from('<html><form>') },
  ],
];
for (const [label, attachment] of legit)
  test(`no signal: ${label}`, async () => assert.deepEqual(await signals([attachment]), []));

const ooxml = (extra: [string, string][] = []) =>
  zip([['[Content_Types].xml', '<Types/>'], ['word/document.xml', '<w:document/>'], ...extra]);

test('no signal: a .docx and an .xlsx without macros, a ZIP of PDFs', async () => {
  const pdfs = await zip([
    ['scans/a.pdf', '%PDF-1.4'],
    ['scans/b.pdf', '%PDF-1.4'],
  ]);
  assert.deepEqual(
    await signals([file('letter.docx', await ooxml()), file('book.xlsx', await ooxml()), file('scans.zip', pdfs)]),
    [],
  );
});

test('an OOXML file with a VBA project is a macro document whatever its extension', async () => {
  const docx = await ooxml([['word/vbaProject.bin', 'x']]);
  assert.deepEqual(await signals([file('letter.docx', docx)]), ['macro-office:3[letter.docx]']);
});

test('an archive with a program, a shortcut or a disguised name inside, nested one level', async () => {
  const inner = await zip([['invoice.lnk', 'x']]);
  const outer = await zip([
    ['readme.txt', 'hi'],
    ['docs/inner.zip', inner],
  ]);
  assert.deepEqual(await signals([file('docs.zip', outer)]), [
    'risky-archive-content:5[docs.zip → docs/inner.zip → invoice.lnk]',
  ]);
  assert.deepEqual(await signals([file('a.zip', await zip([['payment.pdf.scr', 'x']]))]), [
    'risky-archive-content:5[a.zip → payment.pdf.scr]',
  ]);
  assert.deepEqual(await signals([file('b.zip', await zip([['page.html', '<p>']]))]), [
    'risky-archive-content:3[b.zip → page.html]',
  ]);
});

test('the strongest finding stands for each name, once per message', async () => {
  const a = await zip([
    ['page.html', '<p>'],
    ['tool.exe', 'MZ'],
  ]);
  const got = await signals([file('a.zip', a), file('one.exe', pe()), file('two.exe', pe())]);
  assert.deepEqual(got, ['executable-attachment:5[one.exe]', 'risky-archive-content:5[a.zip → tool.exe]']);
});

test('a password-protected ZIP (zip -P) is 2.0, and 4.0 when the message gives the password', async () => {
  const encrypted = file('report.zip', await readFile(new URL('encrypted.zip', fixtures)));
  for (const text of [
    'Please find the report attached.',
    'A password is required to open it.',
    'Your password expires',
  ]) {
    assert.deepEqual(await signals([encrypted], text), ['encrypted-archive:2[report.zip]'], text);
  }
  const texts = [
    'Password: 1234',
    'пароль: 1234',
    'Пароль для архива 2024',
    'pwd 5521',
    'The password for the archive is qwerty',
  ];
  for (const text of texts) {
    assert.deepEqual(await signals([encrypted], text), ['encrypted-archive:4[report.zip]'], text);
  }
  assert.deepEqual(await signals([encrypted], '', 'Документы, пароль от архива — 7781'), [
    'encrypted-archive:4[report.zip]',
  ]);
});

test('an encrypted ZIP still shows its names: a program inside is risky too', async () => {
  const z = file('pay.zip', await readFile(new URL('encrypted-exe.zip', fixtures)));
  assert.deepEqual(await signals([z], 'pass: 77x1'), [
    'encrypted-archive:4[pay.zip]',
    'risky-archive-content:5[pay.zip → payment.pdf.exe]',
  ]);
});

test('an archive we cannot open is encrypted when the message gives a password', async () => {
  assert.deepEqual(await signals([file('files.7z', sevenZip)], 'Пароль: 5555'), ['encrypted-archive:4[files.7z]']);
  const rar5 = Buffer.from([...Buffer.from('Rar!\x1a\x07\x01\x00', 'latin1'), 0, 0, 0, 0, 12, 4]);
  assert.deepEqual(await signals([file('scan.rar', rar5)]), ['encrypted-archive:2[scan.rar]']);
});

test('html-attachment hints at the password mask; the others name no mask', async () => {
  const got = await attachmentSignals({
    attachments: [file('a.html', '<form>'), file('b.exe', pe())],
    text: '',
    subject: '',
  });
  assert.deepEqual(got.find((s) => s.name === 'html-attachment')?.categories, { password: 0.5 });
  assert.equal(got.find((s) => s.name === 'executable-attachment')?.categories, undefined);
});

test('the explanations say what was seen, in English and Russian', async () => {
  const [s] = await attachmentSignals({ attachments: [file('invoice.pdf.exe', 'x')], text: '', subject: '' });
  assert.ok(s);
  assert.equal(s.name, 'double-extension');
  assert.equal(
    s.explanation.en,
    'The file name “invoice.pdf.exe” hides its real type: it looks like a document, but it is a .exe file.',
  );
  assert.equal(
    s.explanation.ru,
    'Имя файла «invoice.pdf.exe» скрывает его настоящий тип: файл выглядит как документ, а на деле это .exe.',
  );
});

test('empty and garbage attachments never throw', async () => {
  const junk = [file('', ''), file('x.zip', ''), file('x.rar', 'Rar!\x1a\x07'), file('y.gz', '\x1f\x8b\x08\x08')];
  assert.deepEqual(await signals(junk), ['unlistable-archive:1[x.rar]']); // a RAR signature, nothing more
});

test('end to end: a parsed message with a ZIP holding a script', async () => {
  const z = Buffer.from(await zip([['Invoice_2026.js', 'WScript.Shell']])).toString('base64');
  const eml = [
    'From: billing@example.com',
    'To: user@example.org',
    'Subject: Invoice',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Please see the invoice attached.',
    '--b',
    'Content-Type: application/zip; name="Invoice_2026.zip"',
    'Content-Disposition: attachment; filename="Invoice_2026.zip"',
    'Content-Transfer-Encoding: base64',
    '',
    z,
    '--b--',
    '',
  ].join('\r\n');
  const m = await parseMessage(Buffer.from(eml));
  assert.deepEqual(await signals(m.attachments, m.text, m.subject), [
    'risky-archive-content:5[Invoice_2026.zip → Invoice_2026.js]',
  ]);
});
