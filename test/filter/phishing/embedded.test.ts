import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachmentSignals } from '../../../src/filter/phishing/attachments/attachment-signals.ts';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { detectPhishing } from '../../../src/filter/phishing/detector.ts';
import { attachedBudget, attachedMessages, MAX_ATTACHED_MESSAGES } from '../../../src/filter/phishing/embedded.ts';
import { parseMessage, parseMessageSync } from '../../../src/mime/message.ts';

/** A multipart/mixed message whose parts are these messages, attached as message/rfc822 files. */
function carrying(messages: string[], name: (i: number) => string, boundary = 'B'): string {
  const parts = messages.map(
    (m, i) =>
      `--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="${name(i)}"\r\n\r\n${m}\r\n`,
  );
  return `From: a@example.org\r\nTo: alice@vostok-trade.ru\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${parts.join('')}--${boundary}--\r\n`;
}

const script = [
  'From: b@example.org',
  'Subject: invoice',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="S"',
  '',
  '--S',
  'Content-Type: application/octet-stream; name="invoice.js"',
  'Content-Disposition: attachment; filename="invoice.js"',
  '',
  'WScript.Shell',
  '--S--',
  '',
].join('\r\n');

/**
 * 30 attached messages of 30 attached messages each: 930 in all, of which depth first the first 100 are
 * the 1st to 3rd with their 30 each (93), the 4th and 6 of its own. The last of all carries a script.
 */
function nest(): Buffer {
  const tiny = 'From: c@example.org\r\nSubject: x\r\n\r\nhi\r\n';
  const inner = (i: number) =>
    carrying(
      Array.from({ length: 30 }, (_, j) => (i === 29 && j === 29 ? script : tiny)),
      (j) => `n${j}.eml`,
      'C',
    );
  return Buffer.from(
    carrying(
      Array.from({ length: 30 }, (_, i) => inner(i)),
      (i) => `m${i}.eml`,
    ),
  );
}

test('at most MAX_ATTACHED_MESSAGES attached messages are opened for a message, depth first', () => {
  const top = parseMessageSync(nest());
  assert.equal(MAX_ATTACHED_MESSAGES, 100);
  // Every one of the 930 was parsed here before, on the server's one thread.
  assert.equal(attachedMessages(top.attachments).length, MAX_ATTACHED_MESSAGES);
  const budget = attachedBudget();
  const opened = attachedMessages(top.attachments, budget);
  assert.deepEqual(
    opened.slice(0, 3).map((o) => o.name),
    ['m0.eml', 'm0.eml → n0.eml', 'm0.eml → n1.eml'],
  );
  assert.equal(opened.at(-1)?.name, 'm3.eml → n5.eml');
  // Left closed: the 4th's other 24 and the 26 after it (what those carry is not known).
  assert.equal(budget.left, 0);
  assert.equal(budget.unopened, 24 + 26);
});

test('the attachment checks open the same attached messages as the link checks, within one budget', async () => {
  const top = parseMessageSync(nest());
  const budget = attachedBudget();
  attachedMessages(top.attachments, budget);
  const found = await attachmentSignals({ attachments: top.attachments, text: '', subject: '', attached: budget });
  assert.deepEqual(found, [], 'the script is in the 930th message');
  assert.equal(budget.unopened, 50, 'no other message was opened or counted twice');
  // On its own the attachment check has the same bound.
  const alone = attachedBudget();
  await attachmentSignals({ attachments: top.attachments, text: '', subject: '', attached: alone });
  assert.deepEqual([alone.left, alone.unopened], [0, 50]);
  // Within the budget the script is found.
  const small = parseMessageSync(Buffer.from(carrying([script], () => 'fwd.eml')));
  const signals = await attachmentSignals({ attachments: small.attachments, text: '', subject: '' });
  assert.deepEqual(
    signals.map((s) => s.evidence),
    ['fwd.eml → invoice.js'],
  );
});

test('the detector says how many attached messages it left unopened', async () => {
  const settings = { protectedDomains: [], partnerDomains: [], brands: DEFAULT_BRANDS, people: [], allowlist: [] };
  const report = await detectPhishing({ message: await parseMessage(nest()) }, settings);
  assert.equal(report.unopenedAttachedMessages, 50);
  const few = await detectPhishing(
    { message: await parseMessage(Buffer.from(carrying([script], () => 'a.eml'))) },
    settings,
  );
  assert.equal(few.unopenedAttachedMessages, undefined);
  assert.deepEqual(
    few.signals.map((s) => s.evidence),
    ['a.eml → invoice.js'],
  );
});
