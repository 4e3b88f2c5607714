import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { parseConfig } from '../../../../src/config/load.ts';
import { readPdf } from '../../../../src/filter/phishing/attachments/pdf-content.ts';
import { scanMessage, scanSettings } from '../../../../src/filter/phishing/scan.ts';
import { Random } from '../../../support/fuzz-input.ts';

/** A PDF of numbered objects, each a dictionary and, when given, stream data (ISO 32000-1 §7.5). */
function pdf(objects: { dict: string; stream?: Buffer | string }[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  objects.forEach((o, i) => {
    parts.push(Buffer.from(`${i + 1} 0 obj\n${o.dict}\n`, 'latin1'));
    if (o.stream !== undefined) {
      parts.push(Buffer.from('stream\n'), Buffer.from(o.stream as string | Buffer), Buffer.from('\nendstream\n'));
    }
    parts.push(Buffer.from('endobj\n'));
  });
  parts.push(Buffer.from('trailer\n<< /Root 1 0 R >>\n%%EOF\n'));
  return Buffer.concat(parts);
}

const page = (content: string, filter = '') => [
  { dict: '<< /Type /Catalog /Pages 2 0 R >>' },
  { dict: '<< /Type /Pages /Kids [3 0 R] /Count 1 >>' },
  { dict: '<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>' },
  filter === ''
    ? { dict: `<< /Length ${content.length} >>`, stream: content }
    : { dict: `<< /Filter /FlateDecode >>`, stream: deflateSync(Buffer.from(content, 'latin1')) },
];

test('text of Tj, TJ, \' and " operators, a line per text line; strings with escapes, octal codes and nested parentheses', () => {
  const content = [
    'BT /F1 12 Tf 72 700 Td (Your account \\(ID 42\\) is locked) Tj',
    'T* [(Ver) -20 (ify) 15 ( now)] TJ',
    "(next line) '",
    '0 0 (and \\101\\102C\\\nD) "',
    '% a comment (not shown) Tj',
    'T* <48656C6C6F> Tj',
    'T* (an unknown escape \\q keeps its q) Tj',
    'ET',
  ].join('\n');
  const text =
    'Your account (ID 42) is locked\nVerify now\nnext line\nand ABCD\nHello\nan unknown escape q keeps its q';
  assert.deepEqual(readPdf(pdf(page(content))), { text, links: [] });
  assert.deepEqual(readPdf(pdf(page(content, 'flate'))), { text, links: [] }, 'the same, FlateDecode-compressed');
});

test('marked content (tagged PDFs, as word processors write them) and inline dictionaries do not stop the reading', () => {
  const content =
    '/P <</MCID 0 >>BDC BT /F1 12 Tf (Invoice overdue) Tj ET EMC\n/Span <</ActualText <FEFF> >> BDC BT (pay today) Tj ET EMC';
  assert.deepEqual(readPdf(pdf(page(content, 'flate'))), { text: 'Invoice overdue\npay today', links: [] });
});

test('link targets of URI actions, in plain objects and in a compressed object stream, once each', () => {
  const annotation = '<< /Type /Annot /Subtype /Link /A << /S /URI /URI (http://192.0.2.7/login) >> >>';
  const objects = [
    ...page('BT (Open the document) Tj ET'),
    { dict: annotation },
    {
      dict: '<< /Type /ObjStm /Filter /FlateDecode >>',
      stream: deflateSync(`<< /URI <not hex> >> ${annotation} << /URI <68747470733A2F2F782E6578616D706C652F> >>`),
    },
  ];
  assert.deepEqual(readPdf(pdf(objects)), {
    text: 'Open the document',
    links: ['http://192.0.2.7/login', 'https://x.example/'],
  });
});

test('what is not text: images, other filters, two-byte codes; a file that is not a PDF', () => {
  const objects = [
    ...page('BT <00410042> Tj (shown) Tj ET'),
    { dict: '<< /Subtype /Image /Filter /FlateDecode >>', stream: deflateSync('BT (in an image) Tj ET') },
    { dict: '<< /Filter /ASCIIHexDecode >>', stream: '425420286865782920546A204554>' },
  ];
  assert.deepEqual(readPdf(pdf(objects)), { text: 'shown', links: [] });
  assert.deepEqual(readPdf(Buffer.from('BT (not a pdf) Tj ET')), { text: '', links: [] });
});

test('bounded and total: a deflate bomb is cut at the budget, and random or cut input never throws', () => {
  const bomb = deflateSync(Buffer.alloc(50_000_000, 0x20));
  const started = performance.now();
  const read = readPdf(pdf([{ dict: '<< /Filter /FlateDecode >>', stream: bomb }, ...page('BT (after) Tj ET')]));
  assert.ok(performance.now() - started < 2000);
  assert.equal(read.text, '', 'the budget went on the bomb');
  // 500 stream keywords after 9 MB without a dictionary: a backward search per keyword took 2 s here.
  const keywords = Buffer.from(`%PDF-1.7\n${'x'.repeat(9_000_000)}${'stream\nendstream\n'.repeat(500)}`, 'latin1');
  const scanned = performance.now();
  assert.deepEqual(readPdf(keywords), { text: '', links: [] });
  assert.ok(performance.now() - scanned < 1000, 'stream keywords far from any dictionary: one pass');
  const unterminated = Buffer.from(`%PDF-1.7\n${'/URI ('.repeat(100_000)}${'/URI <'.repeat(100_000)}`, 'latin1');
  const opened = performance.now();
  assert.deepEqual(readPdf(unterminated), { text: '', links: [] });
  assert.ok(performance.now() - opened < 1000, 'unterminated link strings: one pass');
  const whole = pdf(page('BT (Pay now: http://198.51.100.9/pay) Tj ET', 'flate'));
  const random = new Random(7);
  for (let round = 0; round < 500; round++) {
    const bytes = Buffer.from(whole.subarray(0, random.int(whole.length + 1)));
    for (let edits = random.int(4); edits > 0; edits--) bytes[random.int(bytes.length)] = random.int(256);
    readPdf(bytes);
  }
});

test("the detector reads a PDF lure: its words and its links count as the body's", async () => {
  const lure = pdf(
    page(
      'BT (Your mailbox is full. Verify your password within 24 hours:) Tj T* (http://203.0.113.5/verify) Tj ET',
      'flate',
    ),
  );
  const message = Buffer.from(
    'From: IT Desk <desk@helpdesk-mail.example>\r\nTo: alice@example.com\r\nSubject: Document\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nPlease see the attached document.\r\n' +
      `--b\r\nContent-Type: application/pdf; name=notice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${lure.toString('base64')}\r\n--b--\r\n`,
  );
  const config = parseConfig({ domains: ['example.com'] }, 'test');
  const settings = scanSettings({ filter: config.filter, localDomains: config.domains, authservId: 'mx.example.com' });
  const report = await scanMessage(message, settings);
  const names = report.signals.map((s) => s.name);
  assert.ok(names.includes('ip-literal-link'), names.join(', '));
  assert.ok(names.includes('credential-request') || names.includes('urgency'), names.join(', '));
  const plain = Buffer.from(message.toString().replace(/--b\r\nContent-Type: application\/pdf[\s\S]*?(?=--b--)/, ''));
  const without = await scanMessage(plain, settings);
  assert.ok(report.score > without.score, `${report.score} with the PDF, ${without.score} without`);
});

test('interop: a PDF that Ghostscript writes (Debian ghostscript, ps2pdf) gives its text and its link', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-pdf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // PostScript with a pdfmark link annotation; pdfwrite compresses the page and embeds the font.
  const ps = [
    '%!PS',
    '/Helvetica findfont 14 scalefont setfont',
    '72 720 moveto (Your mailbox is full. Verify your password within 24 hours.) show',
    '72 700 moveto (Click here to keep your account active) show',
    '[ /Rect [72 690 400 715] /Border [0 0 0] /Action << /Subtype /URI /URI (http://203.0.113.5/verify) >> /Subtype /Link /ANN pdfmark',
    'showpage',
  ].join('\n');
  writeFileSync(path.join(dir, 'lure.ps'), ps);
  // A missing ps2pdf fails here: .ci/run installs ghostscript.
  execFileSync('ps2pdf', ['lure.ps', 'lure.pdf'], { cwd: dir, timeout: 30_000 });
  const written = readFileSync(path.join(dir, 'lure.pdf'));
  assert.match(written.toString('latin1'), /\/FlateDecode/, 'Ghostscript compressed the page');
  assert.deepEqual(readPdf(written), {
    text: 'Your mailbox is full. Verify your password within 24 hours.\nClick here to keep your account active',
    links: ['http://203.0.113.5/verify'],
  });
});
