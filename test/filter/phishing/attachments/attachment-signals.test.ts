import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { attachmentSignals } from '../../../../src/filter/phishing/attachments/attachment-signals.ts';
import { type MessageAttachment, parseMessage } from '../../../../src/mime/message.ts';
import { file, pe, signals, zip } from './attachment-helpers.ts';

const fixtures = new URL('./fixtures/', import.meta.url);

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
  [
    'a trailing dot, which Windows drops on saving',
    file('invoice.pdf.js.', 'WScript.Shell'),
    ['double-extension:4[invoice.pdf.js.]', 'executable-attachment:5[invoice.pdf.js.]'],
  ],
  ['a trailing dot and space', file('invoice.js. ', 'x'), ['executable-attachment:5[invoice.js. ]']],
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

test('a ZIP whose first thousand files use up the listing budget still shows the script after them', async () => {
  const files = Array.from({ length: 1000 }, (_, i) => [`empty${i}.txt`, ''] as [string, string]);
  const z = await zip([...files, ['invoice.js', 'WScript.Shell'], ['invoice.pdf.js.', 'x']]);
  assert.deepEqual(await signals([file('docs.zip', z)]), ['risky-archive-content:5[docs.zip → invoice.js]']);
  // A ZIP inside, past the budget, is not opened: the archive is partly unknown, not clean.
  const nested = await zip([...files, ['more.zip', await zip([['evil.exe', 'MZ']])]]);
  assert.deepEqual(await signals([file('docs.zip', nested)]), ['unlistable-archive:1[docs.zip]']);
});

test('a ZIP with bytes in front of it (a self-extractor layout) is listed, whatever its name', async () => {
  const z = await zip([['invoice.js', 'WScript.Shell']]);
  const prefixed = Buffer.concat([Buffer.alloc(128, 0x20), z]);
  assert.deepEqual(await signals([file('docs.zip', prefixed)]), ['risky-archive-content:5[docs.zip → invoice.js]']);
  const picture = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500), z]);
  assert.deepEqual(await signals([file('photo.jpg', picture, 'image/jpeg')]), [
    'risky-archive-content:5[photo.jpg → invoice.js]',
  ]);
  assert.deepEqual(await signals([file('member.zip', await zip([['invoice.pdf.js.', 'x']]))]), [
    'risky-archive-content:5[member.zip → invoice.pdf.js.]',
  ]);
});

/** A message with one attachment, as a forward attaches the original. */
function messageWith(attachment: string, name: string, type = 'application/octet-stream'): string {
  return [
    'From: a@example.com',
    'Subject: Fwd: invoice',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="inner"',
    '',
    '--inner',
    'Content-Type: text/plain',
    '',
    'See the invoice.',
    '--inner',
    `Content-Type: ${type}; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(attachment, 'latin1').toString('base64'),
    '--inner--',
    '',
  ].join('\r\n');
}

test('a forwarded message attached as message/rfc822 or as an .eml file has its attachments inspected', async () => {
  const forwarded = messageWith('WScript.Shell', 'invoice.js');
  assert.deepEqual(await signals([file('', forwarded, 'message/rfc822')]), [
    'executable-attachment:5[(message/rfc822) → invoice.js]',
  ]);
  assert.deepEqual(await signals([file('fwd.eml', forwarded)]), ['executable-attachment:5[fwd.eml → invoice.js]']);
  assert.deepEqual(await signals([file('letter.eml', pe())]), ['executable-attachment:5[letter.eml]']);
  // Through a parsed message, as the detector gets it.
  const outer = messageWith(forwarded, 'Invoice.eml', 'message/rfc822');
  const m = await parseMessage(Buffer.from(outer));
  assert.deepEqual(await signals(m.attachments, m.text, m.subject), [
    'executable-attachment:5[Invoice.eml → invoice.js]',
  ]);
  // A password given in the forwarded text opens the case against the archive beside it.
  const encrypted = (await readFile(new URL('encrypted.zip', fixtures))).toString('latin1');
  const withPassword = messageWith(encrypted, 'report.zip').replace('See the invoice.', 'Password: 7781');
  assert.deepEqual(await signals([file('fwd.eml', withPassword)]), ['encrypted-archive:4[fwd.eml → report.zip]']);
});

test('messages inside messages are opened three deep, no deeper', async () => {
  let nested = messageWith('WScript.Shell', 'invoice.js');
  for (let depth = 1; depth < 3; depth++) nested = messageWith(nested, `level${depth}.eml`, 'message/rfc822');
  assert.deepEqual(await signals([file('top.eml', nested)]), [
    'executable-attachment:5[top.eml → level2.eml → level1.eml → invoice.js]',
  ]);
  assert.deepEqual(await signals([file('top.eml', messageWith(nested, 'level3.eml', 'message/rfc822'))]), []);
});

test('the archive-password search takes linear time, also on 400 KB of "pass-"', async () => {
  const text = `x ${'pass-'.repeat(80_000)}`;
  const encrypted = file('report.zip', await readFile(new URL('encrypted.zip', fixtures)));
  const start = performance.now();
  assert.deepEqual(await signals([encrypted], text), ['encrypted-archive:2[report.zip]']);
  assert.deepEqual(await signals([], text), []);
  assert.deepEqual(await signals([encrypted], `${'password '.repeat(40_000)}: ${' '.repeat(100_000)}x`), [
    'encrypted-archive:2[report.zip]',
  ]);
  const ms = performance.now() - start;
  assert.ok(ms < 500, `${ms} ms`);
  assert.deepEqual(await signals([encrypted], `${'pass-'.repeat(1000)} password: 7781`), [
    'encrypted-archive:4[report.zip]',
  ]);
});
