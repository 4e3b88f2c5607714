// Whatever a sender puts in a message, the detector and the message changes of a verdict finish with an
// answer: corpus messages with bytes flipped, inserted, deleted and repeated (seeded; the seed
// reproduces a case), and a few hostile shapes built on purpose.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CORPUS_DIR } from '../../../bench/phishing-eval.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { insertBanner, warningBanner } from '../../../src/filter/actions/banner.ts';
import { tagSubject } from '../../../src/filter/actions/subject-tag.ts';
import { htmlWithinBudget, MAX_TAGS } from '../../../src/filter/phishing/html-budget.ts';
import { scanMessage, scanSettings } from '../../../src/filter/phishing/scan.ts';
import { Random } from '../../support/fuzz-input.ts';

const config = parseConfig({ domains: ['vostok-trade.ru'] }, 'test');
const settings = scanSettings({
  filter: config.filter,
  localDomains: config.domains,
  authservId: 'mx.vostok-trade.ru',
});
const banner = warningBanner({ language: 'both', reasons: [{ en: 'a <b>reason</b>', ru: 'причина' }] });

const labels = JSON.parse(readFileSync(join(CORPUS_DIR, 'labels.json'), 'utf8')) as { file: string }[];
const seeds = labels.filter((_, i) => i % 9 === 0).map((l) => readFileSync(join(CORPUS_DIR, l.file)));

function mutate(input: Buffer, random: Random): Buffer {
  const bytes = [...input];
  for (let n = 1 + random.int(12); n > 0; n--) {
    const at = random.int(bytes.length + 1);
    const choice = random.int(4);
    if (choice === 0) bytes[at] = random.int(256);
    else if (choice === 1) bytes.splice(at, 0, random.pick([0x0d, 0x0a, 0x2d, 0x3d, 0x3c, 0x22, 0x3b, 0x00, 0xff]));
    else if (choice === 2) bytes.splice(at, 1 + random.int(40));
    else bytes.splice(at, 0, ...bytes.slice(at, at + random.int(200)));
  }
  return Buffer.from(bytes);
}

async function survives(message: Buffer, what: string): Promise<void> {
  const result = await scanMessage(message, settings);
  assert.ok(Number.isFinite(result.score), `${what}: score ${result.score}`);
  assert.ok(Buffer.isBuffer(insertBanner(message, banner)), what);
  assert.ok(Buffer.isBuffer(tagSubject(message, '[PHISHING?]')), what);
}

test('mutated corpus messages are scored and marked without an exception', async () => {
  const random = new Random(20261128);
  let count = 0;
  for (const seed of seeds) {
    for (let i = 0; i < 12; i++) {
      await survives(mutate(seed, random), `seed message ${count} mutation ${i}`);
      count++;
    }
  }
  assert.ok(count >= 250, `${count} cases`);
});

test('hostile shapes: deep multipart nesting, thousands of parts and links, no header end, binary noise', async () => {
  const nested =
    Array.from({ length: 200 }, (_, i) => `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`).join(
      '',
    ) + 'Content-Type: text/plain\r\n\r\nhello\r\n';
  const parts =
    'Content-Type: multipart/mixed; boundary=x\r\n\r\n' +
    '--x\r\nContent-Type: text/html\r\n\r\n<a href="http://192.0.2.1/">https://bank.example</a>\r\n'.repeat(3000) +
    '--x--\r\n';
  const links = `Content-Type: text/html\r\n\r\n${'<a href="https://paypa1.com/x">PayPal</a><form>'.repeat(5000)}`;
  const noise = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 256));
  for (const [what, message] of [
    ['nested', Buffer.from(`From: a@b.example\r\nSubject: x\r\n${nested}`)],
    ['parts', Buffer.from(`From: a@b.example\r\nSubject: x\r\n${parts}`)],
    ['links', Buffer.from(`From: a@b.example\r\nSubject: x\r\n${links}`)],
    ['no header end', Buffer.from(`From: a@b.example\r\nSubject: ${'x'.repeat(100_000)}`)],
    ['noise', noise],
    ['empty', Buffer.alloc(0)],
  ] as const) {
    await survives(message, what);
  }
});

test('333,000 nested tags: the lure before them is read, the HTML parser gets the first 20,000 tags only', async () => {
  // htmlparser2 pays for every open element at each new start tag: this took 21 s of the one thread.
  const html = `<p>Your mailbox is full, confirm your password</p>${'<b>'.repeat(333_000)}x`;
  const message = Buffer.from(`From: a@evil.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n${html}\r\n`);
  const started = performance.now();
  const result = await scanMessage(message, settings);
  assert.ok(performance.now() - started < 5_000, `${Math.round(performance.now() - started)} ms`);
  assert.ok(result.signals.some((s) => s.name === 'credential-request'));
  const cut = htmlWithinBudget(html, html.length);
  assert.equal(cut.match(/<[A-Za-z]/g)?.length, MAX_TAGS);
  assert.equal(htmlWithinBudget('<p>a</p><p>b</p>', 100), '<p>a</p><p>b</p>', 'ordinary HTML is untouched');
});
