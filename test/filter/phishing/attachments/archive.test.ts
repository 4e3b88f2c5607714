import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { ZipFile } from 'yazl';
import {
  archiveBudget,
  listArchive,
  maxEntries,
  maxInflatedBytes,
} from '../../../../src/filter/phishing/attachments/archive.ts';

const fixtures = new URL('./fixtures/', import.meta.url);

async function zip(files: [name: string, content: string | Uint8Array][], compress = true): Promise<Uint8Array> {
  const z = new ZipFile();
  for (const [name, content] of files) z.addBuffer(Buffer.from(content), name, { compress });
  z.end();
  const chunks: Buffer[] = [];
  for await (const chunk of z.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function paths(listing: Awaited<ReturnType<typeof listArchive>>): string[] {
  return listing!.entries.map((e) => e.path.join(' → '));
}

test('a ZIP lists its file names, not its directories, and nothing is encrypted', async () => {
  const listing = await listArchive(
    await zip([
      ['docs/a.pdf', '%PDF-1.4'],
      ['docs/b.pdf', '%PDF-1.4'],
    ]),
  );
  assert.deepEqual(paths(listing), ['docs/a.pdf', 'docs/b.pdf']);
  assert.equal(listing!.format, 'zip');
  assert.equal(listing!.listed, true);
  assert.equal(listing!.encrypted, false);
  assert.equal(listing!.truncated, false);
});

test('a name yauzl would refuse (a backslash, "..") is still listed', async () => {
  // yazl refuses such names too, so patch one into a built archive: same length, both headers.
  const raw = Buffer.from(await zip([['ab/x.exe', 'MZ']]));
  const patched = Buffer.from(raw.toString('latin1').replaceAll('ab/x.exe', '..\\x.exe'), 'latin1');
  assert.deepEqual(paths(await listArchive(patched)), ['../x.exe']);
});

test('a password-protected ZIP (zip -P) lists its names with the encrypted flag', async () => {
  const listing = await listArchive(await readFile(new URL('encrypted-exe.zip', fixtures)));
  assert.deepEqual(listing!.entries, [
    { path: ['report.pdf'], encrypted: true },
    { path: ['payment.pdf.exe'], encrypted: true },
  ]);
  assert.equal(listing!.encrypted, true);
  assert.equal(listing!.listed, true);
});

test('a ZIP inside a ZIP is listed with its path; one level deeper is only named', async () => {
  const deepest = await zip([['deep.exe', 'MZ']]);
  const inner = await zip([
    ['inner.exe', 'MZ'],
    ['deeper.zip', deepest],
  ]);
  const outer = await zip([
    ['readme.txt', 'hi'],
    ['inner.zip', inner],
  ]);
  assert.deepEqual(paths(await listArchive(outer)), [
    'readme.txt',
    'inner.zip',
    'inner.zip → inner.exe',
    'inner.zip → deeper.zip',
  ]);
});

test('a nested ZIP that inflates beyond the budget is not opened', async () => {
  const big = await zip(
    [
      ['zeros.bin', new Uint8Array(maxInflatedBytes + 1)],
      ['evil.exe', 'MZ'],
    ],
    false,
  );
  const outer = await zip([['big.zip', big]]);
  assert.ok(outer.length < big.length / 100, 'the outer ZIP compresses the zeros');
  assert.deepEqual(paths(await listArchive(outer)), ['big.zip']);
});

test('the archives of one message share one budget: a hundred ZIPs of nested bombs do not each get it', async () => {
  const inner = await zip(
    [
      ['zeros.bin', new Uint8Array(maxInflatedBytes * 0.6)],
      ['evil.exe', 'MZ'],
    ],
    false,
  );
  const outer = await zip([['inner.zip', inner]]);
  const budget = archiveBudget();
  assert.deepEqual(paths(await listArchive(outer, budget)), [
    'inner.zip',
    'inner.zip → zeros.bin',
    'inner.zip → evil.exe',
  ]);
  // The second attachment finds the message's budget too low for its nested ZIP: only named.
  assert.deepEqual(paths(await listArchive(outer, budget)), ['inner.zip']);
  assert.deepEqual(paths(await listArchive(outer)), ['inner.zip', 'inner.zip → zeros.bin', 'inner.zip → evil.exe']);
});

test(`listing stops after ${maxEntries} entries, quickly`, async () => {
  const many = await zip(Array.from({ length: 1500 }, (_, i) => [`f${i}.txt`, ''] as [string, string]));
  const start = performance.now();
  const listing = await listArchive(many);
  assert.equal(listing!.entries.length, maxEntries);
  assert.equal(listing!.truncated, true);
  const ms = performance.now() - start;
  assert.ok(ms < 1000, `${ms} ms`);
});

test('a damaged ZIP is reported as not listed, without throwing', async () => {
  const good = await zip([
    ['a.pdf', '%PDF-1.4'],
    ['b.exe', 'MZ'],
  ]);
  for (const broken of [good.subarray(0, 40), good.subarray(0, good.length - 10), Buffer.from('PK\x03\x04garbage')]) {
    const listing = await listArchive(broken);
    assert.equal(listing!.format, 'zip');
    assert.equal(listing!.listed, false);
  }
});

test('gzip names its one file from the FNAME header field (RFC 1952 §2.3.1)', async () => {
  const body = deflateRawSync(Buffer.from('MZ'));
  const header = Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]);
  const gz = Buffer.concat([header, Buffer.from('invoice.exe\0', 'latin1'), body, Buffer.alloc(8)]);
  assert.deepEqual(paths(await listArchive(gz)), ['invoice.exe']);
  const nameless = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), body, Buffer.alloc(8)]);
  assert.deepEqual(paths(await listArchive(nameless)), []);
});

test('a RAR cut after its main header is not listed; encrypted headers are recognised in RAR 4 and RAR 5', async () => {
  // RAR 4: signature, HEAD_CRC, HEAD_TYPE 0x73 (MAIN_HEAD), HEAD_FLAGS with MHD_PASSWORD 0x0080, HEAD_SIZE
  const rar4 = (flags: number) =>
    Buffer.from([...Buffer.from('Rar!\x1a\x07\x00', 'latin1'), 0, 0, 0x73, flags, 0, 13, 0]);
  // RAR 5: signature, CRC32, header size (vint), header type: 4 = archive encryption header, 1 = main header
  const rar5 = (type: number) => Buffer.from([...Buffer.from('Rar!\x1a\x07\x01\x00', 'latin1'), 0, 0, 0, 0, 12, type]);
  const cases: [Buffer, boolean | undefined][] = [
    [rar4(0x80), true],
    [rar4(0x00), undefined],
    [rar5(4), true],
    [rar5(1), undefined],
  ];
  for (const [bytes, encrypted] of cases) {
    const listing = await listArchive(bytes);
    assert.equal(listing!.format, 'rar');
    assert.equal(listing!.listed, false);
    assert.equal(listing!.encrypted, encrypted);
  }
});

test('7z is recognised but not listed; non-archives give no listing', async () => {
  const listing = await listArchive(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]));
  assert.deepEqual(listing, { format: '7z', entries: [], listed: false, encrypted: undefined, truncated: false });
  assert.equal(await listArchive(Buffer.from('%PDF-1.4')), undefined);
});

test('a ZIP behind other bytes (a self-extractor stub, junk) is found from its end, as unzip finds it', async () => {
  const inner = await zip([
    ['readme.txt', 'hi'],
    ['invoice.js', 'WScript.Shell'],
  ]);
  const junk = Buffer.alloc(128, 0x41);
  const prefixed = Buffer.concat([junk, inner]);
  const listing = await listArchive(prefixed);
  assert.equal(listing?.format, 'zip');
  assert.equal(listing?.listed, true);
  assert.deepEqual(paths(listing), ['readme.txt', 'invoice.js']);
  // ZIP64 (APPNOTE §4.3.14-15): its record is found next to the locator, not where the stub moved it from.
  const z64 = new ZipFile();
  z64.addBuffer(Buffer.from('x'), 'tool.exe', { forceZip64Format: true });
  z64.end({ forceZip64Format: true, comment: '' });
  const chunks: Buffer[] = [];
  for await (const chunk of z64.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  assert.deepEqual(paths(await listArchive(Buffer.concat([junk, ...chunks]))), ['tool.exe']);
  // Not every file ends in PK: a PDF, or text that merely mentions the signature, is no archive.
  assert.equal(await listArchive(Buffer.from('%PDF-1.4\n...PK\x05\x06 and more\n%%EOF')), undefined);
  assert.equal(await listArchive(Buffer.concat([Buffer.from('hello '), Buffer.alloc(22)])), undefined);
});

test('past the entry budget every name is still read from the central directory, one of each kind kept', async () => {
  const files = Array.from({ length: maxEntries + 200 }, (_, i) => [`f${i}.txt`, ''] as [string, string | Uint8Array]);
  files.push(['invoice.js', 'x'], ['second.js', 'x'], ['page.html', '<p>'], ['photo.jpg', 'x']);
  const listing = await listArchive(await zip(files));
  assert.equal(listing!.truncated, true);
  assert.equal(listing!.listed, true);
  assert.equal(listing!.partial, undefined);
  assert.deepEqual(paths(listing).slice(maxEntries), ['invoice.js', 'page.html']);
  // A nested ZIP past the budget is named but not opened: what it holds is unknown.
  files.push(['more.zip', await zip([['evil.exe', 'MZ']])]);
  const nested = await listArchive(await zip(files));
  assert.equal(nested!.partial, true);
  assert.deepEqual(paths(nested).slice(maxEntries), ['invoice.js', 'page.html', 'more.zip']);
});

test('a nested ZIP over the inflate budget leaves the listing partial', async () => {
  const big = await zip([['zeros.bin', new Uint8Array(maxInflatedBytes + 1)]], false);
  const listing = await listArchive(await zip([['big.zip', big]]));
  assert.equal(listing!.partial, true);
  assert.equal(listing!.listed, true);
});

test('naming 100,000 entries past the budget takes linear time', async () => {
  // Built by hand: yazl takes seconds for this many. Stored, empty entries (APPNOTE §4.3.7, §4.3.12, §4.3.16).
  const count = 100_000;
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const name = Buffer.from(i === count - 1 ? 'last.exe' : `f${i}.txt`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(name.length, 26);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(offset, 42);
    locals.push(local, name);
    central.push(header, name);
    offset += local.length + name.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  // The count as a 16-bit field wraps (65,535 at most without ZIP64): the walk goes by the directory's bytes.
  end.writeUInt16LE(count % 0x10000, 8);
  end.writeUInt16LE(count % 0x10000, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  const archive = Buffer.concat([...locals, directory, end]);
  const start = performance.now();
  const listing = await listArchive(archive);
  const ms = performance.now() - start;
  assert.equal(listing!.truncated, true);
  assert.deepEqual(paths(listing).slice(maxEntries), ['last.exe']);
  assert.ok(ms < 3000, `${ms} ms`);
});
