import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUuencoding, uudecodeBody, uuFiles } from '../../src/mime/uuencode.ts';
import { uuencode } from './uuencode-helpers.ts';

const budget = () => ({ files: 16, bytes: 1 << 20 });
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);

test('uuFiles: a block in text decodes to its bytes under the begin line’s name, round trip for every length', () => {
  for (const n of [0, 1, 2, 3, 44, 45, 46, 90, 1000]) {
    const data = bytes(n);
    const files = uuFiles(`Hello,\n\n${uuencode('invoice.exe', data)}\nBye\n`, 4, budget());
    assert.equal(files.length, 1, `length ${n}`);
    assert.equal(files[0]?.name, 'invoice.exe');
    assert.deepEqual([...(files[0]?.content ?? [])], [...data], `length ${n}`);
  }
});

test('uuFiles: Python’s spaces for zero, trailing spaces a relay dropped, CR LF, and a block with no end line', () => {
  // binascii.b2a_uu(b'hello world, ...') lines; the second line's trailing space dropped.
  const text = [
    'begin 0644 notes.txt',
    "M:&5L;&\\@=V]R;&0L('1H:7,@:7,@82!U=65N8V]D92!T97-T(&]F('-O;64@",
    ":;&5N9W1H('1O('-P86X@='=O(&QI;F5S(2$",
    ' ',
    'end',
  ].join('\r\n');
  const [file] = uuFiles(text, 4, budget());
  assert.equal(file?.name, 'notes.txt');
  assert.equal(
    file?.content.toString('latin1'),
    'hello world, this is a uuencode test of some length to span two lines!!',
  );
  const open = uuFiles('begin 644 a.bin\n%35H  /\\ \n', 4, budget());
  assert.deepEqual([...(open[0]?.content ?? [])], [0x4d, 0x5a, 0, 0, 0xff]);
});

test('uuFiles: only a begin line at the start of a line with a 3-4 digit octal mode and a name starts a block', () => {
  for (const text of [
    'please begin 644 x.exe\nM\n',
    'begin 64 x.exe\n',
    'begin 64444 x.exe\n',
    'begin 648 x.exe\n',
    'begin 644\n',
    'begin 644 \n',
    'begin-base64 644 x.exe\n',
    'begin the meeting at 10\n',
  ])
    assert.deepEqual(uuFiles(text, 4, budget()), [], text);
  assert.equal(uuFiles('x\nbegin 0755 run.sh\n`\nend\n', 4, budget())[0]?.name, 'run.sh');
});

test('uuFiles: at most maxFiles, and the budget’s files and bytes are spent across calls', () => {
  const block = uuencode('a.exe', bytes(100));
  const text = block.repeat(10);
  assert.equal(uuFiles(text, 4, budget()).length, 4);
  const shared = { files: 6, bytes: 450 };
  assert.equal(uuFiles(text, 4, shared).length, 4);
  const rest = uuFiles(text, 4, shared);
  assert.equal(rest.length, 2);
  assert.equal(rest[0]?.content.length, 50, 'what is left of the 450 bytes');
  assert.equal(rest[1]?.content.length, 0);
  assert.equal(shared.files, 0);
});

test('uuFiles: a line declaring 45 bytes in one character decodes to no more bytes than the block has characters', () => {
  const text = `begin 644 bomb.bin\n${'M\n'.repeat(10_000)}end\n`;
  const [file] = uuFiles(text, 4, budget());
  assert.ok((file?.content.length ?? 0) <= 20_000, String(file?.content.length));
});

test('uuFiles: linear in the text, many begin-like lines and one huge block alike', () => {
  const decoys = 'begin 644\n'.repeat(200_000) + 'xbegin 644 a\n'.repeat(200_000);
  let started = performance.now();
  assert.deepEqual(uuFiles(decoys, 4, budget()), []);
  assert.ok(performance.now() - started < 1000);
  // Flat, as text decoded from a part is (a concatenated string is read slower).
  const big = Buffer.from(uuencode('big.bin', bytes(600_000)), 'latin1').toString('latin1');
  started = performance.now();
  assert.equal(uuFiles(big, 4, { files: 1, bytes: 1 << 30 })[0]?.content.length, 600_000);
  assert.ok(performance.now() - started < 1000);
});

test('uudecodeBody: a Content-Transfer-Encoding x-uuencode body, lines before its begin line skipped', () => {
  const body = Buffer.from(`junk\r\n${uuencode('invoice.exe', Buffer.from('MZ program'), '\r\n')}`, 'latin1');
  assert.deepEqual(uudecodeBody(body), { name: 'invoice.exe', content: Buffer.from('MZ program') });
  assert.equal(uudecodeBody(Buffer.from('M35J0\r\n')), undefined, 'no begin line: nothing a reader decodes');
  const utf8 = Buffer.from(uuencode('счёт.exe', Buffer.from('x')), 'utf8');
  assert.equal(uudecodeBody(utf8)?.name, 'счёт.exe');
  for (const e of ['x-uuencode', 'x-uue', 'uuencode', 'uue']) assert.ok(isUuencoding(e));
  assert.ok(!isUuencoding('base64'));
});
