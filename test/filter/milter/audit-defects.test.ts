/**
 * Defects found by an audit of the milter client, each against a scripted milter on loopback
 * (test/support/fake-milter.ts): header changes in quadratic time and without a cap, a NUL in a header
 * value hiding its rest from the milter, SMFIR_PROGRESS stretching a step before MAIL, a replacement
 * body with overlong lines, changes not negotiated dropped without a word, "550" as a reply with a
 * trailing space.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  filterMessage,
  MilterClient,
  MilterTimeoutError,
  MilterUnavailableError,
  type Modification,
  modifyMessage,
  parseReplyCode,
} from '../../../src/filter/milter/index.ts';
import { action } from '../../../src/filter/milter/protocol.ts';
import { runMilter } from '../../../src/filter/milter-stage.ts';
import { renderReply, reply } from '../../../src/smtp/replies.ts';
import { type Answer, fakeMilter, u32, z } from '../../support/fake-milter.ts';
import { CONTENT, ENVELOPE, milterConfig, PEER, SITE } from '../../support/milter-stage.ts';

const request = { envelope: ENVELOPE, peer: PEER, content: CONTENT };

test('50,000 header changes are applied in well under a second (they took seconds: findIndex and splice each)', () => {
  const message = Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n');
  const mods: Modification[] = [];
  // Past the last occurrence: each adds a field, as the audit's 50,000 SMFIR_CHGHEADER did (15 s).
  for (let i = 0; i < 15_000; i++) mods.push({ type: 'chgheader', index: 1_000_000, name: 'X-C', value: ' v' });
  for (let i = 0; i < 10_000; i++) mods.push({ type: 'insheader', index: 1, name: 'X-I', value: ` ${i}` });
  // All taken away again: the result is within HEADER_LIMITS, and is the message itself.
  for (let i = 0; i < 15_000; i++) mods.push({ type: 'chgheader', index: 1, name: 'X-C', value: '' });
  for (let i = 0; i < 10_000; i++) mods.push({ type: 'chgheader', index: 1, name: 'x-i', value: '' });
  const started = performance.now();
  const { content } = modifyMessage(message, mods);
  const took = performance.now() - started;
  assert.ok(took < 1000, `${Math.round(took)} ms`);
  assert.equal(content.toString(), message.toString());
});

test('header changes keep Sendmail semantics through the blocks: nth of a name, insert, delete, replace', () => {
  const message = Buffer.from(`${Array.from({ length: 300 }, (_, i) => `X-N: ${i}`).join('\r\n')}\r\n\r\nb\r\n`);
  const mods: Modification[] = [
    { type: 'chgheader', index: 150, name: 'x-n', value: ' changed' },
    { type: 'insheader', index: 100, name: 'X-N', value: ' inserted' },
    { type: 'chgheader', index: 101, name: 'X-N', value: '' }, // the inserted one
    { type: 'chgheader', index: 300, name: 'X-N', value: ' last' },
    { type: 'chgheader', index: 301, name: 'X-N', value: ' added' },
  ];
  const want = Array.from({ length: 300 }, (_, i) => `X-N: ${i}`);
  want[149] = 'X-N: changed';
  want[299] = 'X-N: last';
  want.push('X-N: added');
  assert.equal(modifyMessage(message, mods).content.toString(), `${want.join('\r\n')}\r\n\r\nb\r\n`);
});

// client.ts MAX_MODIFICATIONS, written out so that this file loads against code without it.
const MAX_MODIFICATIONS = 10_000;

test('more than MAX_MODIFICATIONS change packets at eom: the milter fails (its onUnavailable applies)', async (t) => {
  const many: Answer[] = Array.from({ length: MAX_MODIFICATIONS + 1 }, () => ['h', z('X-A', 'v')] as Answer);
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [...many, ['c']] : ['c']));
  t.after(() => milter.close());
  const outcome = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(outcome.kind, 'unavailable');
  assert.match(outcome.kind === 'unavailable' ? outcome.error.message : '', /more than 10000 header, envelope/);
});

test('header changes that grow the header past HEADER_LIMITS (1,000 fields) fail the milter', async (t) => {
  let count = 0;
  const milter = await fakeMilter(0, (p) =>
    p.code === 'E' ? [...Array.from({ length: count }, () => ['h', z('X-A', 'v')] as Answer), ['c']] : ['c'],
  );
  t.after(() => milter.close());
  count = 999; // 1,000 fields with the Subject: taken
  const taken = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(taken.kind, 'continue');
  count = 1000;
  const over = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(over.kind, 'unavailable');
  assert.match(over.kind === 'unavailable' ? over.error.message : '', /header of more than 1000 fields/);
});

test('a NUL in a header field goes to the milter as a space: libmilter would read the value to the NUL', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  const content = Buffer.from('Subject: hello\0 buy SPAM now\r\n\r\nbody\r\n');
  await filterMessage(client, { from: 'a@example.com', recipients: ['b@example.com'], content });
  // A name too, as a caller may pass one (filterMessage sends only printable names).
  await client.mail('a@example.com');
  await client.header('X-A\0B', ' v');
  await client.quit();
  const sent = milter.received.filter((p) => p.code === 'L').map((p) => p.data.toString('latin1'));
  assert.deepEqual(sent, ['Subject\0hello  buy SPAM now\0', 'X-A B\0v\0']);
  await milter.close();
});

for (const [step, code] of [
  ['connect', 'C'],
  ['helo', 'H'],
] as const) {
  test(`SMFIR_PROGRESS at ${step} does not stretch the step past replyTimeoutMs`, async (t) => {
    // One progress 450 ms into a 600 ms reply time, then nothing: the wait ends at 600 ms, not 1,050.
    const milter = await fakeMilter(0, (p) => (p.code === code ? 'silent' : ['c']));
    t.after(() => milter.close());
    const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 600 } });
    t.after(() => client.destroy());
    const info = { hostname: 'client.example', address: '192.0.2.30', port: 4000 };
    if (step === 'helo') await client.connect(info);
    const started = Date.now();
    const waiting = step === 'connect' ? client.connect(info) : client.helo('client.example');
    // The fake milter answers nothing to this step; its progress is written here, raw, at 450 ms.
    const progress = setTimeout(() => milter.send('p'), 450);
    t.after(() => clearTimeout(progress));
    await assert.rejects(waiting, (err) => {
      assert.ok(err instanceof MilterTimeoutError);
      assert.equal(err.stage, step);
      assert.match(err.message, /no reply in 600 ms/);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 550 && took < 900, `${took} ms`);
  });
}

test('a replacement body with a line over 998 octets fails the milter; 998 is fine (RFC 5322 §2.1.1)', async (t) => {
  let body = Buffer.alloc(0);
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [['b', body], ['c']] : ['c']));
  t.after(() => milter.close());
  body = Buffer.from(`short\r\n${'a'.repeat(998)}\nend`);
  const taken = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(taken.kind, 'continue');
  assert.ok(taken.kind === 'continue' && taken.content.toString().endsWith(`${'a'.repeat(998)}\r\nend\r\n`));
  body = Buffer.from(`short\r\n${'a'.repeat(999)}\r\nend\r\n`);
  const over = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(over.kind, 'unavailable');
  assert.match(over.kind === 'unavailable' ? over.error.message : '', /a line of 999 octets \(998 at most\)/);
});

test('changes the milter did not negotiate are left out with one warning per action', async (t) => {
  const eom: Answer[] = [
    ['q', z('held?')],
    ['q', z('held again?')],
    ['h', z('X-Spam', 'Yes')],
    ['m', Buffer.concat([u32(1), z('Subject', 'changed')])],
    ['b', Buffer.from('new body\r\n')],
    ['c'],
  ];
  // SMFIF_CHGHDRS only: the rest was never asked for.
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? eom : ['c']), { actions: action.chghdrs });
  t.after(() => milter.close());
  const outcome = await runMilter(milterConfig(milter.spec), request, SITE);
  assert.equal(outcome.kind, 'continue');
  assert.ok(outcome.kind === 'continue' && outcome.content.toString() === 'Subject: changed\r\n\r\nhi\r\n');
  assert.deepEqual(outcome.warnings, [
    'SMFIR_QUARANTINE without SMFIF_QUARANTINE negotiated: ignored',
    'SMFIR_ADDHEADER without SMFIF_ADDHDRS negotiated: ignored',
    'SMFIR_REPLBODY without SMFIF_CHGBODY negotiated: ignored',
  ]);
});

test('SMFIR_REPLYCODE without text: no trailing space in the reply', () => {
  for (const [text, want] of [
    ['550', '550 5.7.1 Command rejected\r\n'],
    ['550 5.7.2', '550 5.7.2 Command rejected\r\n'],
    ['451 4.7.1   ', '451 4.7.1 Service unavailable - try again later\r\n'],
    ['550-5.7.1 first\r\n550 5.7.1 ', '550 5.7.1 first\r\n'],
    ['550 5.7.1 spam  ', '550 5.7.1 spam\r\n'],
  ] as const) {
    const parsed = parseReplyCode(text);
    assert.ok(parsed, text);
    assert.equal(renderReply(reply(parsed.code, parsed.enhanced, ...parsed.lines)), want, text);
  }
});

test('the eom failures above are MilterUnavailableError at eom for a caller of modifyMessage', () => {
  assert.throws(
    () => modifyMessage(CONTENT, [{ type: 'replbody', body: Buffer.alloc(2000, 0x41) }]),
    (err) => err instanceof MilterUnavailableError && err.stage === 'eom',
  );
});
