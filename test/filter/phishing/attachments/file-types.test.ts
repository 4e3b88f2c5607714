import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ContentKind,
  deceptiveName,
  extensionOf,
  type FileKind,
  kindByContent,
  kindByName,
  oleHasMacros,
} from '../../../../src/filter/phishing/attachments/file-types.ts';

const names: [name: string, kind: FileKind][] = [
  ['setup.exe', 'executable'],
  ['SCREEN.SCR', 'executable'],
  ['invoice.js', 'executable'],
  ['run.vbs', 'executable'],
  ['update.ps1', 'executable'],
  ['page.hta', 'executable'],
  ['tool.jar', 'executable'],
  ['pkg.msix', 'executable'],
  ['fix.reg', 'executable'],
  ['start.bat', 'executable'],
  ['news.url', 'executable'],
  ['invoice.lnk', 'shortcut'],
  ['budget.xlsm', 'macro-office'],
  ['letter.docm', 'macro-office'],
  ['deck.ppsm', 'macro-office'],
  ['statement.html', 'html'],
  ['page.HTM', 'html'],
  ['logo.svg', 'svg'],
  ['disk.iso', 'disk-image'],
  ['disk.img', 'disk-image'],
  ['disk.vhdx', 'disk-image'],
  ['files.zip', 'archive'],
  ['files.rar', 'archive'],
  ['files.7z', 'archive'],
  ['files.r01', 'archive'],
  ['report.pdf', 'document'],
  ['report.docx', 'document'],
  ['photo.JPG', 'document'],
  ['invite.ics', 'document'],
  ['signature.asc', 'document'],
  ['smime.p7s', 'document'],
  ['README', 'other'],
  ['.exe', 'other'], // a dot file, no extension
];
for (const [name, kind] of names) test(`name ${name} → ${kind}`, () => assert.equal(kindByName(name), kind));

test('the extension is the last one, lower case, of the base name', () => {
  assert.equal(extensionOf('dir.d/Invoice.PDF.Exe'), 'exe');
  assert.equal(extensionOf('scan.docx   .js  '), 'js');
  assert.equal(extensionOf('noext'), '');
});

test('trailing dots and spaces are dropped, as Windows drops them when it saves the file', () => {
  assert.equal(extensionOf('invoice.pdf.js.'), 'js');
  assert.equal(extensionOf('invoice.js. '), 'js');
  assert.equal(extensionOf('invoice.js . . '), 'js');
  assert.equal(kindByName('invoice.js.'), 'executable');
  assert.equal(extensionOf('Notes...'), '');
});

test('a name of 200,000 spaces or dots is judged in linear time', () => {
  for (const filler of [' ', '.', '_']) {
    const start = performance.now();
    deceptiveName(`a${filler.repeat(200_000)}x.js`);
    deceptiveName(`a.pdf${filler.repeat(200_000)}.js${filler.repeat(200_000)}`);
    const ms = performance.now() - start;
    assert.ok(ms < 500, `${JSON.stringify(filler)}: ${ms} ms`);
  }
});

const disguises: [name: string, how: ReturnType<typeof deceptiveName>][] = [
  ['invoice.pdf.exe', 'double-extension'],
  ['scan.docx   .js', 'double-extension'],
  ['photo.jpg.scr', 'double-extension'],
  ['files.zip.lnk', 'double-extension'],
  ['statement.pdf.html', 'double-extension'],
  ['invoice\u202efdp.exe', 'bidi'], // RLO: shows as "invoiceexe.pdf"
  ['report\u2067exe.pdf\u2069', 'bidi'],
  [`payment${' '.repeat(40)}.exe`, 'padding'],
  ['payment   .exe', 'padding'],
  ['invoice.pdf.js.', 'double-extension'], // saved as invoice.pdf.js
  ['invoice.pdf.js . ', 'double-extension'],
  ['docs/invoice.pdf.exe.', 'double-extension'],
  ['invoice.pdf', undefined],
  ['jquery.min.js', undefined], // "min" is no document extension
  ['archive.tar.gz', undefined],
  ['report.final.docx', undefined],
  ['setup.exe', undefined],
  ['scan 2026 .pdf', undefined],
];
for (const [name, how] of disguises) {
  test(`disguise ${JSON.stringify(name)} → ${how}`, () => assert.equal(deceptiveName(name), how));
}

function bytes(...parts: (number[] | string)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

/** A minimal PE: "MZ", e_lfanew (0x3C) = 0x40, "PE\0\0" there (Microsoft PE format §3). */
function portableExecutable(): Uint8Array {
  const b = Buffer.alloc(0x80);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  return b;
}

function isoImage(id = 'CD001'): Uint8Array {
  const b = Buffer.alloc(0x8800);
  b[0x8000] = 1; // primary volume descriptor, ECMA-119 §8.4
  b.write(id, 0x8001, 'latin1');
  return b;
}

const contents: [label: string, content: Uint8Array, kind: ContentKind | undefined][] = [
  ['PE executable', portableExecutable(), 'executable'],
  [
    'bare MZ text',
    bytes('MZ is a postcode area in the file header of this text, which is long enough to pass 64 b.'),
    undefined,
  ],
  ['ELF', bytes([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), 'executable'],
  ['Mach-O 64', bytes([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]), 'executable'],
  ['shebang', bytes('#!/bin/sh\necho hi\n'), 'unix-script'],
  ['LNK', bytes([0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0x00, 0, 0, 0, 0]), 'shortcut'],
  ['ISO 9660', isoImage(), 'disk-image'],
  ['UDF', isoImage('BEA01'), 'disk-image'],
  ['VHDX', bytes('vhdxfile', [0, 0, 0, 0]), 'disk-image'],
  ['OLE', bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 'ole'],
  ['ZIP', bytes('PK\x03\x04'), 'zip'],
  ['RAR 5', bytes('Rar!\x1a\x07\x01\x00'), 'rar'],
  ['7z', bytes([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), '7z'],
  ['gzip', bytes([0x1f, 0x8b, 8, 0]), 'gzip'],
  ['CAB', bytes('MSCF\0\0\0\0'), 'archive'],
  ['PDF', bytes('%PDF-1.7\n'), 'document'],
  ['HTML', bytes('\xef\xbb\xbf\n  <!DOCTYPE html><html><body>x</body></html>'), 'html'],
  ['HTML, bare script', bytes('<script>location="https://example.com"</script>'), 'html'],
  ['SVG with prolog', bytes('<?xml version="1.0"?>\n<!-- logo -->\n<svg xmlns="http://www.w3.org/2000/svg"/>'), 'svg'],
  ['plain text', bytes('Hello, here is the agenda.\n'), undefined],
  ['PNG', bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), undefined],
  ['empty', new Uint8Array(0), undefined],
];
for (const [label, content, kind] of contents) {
  test(`content ${label} → ${kind}`, () => assert.equal(kindByContent(content), kind));
}

test('an OLE file naming the _VBA_PROJECT stream in UTF-16LE has macros; one without has none', () => {
  const ole = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
  const withVba = bytes(
    ole,
    Buffer.alloc(600).toString('latin1'),
    Buffer.from('_VBA_PROJECT_CUR', 'utf16le').toString('latin1'),
  );
  const without = bytes(
    ole,
    Buffer.alloc(600).toString('latin1'),
    Buffer.from('WordDocument', 'utf16le').toString('latin1'),
  );
  assert.equal(oleHasMacros(withVba), true);
  assert.equal(oleHasMacros(without), false);
  assert.equal(oleHasMacros(bytes(ole, '_VBA_PROJECT')), false); // 8-bit text is no directory entry name
});
