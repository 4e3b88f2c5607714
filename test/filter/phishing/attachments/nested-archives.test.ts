/**
 * Archives inside a ZIP: named as Windows saves them (trailing dots and spaces dropped, any case), and
 * listed as a top-level archive is (gzip, .tgz, RAR, 7z, CAB, tar), within the message's depth and
 * byte budgets; one that cannot be read leaves the listing partial, unknown rather than clean.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { listArchive } from '../../../../src/filter/phishing/attachments/archive.ts';
import { file, pe, signals, zip } from './attachment-helpers.ts';

function paths(listing: Awaited<ReturnType<typeof listArchive>>): string[] {
  return listing!.entries.map((e) => e.path.join(' → '));
}

/** A gzip member whose header names its file (RFC 1952 §2.3.1 FLG.FNAME). */
function gzipNamed(name: string, content: Uint8Array): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]);
  return Buffer.concat([header, Buffer.from(`${name}\0`, 'latin1'), deflateRawSync(content), Buffer.alloc(8)]);
}

/** A ustar archive of regular files (POSIX.1-2017 `pax`, "ustar Interchange Format"). */
function tar(files: [name: string, content: Uint8Array][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of files) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\x0000', 257, 'latin1');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, Buffer.from(content), Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

const sevenZip = Buffer.concat([Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]), Buffer.alloc(100)]);
const brokenRar = Buffer.concat([Buffer.from('Rar!\x1a\x07\x00', 'latin1'), Buffer.alloc(100)]);

test('a ZIP inside a ZIP is opened whatever the case, trailing dots or spaces of its name (as Windows saves it)', async () => {
  const inner = await zip([['invoice.exe', pe()]]);
  for (const name of ['inner.zip.', 'inner.zip ', 'INNER.ZIP', 'inner.zip . .']) {
    const listing = await listArchive(await zip([[name, inner]]));
    assert.deepEqual(paths(listing), [name, `${name} → invoice.exe`], JSON.stringify(name));
    assert.equal(listing!.partial, undefined, JSON.stringify(name));
  }
  assert.deepEqual(await signals([file('invoice.zip', await zip([['inner.zip.', inner]]), 'application/zip')]), [
    'risky-archive-content:5[invoice.zip → inner.zip. → invoice.exe]',
  ]);
});

test('a gzip, a .tgz and a tar inside a ZIP are listed as they are on their own', async () => {
  const program = pe();
  const listing = await listArchive(
    await zip([
      ['inner.gz', gzipNamed('invoice.exe', program)],
      ['inner.tgz', gzipSync(tar([['payload.exe', program]]))],
      ['inner.tar', tar([['run.js', Buffer.from('WScript.Echo(1)')]])],
      ['inner.exe.gz', gzipSync(program)], // no name in its header: named after the file, less ".gz"
    ]),
  );
  assert.deepEqual(paths(listing), [
    'inner.gz',
    'inner.gz → invoice.exe',
    'inner.tgz',
    'inner.tgz → inner.tar',
    'inner.tgz → payload.exe',
    'inner.tar',
    'inner.tar → run.js',
    'inner.exe.gz',
    'inner.exe.gz → inner.exe',
  ]);
  assert.equal(listing!.listed, true);
  assert.equal(listing!.partial, undefined);
  const zipped = await zip([['inner.gz', gzipNamed('invoice.exe', program)]]);
  assert.deepEqual(await signals([file('invoice.zip', zipped, 'application/zip')]), [
    'risky-archive-content:5[invoice.zip → inner.gz → invoice.exe]',
  ]);
});

test('a 7z, a damaged RAR or an unknown archive inside a ZIP leaves the listing partial (unknown, not clean)', async () => {
  for (const [name, content] of [
    ['inner.7z', sevenZip],
    ['inner.rar', brokenRar],
    ['inner.arj', Buffer.from('`\xea not read', 'latin1')],
    ['inner.zip', Buffer.from('not a zip at all')],
  ] as const) {
    const listing = await listArchive(await zip([[name, content]]));
    assert.deepEqual(paths(listing), [name]);
    assert.equal(listing!.listed, true, name);
    assert.equal(listing!.partial, true, name);
    assert.deepEqual(await signals([file('invoice.zip', await zip([[name, content]]), 'application/zip')]), [
      'unlistable-archive:1[invoice.zip]',
    ]);
  }
});

test('nested archives keep to the depth limit: a gzip two ZIPs deep is only named, and the listing partial', async () => {
  const gz = gzipNamed('invoice.exe', pe());
  const listing = await listArchive(await zip([['a.zip', await zip([['b.gz', gz]])]]));
  assert.deepEqual(paths(listing), ['a.zip', 'a.zip → b.gz']);
  assert.equal(listing!.partial, true);
});

test('a gzip whose header names nothing holds what its own name says, as 7-Zip and Windows save it', async () => {
  // "invoice.gz" is saved as "invoice": no extension, so Windows runs nothing on a double click.
  const listing = await listArchive(gzipSync(pe()), undefined, 'invoice.gz');
  assert.deepEqual(paths(listing), ['invoice']);
  assert.equal(listing!.listed, true);
  assert.deepEqual(await signals([file('invoice.gz', gzipSync(pe()), 'application/gzip')]), []);
  assert.deepEqual(await signals([file('invoice.exe.gz', gzipSync(pe()), 'application/gzip')]), [
    'risky-archive-content:5[invoice.exe.gz → invoice.exe]',
  ]);
});
