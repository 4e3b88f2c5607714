/** Attachment names: every name a part gives, control characters, names shown as text, Outlook's blocked list, EPUB and ODF parts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZipFile } from 'yazl';
import { deceptiveName, extensionOf, kindByName } from '../../../../src/filter/phishing/attachments/file-types.ts';
import { type MessageAttachment, parseMessageSync } from '../../../../src/mime/message.ts';
import { file, pe, signals, zip } from './attachment-helpers.ts';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** The attachments of a message with one part after a text body. */
function attachmentsOf(part: string): MessageAttachment[] {
  return parseMessageSync(
    wire(
      `Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nSee attached.\n--b\n${part}\n--b--\n`,
    ),
  ).attachments;
}

test('a program or script sent as an inline text part is judged; named body parts are not web-page attachments', async () => {
  const program = pe().toString('base64');
  const cases: [label: string, part: string, want: string[]][] = [
    [
      'a PE as text/plain, inline, named setup.exe',
      `Content-Type: text/plain; name="setup.exe"\nContent-Disposition: inline; filename="setup.exe"\nContent-Transfer-Encoding: base64\n\n${program}`,
      ['executable-attachment:5[setup.exe]'],
    ],
    [
      'a PE as text/plain, inline, named like the text it claims to be',
      `Content-Type: text/plain\nContent-Disposition: inline; filename="notes.txt"\nContent-Transfer-Encoding: base64\n\n${program}`,
      ['executable-attachment:5[notes.txt]'],
    ],
    [
      'a VBScript',
      'Content-Type: text/plain\nContent-Disposition: inline; filename="invoice.vbs"\n\nCreateObject("WScript.Shell")',
      ['executable-attachment:5[invoice.vbs]'],
    ],
    [
      'a JScript',
      'Content-Type: text/plain\nContent-Disposition: inline; filename="invoice.js"\n\nvar s = 1;',
      ['executable-attachment:5[invoice.js]'],
    ],
    [
      'an HTA as text/html',
      'Content-Type: text/html; name="invoice.hta"\nContent-Disposition: inline; filename="invoice.hta"\n\n<html><script>x()</script></html>',
      ['executable-attachment:5[invoice.hta]'],
    ],
    [
      'a body named message.html',
      'Content-Type: text/html; name="message.html"\nContent-Disposition: inline; filename="message.html"\n\n<html><form action="x"></form></html>',
      [],
    ],
    [
      'a body named body.htm',
      'Content-Type: text/html\nContent-Disposition: inline; filename="body.htm"\n\n<p>hello</p>',
      [],
    ],
    [
      'a body named notes.txt',
      'Content-Type: text/plain\nContent-Disposition: inline; filename="notes.txt"\n\nhello',
      [],
    ],
    [
      'a body whose two names differ, a web page and text',
      'Content-Type: text/html; name="message.htm"\nContent-Disposition: inline; filename="message.txt"\n\n<p>hello</p>',
      [],
    ],
    [
      'a script shown as text (mutt attaches text inline)',
      'Content-Type: text/plain\nContent-Disposition: inline; filename="rotate.txt"\n\n#!/bin/sh\nlogrotate\n',
      [],
    ],
  ];
  for (const [label, part, want] of cases) assert.deepEqual(await signals(attachmentsOf(part)), want, label);
});

test('every name of a part is judged, and names of different kinds are a deception', async () => {
  const cases: [label: string, part: string, want: string[]][] = [
    [
      'name= on Content-Type against filename= on Content-Disposition',
      'Content-Type: application/octet-stream; name="evil.exe"\nContent-Disposition: attachment; filename="invoice.pdf"\n\nhello',
      ['double-extension:4[invoice.pdf / evil.exe]', 'executable-attachment:5[evil.exe]'],
    ],
    [
      'Content-Name',
      'Content-Type: application/octet-stream\nContent-Name: evil.exe\nContent-Disposition: attachment\n\nhello',
      ['executable-attachment:5[evil.exe]'],
    ],
    [
      'filename= on Content-Type',
      'Content-Type: application/octet-stream; filename="evil.exe"\n\nhello',
      ['executable-attachment:5[evil.exe]'],
    ],
    [
      'name= on Content-Disposition',
      'Content-Type: application/octet-stream\nContent-Disposition: attachment; name="evil.exe"\n\nhello',
      ['executable-attachment:5[evil.exe]'],
    ],
    [
      'Content-Name against filename=',
      'Content-Type: application/octet-stream\nContent-Name: invoice.html\nContent-Disposition: attachment; filename="invoice.pdf"\n\n%PDF-1.4',
      ['double-extension:4[invoice.pdf / invoice.html]', 'html-attachment:3[invoice.html]'],
    ],
    [
      'names of ordinary kinds that differ are left alone',
      'Content-Type: image/jpeg; name="scan.jpg"\nContent-Disposition: attachment; filename="scan.pdf"\n\nhello',
      [],
    ],
  ];
  for (const [label, part, want] of cases) assert.deepEqual(await signals(attachmentsOf(part)), want, label);
});

test('a name cut into more RFC 2231 segments than are read still ends in its extension', async () => {
  const segments = Array.from({ length: 120 }, (_, i) => ` filename*${i}="a"`).join(';\n');
  const [attachment] = attachmentsOf(
    `Content-Type: application/octet-stream\nContent-Disposition: attachment;\n${segments};\n filename*120=".exe"\n\nhello`,
  );
  assert.ok(attachment?.filename.endsWith('.exe'), attachment?.filename);
  assert.deepEqual(
    (await signals([attachment!])).map((s) => s.replace(/\[.*\]/, '')),
    ['executable-attachment:5'],
  );
});

test('a control character in a name: judged where a C string ends, and a deception', async () => {
  assert.equal(extensionOf('evil.exe\0.pdf'), 'exe');
  assert.equal(kindByName('evil.exe\x01.pdf'), 'executable');
  assert.equal(deceptiveName('evil.exe\0.pdf'), 'control');
  assert.equal(deceptiveName('evil.exe\x7f.pdf'), 'control');
  // A tab is what unfolding leaves in a long quoted name: neither cut nor a deception.
  assert.equal(deceptiveName('Annual\treport.pdf'), undefined);
  assert.equal(kindByName('Annual\treport.pdf'), 'document');
  const [percent] = attachmentsOf(
    "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename*=utf-8''evil.exe%00.pdf\n\nhello",
  );
  assert.deepEqual(await signals([percent!]), [
    'double-extension:4[evil.exe[U+0000].pdf]',
    'executable-attachment:5[evil.exe[U+0000].pdf]',
  ]);
  assert.deepEqual(await signals([file('report\x07.pdf', '%PDF-1.4')]), ['double-extension:4[report[U+0007].pdf]']);
});

test("the extensions of Outlook's blocked list are judged", async () => {
  const programs = 'msu jnlp diagcab wsb hlp shs shb website theme ws htc msh mst cer ps2 psc1 printerexport';
  for (const ext of programs.split(' '))
    assert.deepEqual(await signals([file(`invoice.${ext}`, 'x')]), [`executable-attachment:5[invoice.${ext}]`], ext);
  assert.deepEqual(await signals([file('invoice.xnk', 'x')]), ['shortcut-attachment:5[invoice.xnk]']);
  for (const ext of 'mde accde ade adp'.split(' '))
    assert.deepEqual(await signals([file(`db.${ext}`, 'x')]), [`macro-office:3[db.${ext}]`], ext);
  // Scripts that need an interpreter weigh as `#!` scripts do.
  for (const ext of 'py pyw pl'.split(' '))
    assert.deepEqual(await signals([file(`tool.${ext}`, 'print(1)')]), [`executable-attachment:2[tool.${ext}]`], ext);
});

/** A ZIP whose first entry, "mimetype", is stored, or deflated as some writers do against the rule. */
async function packaged(mimetype: string, files: [string, string | Uint8Array][], deflate = false): Promise<Buffer> {
  const z = new ZipFile();
  z.addBuffer(Buffer.from(mimetype), 'mimetype', { compress: deflate });
  for (const [name, content] of files) z.addBuffer(Buffer.from(content), name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const chunk of z.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('an EPUB or OpenDocument file is not flagged for its own XHTML and SVG parts; a program inside still is', async () => {
  const epub = await packaged('application/epub+zip', [
    ['META-INF/container.xml', '<container/>'],
    ['OEBPS/chapter1.xhtml', '<html><body>Chapter</body></html>'],
    ['OEBPS/cover.svg', '<svg/>'],
  ]);
  assert.deepEqual(await signals([file('book.epub', epub, 'application/epub+zip')]), []);
  const deflated = await packaged('application/epub+zip', [['OEBPS/chapter1.xhtml', '<html/>']], true);
  assert.equal(deflated.readUInt16LE(8), 8, 'the first entry deflated');
  assert.deepEqual(await signals([file('book.epub', deflated, 'application/epub+zip')]), []);
  const odt = await packaged('application/vnd.oasis.opendocument.text', [
    ['content.xml', '<office:document-content/>'],
    ['Pictures/10000001.svg', '<svg/>'],
  ]);
  assert.deepEqual(await signals([file('report.odt', odt, 'application/vnd.oasis.opendocument.text')]), []);
  const armed = await packaged('application/epub+zip', [
    ['OEBPS/chapter1.xhtml', '<html/>'],
    ['setup.exe', pe()],
  ]);
  assert.deepEqual(await signals([file('book.epub', armed)]), ['risky-archive-content:5[book.epub → setup.exe]']);
  // Without the mimetype entry first, the same parts are a ZIP's web pages.
  const plain = await zip([['OEBPS/chapter1.xhtml', '<html/>']]);
  assert.deepEqual(await signals([file('book.zip', plain)]), [
    'risky-archive-content:3[book.zip → OEBPS/chapter1.xhtml]',
  ]);
});
