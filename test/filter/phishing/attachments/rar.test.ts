/**
 * RAR archives built here byte by byte from RARLAB's two format descriptions (technote.txt for RAR
 * 1.5–4, "RAR 5.0 archive format"), stored (not compressed), with their CRCs. No free tool writes RAR,
 * so libarchive's bsdtar (Debian libarchive-tools), which reads both formats, checks that each built
 * archive is one: it must list the same names as we do.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { listArchive } from '../../../../src/filter/phishing/attachments/archive.ts';
import { attachmentSignals } from '../../../../src/filter/phishing/attachments/attachment-signals.ts';
import { listRar } from '../../../../src/filter/phishing/attachments/rar.ts';

type File = { name: string; content: string; directory?: boolean; encrypted?: boolean };

const u16 = (n: number) => [n & 0xff, (n >> 8) & 0xff];
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** technote.txt: marker, MAIN_HEAD, a FILE_HEAD per file (stored, method 0x30), ENDARC_HEAD. */
function rar4(files: File[], mainFlags = 0): Buffer {
  const block = (type: number, flags: number, fields: number[]) => {
    const body = [type, ...u16(flags), ...u16(7 + fields.length), ...fields];
    return [...u16(crc32(Buffer.from(body)) & 0xffff), ...body];
  };
  const out: number[] = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00];
  out.push(...block(0x73, mainFlags, [0, 0, 0, 0, 0, 0]));
  for (const f of files) {
    const name = Buffer.from(f.name, 'latin1');
    const data = Buffer.from(f.content);
    const flags = 0x8000 | (f.directory ? 0x00e0 : 0) | (f.encrypted ? 0x0004 : 0);
    const fields = [
      ...u32(data.length), // PACK_SIZE
      ...u32(data.length), // UNP_SIZE
      2, // HOST_OS: Win32
      ...u32(crc32(data)),
      ...u32(0x5b7a0000), // FTIME (MS-DOS)
      20, // UNP_VER 2.0
      0x30, // METHOD: storing
      ...u16(name.length),
      ...u32(f.directory ? 0x10 : 0x20), // ATTR
      ...name,
    ];
    out.push(...block(0x74, flags, fields), ...data);
  }
  out.push(...block(0x7b, 0x4000, []));
  return Buffer.from(out);
}

const vint = (n: number): number[] => {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return bytes;
};

/** "RAR 5.0 archive format": signature, main header, a file header per file (stored), end of archive. */
function rar5(files: File[], encryptedHeaders = false): Buffer {
  const block = (header: number[], data: number[] = []) => {
    const sized = [...vint(header.length), ...header];
    return [...u32(crc32(Buffer.from(sized))), ...sized, ...data];
  };
  const out: number[] = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00];
  if (encryptedHeaders) out.push(...block([4, 0, 0, 0, 15, 1, ...new Array(16).fill(7), ...new Array(12).fill(9)]));
  out.push(...block([1, 0, 0])); // main archive header: type 1, flags 0, archive flags 0
  for (const f of files) {
    const name = [...Buffer.from(f.name, 'utf8')];
    const data = [...Buffer.from(f.content)];
    // Extra area: a file encryption record (type 1) when the file is encrypted.
    const extra = f.encrypted ? [...vint(3 + 48), 1, 0, 0, 15, ...new Array(48).fill(5)] : [];
    const fileFlags = (f.directory ? 0x01 : 0) | 0x04; // data CRC32 present
    const fields = [
      ...vint(fileFlags),
      ...vint(data.length), // unpacked size
      ...vint(f.directory ? 0x10 : 0x20), // attributes
      ...u32(crc32(Buffer.from(data))),
      ...vint(0), // compression: version 0, method 0 (store)
      ...vint(0), // host OS: Windows
      ...vint(name.length),
      ...name,
    ];
    const headerFlags = 0x02 | (extra.length > 0 ? 0x01 : 0); // data area, extra area
    const header = [
      2,
      ...vint(headerFlags),
      ...(extra.length > 0 ? vint(extra.length) : []),
      ...vint(data.length),
      ...fields,
      ...extra,
    ];
    out.push(...block(header, data));
  }
  out.push(...block([5, 0, 0])); // end of archive
  return Buffer.from(out);
}

/** What libarchive's bsdtar lists in the archive, directories without their trailing slash. */
function bsdtarNames(archive: Buffer): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-rar-'));
  try {
    const file = path.join(dir, 'a.rar');
    writeFileSync(file, archive);
    // A missing bsdtar fails here: .ci/run installs libarchive-tools.
    const listed = execFileSync('bsdtar', ['-tf', file], { encoding: 'utf8', timeout: 30_000 });
    return listed.split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const files: File[] = [
  { name: 'docs', content: '', directory: true },
  { name: 'docs\\invoice.pdf.exe', content: 'MZ not really a program' },
  { name: 'readme.txt', content: 'hello' },
];

test('RAR 4: the names, directories left out, as bsdtar reads the same archive', () => {
  const archive = rar4(files);
  assert.deepEqual(bsdtarNames(archive), ['docs', 'docs/invoice.pdf.exe', 'readme.txt']);
  assert.deepEqual(listRar(archive, 100), {
    names: [
      { name: 'docs/invoice.pdf.exe', encrypted: false },
      { name: 'readme.txt', encrypted: false },
    ],
    listed: true,
    encrypted: false,
    truncated: false,
  });
});

test('RAR 5: the names in UTF-8, directories left out, as bsdtar reads the same archive', () => {
  const archive = rar5(
    [...files, { name: 'счёт.scr', content: 'x' }].map((f) => ({ ...f, name: f.name.replace('\\', '/') })),
  );
  assert.deepEqual(bsdtarNames(archive), ['docs', 'docs/invoice.pdf.exe', 'readme.txt', 'счёт.scr']);
  assert.deepEqual(
    listRar(archive, 100).names.map((n) => n.name),
    ['docs/invoice.pdf.exe', 'readme.txt', 'счёт.scr'],
  );
  assert.deepEqual(
    { ...listRar(archive, 2), names: [] },
    { names: [], listed: true, encrypted: false, truncated: true },
  );
});

test('encrypted files and encrypted headers, in both formats', () => {
  const one = [{ name: 'a.exe', content: 'x', encrypted: true }];
  assert.deepEqual(listRar(rar4(one), 10), {
    names: [{ name: 'a.exe', encrypted: true }],
    listed: true,
    encrypted: true,
    truncated: false,
  });
  assert.deepEqual(listRar(rar5(one), 10), {
    names: [{ name: 'a.exe', encrypted: true }],
    listed: true,
    encrypted: true,
    truncated: false,
  });
  assert.deepEqual(listRar(rar4(one, 0x0080), 10), { names: [], listed: false, encrypted: true, truncated: false });
  assert.deepEqual(listRar(rar5(one, true), 10), { names: [], listed: false, encrypted: true, truncated: false });
});

test('a cut or damaged archive keeps the names read before the damage and is not listed; random bytes never throw', () => {
  const archive = rar5(files.slice(1));
  const cut = listRar(archive.subarray(0, archive.length - 20), 10);
  assert.equal(cut.listed, false);
  assert.deepEqual(
    cut.names.map((n) => n.name),
    ['docs/invoice.pdf.exe'],
  );
  for (const source of [rar4(files), rar5(files)]) {
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(source);
      bytes[7 + ((i * 7919) % (bytes.length - 7))] = (i * 31) & 0xff;
      const listing = listRar(bytes.subarray(0, bytes.length - (i % 5)), 10);
      assert.ok(listing.names.length <= 10);
    }
  }
});

test('a program inside a RAR is a risky archive content, as inside a ZIP', async () => {
  const listing = await listArchive(rar5([{ name: 'invoice.exe', content: 'MZ' }]));
  assert.deepEqual(listing?.entries, [{ path: ['invoice.exe'], encrypted: false }]);
  const signals = await attachmentSignals({
    attachments: [
      {
        filename: 'invoice.rar',
        contentType: 'application/x-rar',
        disposition: 'attachment',
        content: rar4([{ name: 'invoice.exe', content: 'MZ' }]),
      },
    ],
    text: '',
    subject: '',
  });
  assert.deepEqual(
    signals.map((s) => `${s.name}:${s.weight}`),
    ['risky-archive-content:5'],
  );
});
