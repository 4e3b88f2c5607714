/**
 * Patterns that ran in quadratic time on what a sender writes, each on the server's event loop: the
 * inputs below took seconds before (numbers in each test). Results are asserted; the time bound is
 * generous, only telling linear from quadratic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findBodyTextParts } from '../../../../src/filter/actions/mime-parts.ts';
import { parseToUnicode } from '../../../../src/filter/phishing/attachments/pdf-cmap.ts';
import { readPdf } from '../../../../src/filter/phishing/attachments/pdf-content.ts';
import { transferEncodingOf } from '../../../../src/mime/entity.ts';
import { parseMessageSync } from '../../../../src/mime/message.ts';
import { file, signals } from './attachment-helpers.ts';

function timed<T>(what: string, run: () => T): T {
  const started = performance.now();
  const result = run();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1000, `${what}: ${elapsed.toFixed(0)} ms`);
  return result;
}

test("a PDF's object headers are found in linear time: a run of 80,000 digits (5 s before)", () => {
  const pdf = Buffer.from(`%PDF-1.4\n/ToUnicode\n${'1'.repeat(80_000)}\n`, 'latin1');
  timed('digits', () => readPdf(new Uint8Array(pdf)));
  // Still read: a font's ToUnicode map behind ordinary object headers.
  const font = Buffer.from(
    '%PDF-1.4\n1 0 obj\n<< /Type /Page /Resources << /Font << /F1 2 0 R >> >> /Contents 4 0 R >>\nendobj\n' +
      '2 0 obj\n<< /Type /Font /ToUnicode 3 0 R >>\nendobj\n',
    'latin1',
  );
  assert.doesNotThrow(() => readPdf(new Uint8Array(font)));
});

test('a ToUnicode map with 40,000 arrays left open is read in linear time (6 s before)', () => {
  const open = `begincodespacerange <00> <ff> endcodespacerange beginbfrange ${'<0><0>['.repeat(40_000)} endbfrange`;
  assert.equal(
    timed('open arrays', () => parseToUnicode(open)),
    undefined,
  );
  // Arrays that close are still read, before and after a plain destination.
  const map = parseToUnicode(
    'begincodespacerange <00> <ff> endcodespacerange beginbfrange <01> <02> [<0041> <0042>] <03> <03> <0043> endbfrange',
  );
  assert.deepEqual(map?.ranges, [
    ['01', '02', ['0041', '0042']],
    ['03', '03', '0043'],
  ]);
});

test("a multipart/related part's Content-ID of 100,000 folded spaces is read in linear time (14 s before)", () => {
  const fold = (text: string) => text.replace(/(.{900})/g, '$1\r\n');
  const message = Buffer.from(
    'From: a@example.com\r\nContent-Type: multipart/related; boundary="r"; start="<root@x>"\r\n\r\n' +
      `--r\r\nContent-Type: text/plain\r\nContent-ID: <a${fold(' '.repeat(100_000))}x\r\n\r\nPlease see.\r\n` +
      '--r\r\nContent-Type: text/plain\r\nContent-ID: < root@x >\r\n\r\nThe root.\r\n--r--\r\n',
  );
  const found = timed('content-id', () => findBodyTextParts(message));
  // RFC 2387 §3.2: start names the root by its Content-ID, brackets and white space aside; the first
  // part is kept too, for readers that do not follow start.
  const texts = found.parts.map((p) => message.subarray(p.bodyStart, p.bodyEnd).toString());
  assert.deepEqual(texts, ['The root.', 'Please see.']);
});

test('a Content-Transfer-Encoding of 200,000 open comments is read in linear time (40 s before, per part)', () => {
  assert.equal(
    timed('open comments', () => transferEncodingOf('('.repeat(200_000))),
    '7bit',
  );
  const fold = (text: string) => text.replace(/(.{900})/g, '$1\r\n ');
  const message = Buffer.from(
    `From: a@example.com\r\nContent-Transfer-Encoding: ${fold('('.repeat(100_000))}\r\n\r\nhello\r\n`,
  );
  timed('a message', () => parseMessageSync(message));
  // RFC 5322 §3.2.2: comments nest, and a quoted-pair escapes a parenthesis.
  assert.equal(transferEncodingOf('BASE64 (comment)'), 'base64');
  assert.equal(transferEncodingOf('((nested) comment) quoted-printable (x)'), 'quoted-printable');
  assert.equal(transferEncodingOf('(\\) base64) 8bit'), '8bit');
});

test("an SVG's href followed by 60,000 spaces is judged in linear time (4 s before)", async () => {
  const started = performance.now();
  const got = await signals([file('a.svg', `<svg><a href=${' '.repeat(60_000)}x/></svg>`, 'image/svg+xml')]);
  assert.ok(performance.now() - started < 1000);
  assert.deepEqual(got, ['svg-attachment:3[a.svg]']);
  // A javascript: link, quoted or not, with white space around the quote, is still active.
  for (const link of ['href="javascript:go()"', "href = ' javascript:go()'", 'href=javascript:go()']) {
    assert.deepEqual(
      await signals([file('b.svg', `<svg><a ${link}>x</a></svg>`, 'image/svg+xml')]),
      ['svg-attachment:4[b.svg]'],
      link,
    );
  }
});
