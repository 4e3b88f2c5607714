import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { archiveBudget, listArchive } from '../../../../src/filter/phishing/attachments/archive.ts';
import { Random } from '../../../support/fuzz-input.ts';
import { file, pe, signals, zip } from './attachment-helpers.ts';

type Member = { name: string; data?: string | Uint8Array; type?: string; gnu?: boolean; prefix?: string };

/** One 512-byte header (POSIX ustar, or GNU's "ustar  \0" magic), its checksum computed as tar does. */
function header({ name, data = '', type = '0', gnu = false, prefix = '' }: Member): Buffer {
  const h = Buffer.alloc(512);
  const size = Buffer.from(data).length;
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('14000000000\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(gnu ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  if (!gnu) h.write(prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function tar(members: Member[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const member of members) {
    const data = Buffer.from(member.data ?? '');
    parts.push(header(member), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A pax record "%d path=%s\n" whose length counts its own digits and bytes (POSIX pax). */
function paxPath(value: string): string {
  const body = ` path=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

/** A cabinet (MS-CAB §2.1) of one folder and these CFFILE entries (§2.3); no data blocks, none needed to list it. */
function cab(names: { name: string; utf8?: boolean }[]): Buffer {
  const files = names.map(({ name, utf8 }) => {
    const entry = Buffer.alloc(16);
    entry.writeUInt32LE(100, 0); // cbFile
    entry.writeUInt16LE(utf8 ? 0xa0 : 0x20, 14); // attribs: archive, and _A_NAME_IS_UTF
    return Buffer.concat([entry, Buffer.from(name.replaceAll('/', '\\'), utf8 ? 'utf8' : 'latin1'), Buffer.alloc(1)]);
  });
  const head = Buffer.alloc(36 + 8);
  head.write('MSCF', 0, 'latin1');
  head.writeUInt32LE(head.length + Buffer.concat(files).length, 8); // cbCabinet
  head.writeUInt32LE(head.length, 16); // coffFiles: right after the header and the one CFFOLDER
  head.writeUInt8(3, 24); // versionMinor
  head.writeUInt8(1, 25); // versionMajor
  head.writeUInt16LE(1, 26); // cFolders
  head.writeUInt16LE(names.length, 28); // cFiles
  return Buffer.concat([head, ...files]);
}

function paths(listing: Awaited<ReturnType<typeof listArchive>>): string[] {
  return listing!.entries.map((e) => e.path.join(' → '));
}

test('tar: ustar, GNU long names and pax paths are listed, directories and metadata headers not', async () => {
  const long = `${'a'.repeat(120)}/invoice.scr`;
  const archive = tar([
    { name: 'docs/', type: '5' },
    { name: 'docs/report.pdf', data: '%PDF-1.4' },
    { name: 'invoice.exe', data: pe(), prefix: 'deep/path' },
    { name: '././@LongLink', type: 'L', data: `${long}\0`, gnu: true },
    { name: long.slice(0, 99), data: 'MZ', gnu: true },
    { name: 'PaxHeaders/x', type: 'x', data: paxPath('счёт.pdf.js') },
    { name: 'short.txt', data: 'WScript' },
    { name: 'link.lnk', type: '2' },
  ]);
  const listing = await listArchive(archive);
  assert.equal(listing?.format, 'tar');
  assert.deepEqual(paths(listing), ['docs/report.pdf', 'deep/path/invoice.exe', long, 'счёт.pdf.js', 'link.lnk']);
  assert.equal(listing!.listed, true);
  assert.equal(listing!.encrypted, false);
});

test('tar: bsdtar lists the hand-built archive the same way', {
  skip: hasBsdtar() ? false : 'bsdtar is not installed (Debian package libarchive-tools, which .ci/run installs)',
}, async () => {
  const archive = tar([
    { name: 'invoice.exe', data: pe(), prefix: 'deep/path' },
    { name: '././@LongLink', type: 'L', data: `${'b'.repeat(130)}.js\0`, gnu: true },
    { name: 'b'.repeat(99), data: 'x', gnu: true },
    { name: 'PaxHeaders/x', type: 'x', data: paxPath('счёт.pdf.js') },
    { name: 'short.txt', data: 'WScript' },
  ]);
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-tar-'));
  try {
    writeFileSync(path.join(dir, 'a.tar'), archive);
    const listed = execFileSync('bsdtar', ['-tf', path.join(dir, 'a.tar')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.deepEqual(paths(await listArchive(archive)), listed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tar.gz: the tar inside a gzip is inflated and listed; a gzip without a name is named after the file', async () => {
  const inner = tar([{ name: 'invoice.exe', data: pe() }]);
  const listing = await listArchive(gzipSync(inner), archiveBudget(), 'invoice.tgz');
  assert.equal(listing?.format, 'gzip');
  assert.deepEqual(paths(listing), ['invoice.tar', 'invoice.exe']);
  assert.equal(listing!.listed, true);
  // A gzip of one program, without FNAME (gzip -n): the name it decompresses to.
  assert.deepEqual(paths(await listArchive(gzipSync(pe()), archiveBudget(), 'scan.pdf.exe.gz')), ['scan.pdf.exe']);
});

test('tar.gz past the byte budget: the names read before it, the rest unknown (partial, not damaged)', async () => {
  const inner = tar([
    { name: 'first.exe', data: pe() },
    { name: 'padding.bin', data: Buffer.alloc(3 * 1024 * 1024) },
    { name: 'late.scr', data: 'MZ' },
  ]);
  const budget = { entries: 1000, bytes: 1024 * 1024 };
  const listing = await listArchive(gzipSync(inner), budget, 'x.tgz');
  assert.deepEqual(paths(listing), ['x.tar', 'first.exe', 'padding.bin']);
  assert.equal(listing!.listed, true);
  assert.equal(listing!.partial, true);
  assert.ok(budget.bytes <= 0, 'the message budget was spent');
});

test('archives inside a tar are listed one level deep, as for ZIP; deeper ones are only named', async () => {
  const innerZip = await zip([['payload.js', 'WScript']]);
  const deeper = tar([{ name: 'deep.exe', data: pe() }]);
  const nestedTar = tar([
    { name: 'more.tar', data: deeper },
    { name: 'readme.txt', data: 'hi' },
  ]);
  const listing = await listArchive(
    tar([
      { name: 'a.zip', data: innerZip },
      { name: 'b.tar', data: nestedTar },
      { name: 'c.cab', data: cab([{ name: 'setup.msi' }]) },
    ]),
  );
  assert.deepEqual(paths(listing), [
    'a.zip',
    'b.tar',
    'c.cab',
    'a.zip → payload.js',
    'b.tar → more.tar',
    'b.tar → readme.txt',
    'c.cab → setup.msi',
  ]);
  assert.equal(listing!.partial, true, 'more.tar was left unopened');
  assert.equal(listing!.listed, true);
});

test('tar: the entry budget is shared; past it the first name of each risky kind is still kept', async () => {
  const members: Member[] = Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }));
  members.push({ name: 'late.exe', data: 'MZ' }, { name: 'later.exe', data: 'MZ' }, { name: 'page.html', data: '<p>' });
  const budget = { entries: 10, bytes: 1024 };
  const listing = await listArchive(tar(members), budget);
  assert.equal(listing!.entries.length, 12);
  assert.deepEqual(paths(listing).slice(10), ['late.exe', 'page.html']);
  assert.equal(listing!.truncated, true);
});

test('tar: a cut or damaged archive keeps the names read before the damage and is not listed', async () => {
  const whole = tar([
    { name: 'a.exe', data: 'MZ' },
    { name: 'b.exe', data: Buffer.alloc(2000) },
  ]);
  const cut = whole.subarray(0, 512 * 3);
  assert.deepEqual(paths(await listArchive(cut)), ['a.exe', 'b.exe']);
  assert.equal((await listArchive(cut))!.listed, false);
  const damaged = Buffer.from(whole);
  damaged[1034] = damaged[1034]! ^ 0xff; // in the second header: its checksum no longer matches
  const listing = await listArchive(damaged);
  assert.deepEqual(paths(listing), ['a.exe']);
  assert.equal(listing!.listed, false);
  // No end blocks, but the buffer ends right after the last member: complete (some writers do this).
  assert.equal((await listArchive(tar([{ name: 'a.exe', data: 'MZ' }], false)))!.listed, true);
});

test('CAB: the CFFILE names, backslashes as slashes, UTF-8 when flagged, without decompressing', async () => {
  const listing = await listArchive(cab([{ name: 'docs/readme.txt' }, { name: 'счёт.exe', utf8: true }]));
  assert.equal(listing?.format, 'cab');
  assert.deepEqual(paths(listing), ['docs/readme.txt', 'счёт.exe']);
  assert.equal(listing!.listed, true);
  const cut = cab([{ name: 'a.exe' }, { name: 'b.exe' }]);
  const short = await listArchive(cut.subarray(0, cut.length - 4));
  assert.deepEqual(paths(short), ['a.exe']);
  assert.equal(short!.listed, false);
});

test('xz and bzip2 are not decompressed: named after what they decompress to, and not listed', async () => {
  const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46]);
  const bz2 = Buffer.from('BZh91AY&SY\x00\x00', 'latin1');
  const cases: [Buffer, string, string[], string][] = [
    [xz, 'invoice.exe.xz', ['invoice.exe'], 'xz'],
    [xz, 'backup.txz', ['backup.tar'], 'xz'],
    [bz2, 'scan.pdf.js.bz2', ['scan.pdf.js'], 'bzip2'],
    [bz2, 'files.tbz2', ['files.tar'], 'bzip2'],
    [bz2, 'noextension', [], 'bzip2'],
  ];
  for (const [bytes, name, expected, format] of cases) {
    const listing = await listArchive(bytes, archiveBudget(), name);
    assert.equal(listing?.format, format, name);
    assert.deepEqual(paths(listing), expected, name);
    assert.equal(listing!.listed, false, name);
    assert.equal(listing!.encrypted, false, name);
  }
});

test('attachment signals: a program in a tar, a tgz, a CAB, an xz or a bzip2 is a risky archive content', async () => {
  const cases: [string, Buffer, string[]][] = [
    ['invoice.tar', tar([{ name: 'invoice.exe', data: pe() }]), ['risky-archive-content:5[invoice.tar → invoice.exe]']],
    [
      'invoice.tgz',
      gzipSync(tar([{ name: 'docs/invoice.pdf.js', data: 'WScript' }])),
      ['risky-archive-content:5[invoice.tgz → docs/invoice.pdf.js]'],
    ],
    ['setup.cab', cab([{ name: 'setup.exe' }]), ['risky-archive-content:5[setup.cab → setup.exe]']],
    [
      'invoice.exe.xz',
      Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]),
      ['risky-archive-content:5[invoice.exe.xz → invoice.exe]', 'unlistable-archive:1[invoice.exe.xz]'],
    ],
    ['notes.txt.bz2', Buffer.from('BZh91AY&SY', 'latin1'), ['unlistable-archive:1[notes.txt.bz2]']],
    ['photos.tar', tar([{ name: 'a.jpg', data: 'x' }]), []],
    [
      'broken.tar',
      tar([{ name: 'a.jpg', data: 'x'.repeat(600) }]).subarray(0, 600),
      ['unlistable-archive:1[broken.tar]'],
    ],
  ];
  for (const [name, content, expected] of cases) assert.deepEqual(await signals([file(name, content)]), expected, name);
});

test('random and cut tar, tar.gz and CAB bytes never throw, and stay within their budgets', async () => {
  const random = new Random(0x7a4);
  const seeds = [
    tar([
      { name: 'a.exe', data: 'MZ' },
      { name: '././@LongLink', type: 'L', data: 'x'.repeat(700), gnu: true },
      { name: 'x', data: 'y' },
    ]),
    gzipSync(tar([{ name: 'a.exe', data: 'MZ'.repeat(400) }])),
    cab([{ name: 'a.exe' }, { name: 'b.js' }]),
  ];
  for (let i = 0; i < 300; i++) {
    const seed = Buffer.from(seeds[i % seeds.length]!);
    for (let j = 0; j < 4; j++) seed[random.int(seed.length)] = random.int(256);
    const bytes = seed.subarray(0, random.int(seed.length + 1));
    const budget = archiveBudget();
    await listArchive(bytes, budget, 'x.tgz');
    assert.ok(budget.entries >= 0 && budget.bytes >= 0);
  }
});

function hasBsdtar(): boolean {
  try {
    execFileSync('bsdtar', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
