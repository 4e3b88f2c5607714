/**
 * The six audit samples of files a first reading of the MIME structure missed (uuencode, duplicate
 * Content-Type and Content-Disposition fields), parsed and judged as the detector judges them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachmentSignals } from '../../../../src/filter/phishing/attachments/attachment-signals.ts';
import { parseMessageSync } from '../../../../src/mime/message.ts';
import { uuencode } from '../../../mime/uuencode-helpers.ts';
import { pe } from './attachment-helpers.ts';

const HEAD =
  'From: "Billing" <billing@tovary-opt.net>\r\nTo: alice@example.com\r\nSubject: Invoice 4471\r\nMIME-Version: 1.0\r\n';
const PROGRAM = pe();
const uu = uuencode('invoice.exe', PROGRAM, '\r\n');
const b64 = PROGRAM.toString('base64');

function part(headers: string, body: string): string {
  return `${HEAD}Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nPlease see the attached invoice.\r\n--B\r\n${headers}\r\n\r\n${body}\r\n--B--\r\n`;
}

const CASES: [name: string, raw: string][] = [
  ['uuencode-body', `${HEAD}Content-Type: text/plain\r\n\r\nInvoice attached.\r\n\r\n${uu}\r\n`],
  [
    'uuencode-cte',
    part('Content-Type: application/octet-stream; name="invoice.dat"\r\nContent-Transfer-Encoding: x-uuencode', uu),
  ],
  ['uuencode-cte-noname', part('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode', uu)],
  [
    'dup-ctype',
    part(
      'Content-Type: text/plain\r\nContent-Type: application/octet-stream; name="evil.exe"\r\nContent-Transfer-Encoding: base64',
      b64,
    ),
  ],
  [
    'dup-cdisp',
    part(
      'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="invoice.pdf"\r\nContent-Disposition: attachment; filename="evil.exe"',
      'abc',
    ),
  ],
  [
    'dup-top-ctype',
    `${HEAD}Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="evil.exe"\r\n\r\nabc\r\n--B--\r\n`,
  ],
];

for (const [name, raw] of CASES) {
  test(`${name}: the program a reader shows is judged (executable-attachment)`, async () => {
    const message = parseMessageSync(Buffer.from(raw, 'latin1'));
    const got = await attachmentSignals(message);
    assert.ok(
      got.some((s) => s.name === 'executable-attachment' && s.weight === 5),
      got.map((s) => `${s.name}:${s.weight}`).join(', ') || 'no signal',
    );
  });
}

test('a letter that says "begin 644" in passing and one plain attachment give no signal', async () => {
  const raw = part(
    'Content-Type: application/pdf; name="invoice.pdf"\r\nContent-Disposition: attachment',
    '%PDF-1.4',
  ).replace('Please see the attached invoice.', 'To begin 644 pages\r\nbegin the review\r\nend');
  assert.deepEqual(await attachmentSignals(parseMessageSync(Buffer.from(raw, 'latin1'))), []);
});
