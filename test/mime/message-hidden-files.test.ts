/**
 * Files a reader shows that a first reading of the MIME structure does not: uuencoded blocks in a
 * plain-text body, the x-uuencode transfer encodings, and a later Content-Type or Content-Disposition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER_LIMITS } from '../../src/mime/header-section.ts';
import { type MessageAttachment, parseMessageSync } from '../../src/mime/message.ts';
import { uuencode } from './uuencode-helpers.ts';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

const HEAD = 'From: a@x.example\nTo: b@y.example\nSubject: Invoice\nMIME-Version: 1.0\n';
const PROGRAM = Buffer.from('MZ\x90\x00 a Windows program', 'latin1');

function row(a: MessageAttachment): unknown[] {
  return [a.filename, a.names, a.contentType, a.disposition, Buffer.from(a.content).toString('latin1'), a.alsoText];
}

test('a uuencoded block in a text/plain body is an attachment; the text keeps the block', () => {
  const block = uuencode('invoice.exe', PROGRAM);
  const parsed = parseMessageSync(wire(`${HEAD}Content-Type: text/plain\n\nInvoice attached.\n\n${block}\nRegards\n`));
  assert.deepEqual(parsed.attachments.map(row), [
    ['invoice.exe', undefined, 'application/octet-stream', 'attachment', PROGRAM.toString('latin1'), undefined],
  ]);
  assert.equal(parsed.text, `Invoice attached.\n\n${block}\nRegards\n`);
});

test('uuencoded blocks: in a quoted-printable part of a multipart, several, at most four a part; none in HTML', () => {
  const blocks = ['a.exe', 'b.exe', 'c.exe', 'd.exe', 'e.exe'].map((n) => uuencode(n, PROGRAM)).join('');
  const qp = blocks.replaceAll('=', '=3D');
  const parsed = parseMessageSync(
    wire(
      `${HEAD}Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n${qp}--b\nContent-Type: text/html\n\n<pre>\n${uuencode('f.exe', PROGRAM)}</pre>\n--b--\n`,
    ),
  );
  assert.deepEqual(
    parsed.attachments.map((a) => a.filename),
    ['a.exe', 'b.exe', 'c.exe', 'd.exe'],
  );
  for (const a of parsed.attachments) assert.deepEqual(Buffer.from(a.content), PROGRAM);
});

test('a part in Content-Transfer-Encoding x-uuencode (x-uue, uuencode) is decoded; the begin line’s name is one of its names', () => {
  for (const cte of ['x-uuencode', 'X-UUE', 'uuencode']) {
    const body = uuencode('invoice.exe', PROGRAM);
    const part = (type: string) =>
      parseMessageSync(
        wire(
          `${HEAD}Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nSee attached.\n--b\nContent-Type: ${type}\nContent-Transfer-Encoding: ${cte}\n\n${body}--b--\n`,
        ),
      ).attachments.map(row);
    assert.deepEqual(part('application/octet-stream; name="invoice.dat"'), [
      [
        'invoice.dat',
        ['invoice.dat', 'invoice.exe'],
        'application/octet-stream',
        '',
        PROGRAM.toString('latin1'),
        undefined,
      ],
    ]);
    assert.deepEqual(part('application/octet-stream'), [
      ['invoice.exe', undefined, 'application/octet-stream', '', PROGRAM.toString('latin1'), undefined],
    ]);
  }
  // A text part so encoded is shown decoded, as a base64 one is.
  const text = parseMessageSync(
    wire(
      `${HEAD}Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\n${uuencode('a.txt', Buffer.from('Hello\n'))}`,
    ),
  );
  assert.equal(text.text, 'Hello\n');
  assert.deepEqual(text.attachments.map(row), [['a.txt', undefined, 'text/plain', '', 'Hello\n', true]]);
});

test('a later Content-Type names the file a reader taking the last field saves: judged as that type and name too', () => {
  const parsed = parseMessageSync(
    wire(
      `${HEAD}Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: text/plain\nContent-Type: application/octet-stream; name="evil.exe"\nContent-Transfer-Encoding: base64\n\n${PROGRAM.toString('base64')}\n--B--\n`,
    ),
  );
  const program = PROGRAM.toString('latin1');
  assert.deepEqual(parsed.attachments.map(row), [
    ['evil.exe', undefined, 'text/plain', '', program, true],
    ['evil.exe', undefined, 'application/octet-stream', '', program, true],
  ]);
  assert.ok(parsed.text.startsWith('hi\n'), 'the first reading still shows the text');
});

test('a later Content-Disposition’s file name is one of the part’s names', () => {
  const parsed = parseMessageSync(
    wire(
      `${HEAD}Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="invoice.pdf"\nContent-Disposition: attachment; filename="evil.exe"\n\nabc\n--B--\n`,
    ),
  );
  assert.deepEqual(parsed.attachments.map(row), [
    ['invoice.pdf', ['invoice.pdf', 'evil.exe'], 'application/octet-stream', 'attachment', 'abc', undefined],
  ]);
});

test('a later multipart Content-Type: the body is read as text and as those parts too', () => {
  const raw = `${HEAD}Content-Type: text/plain\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="evil.exe"\n\nabc\n--B--\n`;
  const parsed = parseMessageSync(wire(raw));
  assert.deepEqual(parsed.attachments.map(row), [
    ['evil.exe', undefined, 'application/octet-stream', 'attachment', 'abc', undefined],
  ]);
  assert.ok(parsed.text.startsWith('--B\n'), 'the text as a reader taking the first field shows it');
  assert.ok(parsed.text.endsWith('\nhi\n'), 'and the text part');
});

test('later fields past HEADER_LIMITS are found by the one-pass scan too', () => {
  const padding = 'X-Pad: x\n'.repeat(HEADER_LIMITS.fields + 10);
  const parsed = parseMessageSync(
    wire(
      `${HEAD}Content-Type: multipart/mixed; boundary=B\n\n--B\n${padding}Content-Type: application/pdf\nContent-Disposition: attachment; filename="a.pdf"\nContent-Type: application/x-msdownload\nContent-Disposition: attachment;\n filename="evil.exe"\n\nabc\n--B--\n`,
    ),
  );
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.names, a.contentType]),
    [
      ['a.pdf', ['a.pdf', 'evil.exe'], 'application/pdf'],
      ['a.pdf', ['a.pdf', 'evil.exe'], 'application/x-msdownload'],
    ],
  );
});

test('a message with one of each field and no begin line parses as before', () => {
  const parsed = parseMessageSync(
    wire(
      `${HEAD}Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nbegin the meeting at 10\n--B\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment\n\n%PDF\n--B--\n`,
    ),
  );
  assert.equal(parsed.text, 'begin the meeting at 10\n');
  assert.deepEqual(parsed.attachments.map(row), [
    ['a.pdf', undefined, 'application/pdf', 'attachment', '%PDF', undefined],
  ]);
});
