import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tagSubject } from '../../../src/filter/actions/subject-tag.ts';
import { parseMessage } from '../../../src/mime/message.ts';

const TAG = '[PHISHING?] ';

function message(headers: string, body = 'Body text.\r\n'): Buffer {
  return Buffer.from(`From: a@example.com\r\n${headers}To: b@example.org\r\n\r\n${body}`, 'latin1');
}

async function subjectOf(content: Buffer): Promise<string> {
  return (await parseMessage(content)).subject;
}

test('ASCII subject: the tag in front, every other byte kept', () => {
  const out = tagSubject(message('Subject: Your account is locked\r\n'), TAG);
  assert.equal(
    out.toString(),
    'From: a@example.com\r\nSubject: [PHISHING?] Your account is locked\r\nTo: b@example.org\r\n\r\nBody text.\r\n',
  );
});

test('encoded-word subject: the words stay as written and decode after the tag', async () => {
  const word = '=?UTF-8?B?0JLQsNGIINCw0LrQutCw0YPQvdGCINC30LDQsdC70L7QutC40YDQvtCy0LDQvQ==?=';
  const out = tagSubject(message(`Subject: ${word}\r\n`), TAG);
  assert.ok(out.toString().includes(`\r\nSubject: [PHISHING?]\r\n ${word}\r\n`)); // folded: 80 characters
  assert.equal(await subjectOf(out), '[PHISHING?] Ваш аккаунт заблокирован');
  const short = tagSubject(message('Subject: =?utf-8?Q?=D0=A1=D1=87=D1=91=D1=82?=\r\n'), TAG);
  assert.ok(short.toString().includes('\r\nSubject: [PHISHING?] =?utf-8?Q?=D0=A1=D1=87=D1=91=D1=82?=\r\n'));
  assert.equal(await subjectOf(short), '[PHISHING?] Счёт');
});

test('a tag that is not ASCII becomes an encoded-word and keeps its space before another word', async () => {
  const out = tagSubject(message('Subject: =?utf-8?Q?=D0=A1=D1=87=D1=91=D1=82?=\r\n'), '[ФИШИНГ?] ');
  assert.equal(await subjectOf(out), '[ФИШИНГ?] Счёт');
  const plain = tagSubject(message('Subject: Invoice\r\n'), '[ФИШИНГ?]');
  assert.equal(await subjectOf(plain), '[ФИШИНГ?] Invoice');
  assert.match(plain.toString(), /\r\nSubject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= Invoice\r\n/);
});

test('a missing Subject is added at the end of the header section', async () => {
  const out = tagSubject(message(''), TAG);
  assert.equal(
    out.toString(),
    'From: a@example.com\r\nTo: b@example.org\r\nSubject: [PHISHING?]\r\n\r\nBody text.\r\n',
  );
  assert.equal(await subjectOf(out), '[PHISHING?]');
  const headersOnly = Buffer.from('From: a@example.com');
  assert.equal(tagSubject(headersOnly, TAG).toString(), 'From: a@example.com\nSubject: [PHISHING?]\n');
});

test('an empty Subject becomes the tag', async () => {
  assert.equal(await subjectOf(tagSubject(message('Subject:\r\n'), TAG)), '[PHISHING?]');
});

test('never tagged twice: the same Buffer comes back', () => {
  const once = tagSubject(message('Subject: Hello\r\n'), TAG);
  assert.equal(tagSubject(once, TAG), once);
  const encoded = message('Subject: =?utf-8?Q?=5BPHISHING=3F=5D_Hello?=\r\n');
  assert.equal(tagSubject(encoded, TAG), encoded);
});

test('a long subject is folded after the tag, lines ≤ 78, and unfolds to the same text', async () => {
  const long = 'Urgent: your mailbox storage is full and incoming messages are being held now';
  const out = tagSubject(message(`Subject: ${long}\r\n`), TAG);
  assert.ok(out.toString().includes(`\r\nSubject: [PHISHING?]\r\n ${long}\r\n`));
  for (const line of out.toString().split('\r\n')) assert.ok(line.length <= 78, line);
  assert.equal(await subjectOf(out), `[PHISHING?] ${long}`);
});

test('a folded subject keeps its folding', async () => {
  const out = tagSubject(message('Subject: Part one\r\n part two\r\n'), TAG);
  assert.ok(out.toString().includes('\r\nSubject: [PHISHING?] Part one\r\n part two\r\nTo:'));
  assert.equal(await subjectOf(out), '[PHISHING?] Part one part two');
});

test('raw UTF-8 subject (RFC 6532) keeps its bytes', async () => {
  const raw = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Счёт к оплате'), Buffer.from('\r\n\r\nx')]);
  const out = tagSubject(raw, TAG);
  assert.ok(
    out.equals(
      Buffer.concat([Buffer.from('Subject: [PHISHING?] '), Buffer.from('Счёт к оплате'), Buffer.from('\r\n\r\nx')]),
    ),
  );
});

test('only the top-level header section: a Subject in the body is not touched', () => {
  const out = tagSubject(message('', 'Subject: not a header\r\n'), TAG);
  assert.ok(out.toString().endsWith('\r\n\r\nSubject: not a header\r\n'));
});
