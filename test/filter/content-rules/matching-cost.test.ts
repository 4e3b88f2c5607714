import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspectMessage, matchTable, parseRuleFile } from '../../../src/filter/content-rules/index.ts';
import { MAX_MATCH_WORK } from '../../../src/filter/content-rules/inspect.ts';
import { compilePattern } from '../../../src/filter/content-rules/pattern.ts';

// The audit's rule set: 200 ordinary rules that match nothing in the messages below.
const words = Array.from({ length: 200 }, (_, i) => `spamword${i}x`);
const body = parseRuleFile(words.map((w) => `/${w}/ REJECT bad ${w}`).join('\n'), 'body_checks', 'body');
const anchored = parseRuleFile(words.map((w) => `/^Subject:.*${w}/ REJECT bad ${w}`).join('\n'), 'header_checks');
const unanchored = parseRuleFile(words.map((w) => `/${w}/ REJECT bad ${w}`).join('\n'), 'header_checks');
const line = 'a'.repeat(996);

test('the prefilter never changes a result: patterns × inputs, with and without it', () => {
  const patterns = [
    'spamword',
    '^Subject:.*viagra',
    'free\\.money',
    'a+bc',
    'ab?cd',
    'ab*cd',
    'xy{0,2}zw',
    'xy{2}zw',
    'ab+?cd',
    'abc|def',
    '(abc|def)ghi',
    '[abc]def',
    'a.b.c',
    '\\<cat\\>s',
    'hello\\s+world',
    'Kelvin',
    'mass',
    'stress',
    'ſtar',
    'café',
    'CAFÉ',
    '😀*abc',
    'ab😀+cd',
    'a{,2}bc',
    'x\\{y',
    '^$',
    '\\(paren\\)',
    'Straße',
    'İstanbul',
    'x\\.y',
  ];
  const inputs = [
    '',
    'Subject: buy VIAGRA now',
    'spamword',
    'SPAMWORD',
    'free.money',
    'FREE.MONEY',
    'abc',
    'aaabc',
    'abcd',
    'acd',
    'abbbcd',
    'xzw',
    'xyyzw',
    'XYYZW',
    'abbcd',
    'def',
    'defghi',
    'bdef',
    'a-b-c',
    'cats',
    'the CATS',
    'hello \t world',
    'KELVIN',
    '\u212Aelvin', // KELVIN SIGN: RE2 folds it to k
    'ma\u017F\u017F', // LONG S: RE2 folds it to s
    '\u017Ftre\u017F\u017F',
    'STAR',
    'café',
    'CAFÉ',
    'abc',
    '😀😀abc',
    'ab😀😀cd',
    'abcd',
    'bc',
    'a{,2}bc',
    'x{y',
    '(paren)',
    'STRASSE',
    'straße',
    'istanbul',
    'İstanbul',
    'xy',
  ];
  for (const source of patterns) {
    for (const flags of ['', 'i']) {
      const table = parseRuleFile(`/${source}/${flags} WARN hit`, 'rules');
      for (const input of inputs) {
        const fast = matchTable(table, input, { used: 0, limit: Number.POSITIVE_INFINITY, spent: false });
        const full = matchTable(table, input, {
          used: 0,
          limit: Number.POSITIVE_INFINITY,
          spent: false,
          noPrefilter: true,
        });
        assert.deepEqual(fast, full, `/${source}/${flags} on ${JSON.stringify(input)}`);
      }
    }
  }
});

test('the prefilter never changes a result: random patterns over random inputs', () => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const pick = <T>(list: readonly T[]): T => list[rand(list.length)] as T;
  const atoms = ['a', 'b', 'k', 's', 'K', 'S', 'é', 'É', '😀', '.', '[ab]', '(a|b)', '\\.', '-', ' '];
  const quantifiers = ['', '', '', '*', '+', '?', '{0,1}', '{2}', '{1,}', '+?'];
  const chars = ['a', 'b', 'A', 'B', 'k', 'K', 's', 'S', '\u017F', '\u212A', 'é', 'É', '😀', '.', '-', ' '];
  const work = (noPrefilter: boolean) => ({ used: 0, limit: Number.POSITIVE_INFINITY, spent: false, noPrefilter });
  for (let n = 0; n < 300; n++) {
    let source = '';
    for (let len = 1 + rand(6); len > 0; len--) source += pick(atoms) + pick(quantifiers);
    if (rand(8) === 0) source += `|${pick(atoms)}`;
    const table = parseRuleFile(`/${source}/${rand(2) ? 'i' : ''} WARN hit`, 'rules');
    for (let k = 0; k < 40; k++) {
      let input = '';
      for (let len = rand(12); len > 0; len--) input += pick(chars);
      assert.deepEqual(
        matchTable(table, input, work(false)),
        matchTable(table, input, work(true)),
        `/${source}/ ${input}`,
      );
    }
  }
});

test('literal text: only what every match must contain, lower-cased under case folding', () => {
  const req = (source: string, flags = { caseInsensitive: true, extended: true, multiline: false }) =>
    compilePattern(source, flags).required;
  assert.equal(req('^Subject:.*spamword5x'), 'pamword5x'); // s folds to U+017F: runs break there
  assert.equal(req('viagra|cialis'), undefined); // a top-level alternation
  assert.equal(req('(a|b)hello'), 'hello');
  assert.equal(req('ab*cd'), 'cd');
  assert.equal(req('abc+d'), 'abc');
  assert.equal(req('x{0,3}yz'), 'yz');
  assert.equal(req('\\Qliteral\\E'), undefined);
  assert.equal(req('Kelvin'), 'elvin');
  assert.equal(req('Café', { caseInsensitive: false, extended: true, multiline: false }), 'Café');
  assert.equal(req('Cafés'), 'caf', 'under case folding, non-ASCII ends a run');
});

test("the audit's worst cases now give RE2 next to no text", () => {
  let parts = 'From: a@b.example\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n';
  for (let p = 0; p < 25; p++) parts += `--XX\r\n\r\n${`${line}\r\n`.repeat(52)}`;
  const bodyParts = inspectMessage(Buffer.from(`${parts}--XX--\r\n`), { body });
  assert.equal(bodyParts.verdict.action, 'accept');
  // Before: every line times 200 rules, 205 million characters (13–24 s).
  assert.equal(bodyParts.work, 0);

  const folded = `Subject: x${`\r\n ${'a'.repeat(990)}`.repeat(100)}`;
  const pad = `\r\nX-Pad: ${'b'.repeat(990)}`.repeat(150);
  const big = Buffer.from(`From: a@b.example\r\n${folded}${pad}\r\n\r\nbody\r\n`);
  assert.equal(inspectMessage(big, { header: anchored }).work, 0); // before: 7.5 s
  assert.equal(inspectMessage(big, { header: unanchored }).work, 0); // before: 9.7 s

  // A rule that does run is paid for: 200 rules over a Subject that holds their literal text.
  const subject = Buffer.from(`From: a@b.example\r\nSubject: ${'spamword '.repeat(10_000)}\r\n\r\nx\r\n`);
  const r = inspectMessage(subject, {
    header: parseRuleFile(words.map((w) => `/^subject:.*${w}|nope/ WARN x`).join('\n')),
  });
  assert.ok(r.work <= MAX_MATCH_WORK, `${r.work}`);
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [['header_checks', 'skipped']],
  );
});

test('the work budget: rules without literal text stop at MAX_MATCH_WORK, with one finding; the rest is kept', () => {
  assert.equal(MAX_MATCH_WORK, 500_000);
  const rules = parseRuleFile(
    Array.from({ length: 200 }, (_, i) => `/spam${i}word|ham${i}egg/ REJECT x`).join('\n'),
    'body_checks',
    'body',
  );
  let m = 'From: a@b.example\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n';
  for (let p = 0; p < 25; p++) m += `--XX\r\n\r\n${`${line}\r\n`.repeat(52)}`;
  const message = Buffer.from(`${m}--XX--\r\n`);
  const r = inspectMessage(message, { body: rules });
  assert.ok(r.work <= MAX_MATCH_WORK && r.work > MAX_MATCH_WORK - 200 * 1000, `${r.work}`);
  assert.equal(r.verdict.action, 'accept');
  assert.equal(r.message, undefined);
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result, f.reason]),
    [
      [
        'body_checks',
        'skipped',
        `content rules stopped after ${r.work} of 500000 characters of matching, the limit per message`,
      ],
    ],
  );
  // 60,000 empty lines: each run costs RUN_CHARGE too, so short lines are no way around the budget.
  const empty = inspectMessage(Buffer.from(`From: a@b.example\r\n\r\n${'\r\n'.repeat(60_000)}`), { body: rules });
  assert.ok(empty.work <= MAX_MATCH_WORK);
  assert.equal(empty.findings[0]?.result, 'skipped');
  // A generous wall-clock sanity check: the old code took 13–24 s on the 25 parts.
  const t = performance.now();
  inspectMessage(message, { body: rules });
  assert.ok(performance.now() - t < 5000);
  // The key: set higher, the same message is matched further.
  assert.ok(inspectMessage(message, { body: rules, maxMatchWork: 2 * MAX_MATCH_WORK }).work > MAX_MATCH_WORK);
});

test('a body line longer than bodyChecksSizeLimit is matched only up to it', () => {
  const rules = parseRuleFile('/q|z/ WARN x\n/tail/ REJECT found', 'body_checks', 'body');
  const message = Buffer.from(`From: a@b.example\r\n\r\n${'a'.repeat(10_000_000)}tail\r\n`);
  const r = inspectMessage(message, { body: rules, maxMatchWork: Number.POSITIVE_INFINITY });
  // Before: the whole 10 MB line, to both rules (the second's literal text is at its end).
  assert.equal(r.work, 51_200 + 32);
  assert.equal(r.verdict.action, 'accept', 'the tail past the limit is not matched');
  // A line that starts within the limit is matched whole up to 998 octets, as Postfix matches a record.
  const near = Buffer.from(`From: a@b.example\r\n\r\n${`${'x'.repeat(98)}\r\n`.repeat(511)}${'y'.repeat(990)}tail\r\n`);
  assert.equal(inspectMessage(near, { body: rules }).verdict.action, 'reject');
});
