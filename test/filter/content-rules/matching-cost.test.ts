import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  inspectMessage,
  inspectMessageSync,
  matchTable,
  parseRuleFile,
} from '../../../src/filter/content-rules/index.ts';
import { MATCH_SLICE, MAX_MATCH_WORK } from '../../../src/filter/content-rules/inspect.ts';
import {
  type MatchWork,
  matchTableSteps,
  RUN_CHARGE,
  SCAN_RATIO,
} from '../../../src/filter/content-rules/match-table.ts';
import { compilePattern, MAX_REQUIRED_TEXTS } from '../../../src/filter/content-rules/pattern.ts';

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
    // Alternations: an any-of set, at the top or in a group.
    'viagra|cialis',
    'viagra|x*',
    '(free|cheap) money',
    '(free|cheap) mo',
    'ab(cd|ef)+gh',
    '(ab|cd)*ef',
    '(abc|de)?xy',
    '((ab|cd)e|fg)hi',
    'x(|ab)cd',
    '(ab|cd)(ef|gh)',
    '(Kelvin|stress)|SPAM',
    '^(abc|def)$',
    '(ab|c)de',
    '(abcd|efgh)*x',
    '(abcd|efgh)?x',
    '(abcd|efgh)+?x',
    '(abcd|efgh){0,2}x',
    '(abcd|efgh){1,2}x',
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
    'VIAGRA',
    'cialis x',
    'free money',
    'CHEAP MONEY',
    'abefcdgh',
    'abgh',
    'cdcdef',
    'ef',
    'xy',
    'dexy',
    'cdehi',
    'fghi',
    'xcd',
    'xabcd',
    'cdgh',
    'spam',
    'stre\u017F\u017F',
    'cde',
    'x',
    'EFGHx',
    'abcdabcdx',
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
    return Math.floor((seed / 2 ** 31) * n); // the high bits: the low ones of this generator cycle short
  };
  const pick = <T>(list: readonly T[]): T => list[rand(list.length)] as T;
  const atoms = ['a', 'b', 'k', 's', 'K', 'S', 'é', 'É', '😀', '.', '[ab]', '(a|b)', '\\.', '-', ' '];
  const quantifiers = ['', '', '', '*', '+', '?', '{0,1}', '{2}', '{1,}', '+?'];
  /** A random concatenation; a group in it holds a random alternation, `depth` deep at most. */
  const words = ['ab', 'ba', 'abé', 'sk', 'b-a'];
  const concatenation = (depth: number): string => {
    let out = '';
    for (let len = 1 + rand(4); len > 0; len--) {
      const r = rand(8);
      const atom = depth > 0 && r < 2 ? `(${alternation(depth - 1)})` : r < 5 ? pick(words) : pick(atoms);
      out += atom + pick(quantifiers);
    }
    return out;
  };
  const alternation = (depth: number): string =>
    Array.from({ length: 1 + rand(3) }, () => (rand(10) === 0 ? '' : concatenation(depth))).join('|');
  const chars = ['a', 'b', 'A', 'B', 'k', 'K', 's', 'S', '\u017F', '\u212A', 'é', 'É', '😀', '.', '-', ' '];
  const work = (noPrefilter: boolean) => ({ used: 0, limit: Number.POSITIVE_INFINITY, spent: false, noPrefilter });
  let prefiltered = 0;
  for (let n = 0; n < 600; n++) {
    const source = alternation(2);
    if (source === '') continue; // an empty pattern is refused; empty branches are not
    const table = parseRuleFile(`/${source}/${rand(2) ? 'i' : ''} WARN hit`, 'rules');
    if (table.entries[0]?.pattern.required !== undefined) prefiltered++;
    for (let k = 0; k < 40; k++) {
      let input = '';
      for (let len = rand(8); len > 0; len--) input += rand(3) ? pick(chars) : pick(words);
      assert.deepEqual(
        matchTable(table, input, work(false)),
        matchTable(table, input, work(true)),
        `/${source}/ ${input}`,
      );
    }
  }
  assert.ok(prefiltered > 150, `${prefiltered} patterns had literal text`);
});

test('literal text: only what every match must contain, lower-cased under case folding', () => {
  const req = (source: string, flags = { caseInsensitive: true, extended: true, multiline: false }) =>
    compilePattern(source, flags).required;
  assert.deepEqual(req('^Subject:.*spamword5x'), ['pamword5x']); // s folds to U+017F: runs break there
  assert.deepEqual(req('(a|b)hello'), ['hello']);
  assert.deepEqual(req('ab*cd'), ['cd']);
  assert.deepEqual(req('abc+d'), ['abc']);
  assert.deepEqual(req('x{0,3}yz'), ['yz']);
  assert.equal(req('\\Qliteral\\E'), undefined);
  assert.equal(req('(\\Q)\\E)abc'), undefined, '\\Q anywhere gives none: its ) is no group end');
  assert.deepEqual(req('Kelvin'), ['elvin']);
  assert.deepEqual(req('Café', { caseInsensitive: false, extended: true, multiline: false }), ['Café']);
  assert.deepEqual(req('Cafés'), ['caf'], 'under case folding, non-ASCII ends a run');
  // Alternations: every branch's text, or none when one branch has none.
  assert.deepEqual(req('viagra|cialis'), ['viagra', 'ciali']);
  // The most selective candidate by length: a set's shortest text against a run.
  assert.deepEqual(req('^Subject:.*(viagra|cialis)'), ['ubject:']);
  assert.deepEqual(req('^Subject:.*(viagra|cialis)', { caseInsensitive: false, extended: true, multiline: false }), [
    'Subject:',
  ]);
  assert.deepEqual(req('^To:.*(viagra|cialis)'), ['viagra', 'ciali']);
  assert.deepEqual(req('(free|cheap) money'), [' money']);
  assert.deepEqual(req('(Viagra|Cialis)|ХХХ|pill'), undefined, 'ХХХ: no ASCII text under case folding');
  assert.deepEqual(req('(Viagra|Cialis)|ХХХ|pill', { caseInsensitive: false, extended: true, multiline: false }), [
    'Viagra',
    'Cialis',
    'ХХХ',
    'pill',
  ]);
  assert.equal(req('viagra|x*'), undefined);
  assert.equal(req('viagra|a'), undefined, 'a run of one character is no text');
  assert.deepEqual(req('((ab|cd)e|fg)hi'), ['hi']);
  assert.deepEqual(req('((abc|cde)e|fgh)h'), ['abc', 'cde', 'fgh']);
  assert.equal(req('(viagra|cialis)*x'), undefined, 'a group that may occur no time');
  assert.deepEqual(req('(viagra|cialis)+x'), ['viagra', 'ciali']);
  assert.deepEqual(req('(viagra|cialis){2}'), ['viagra', 'ciali']);
  assert.equal(req('(viagra|cialis)+?'), undefined);
  const many = Array.from({ length: MAX_REQUIRED_TEXTS + 1 }, (_, i) => `word${i}`);
  assert.equal(req(many.join('|')), undefined, 'past MAX_REQUIRED_TEXTS the scans would cost more than RE2');
  assert.equal(req(many.slice(1).join('|'))?.length, MAX_REQUIRED_TEXTS);
});

test("the audit's worst cases now give RE2 next to no text", () => {
  let parts = 'From: a@b.example\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n';
  for (let p = 0; p < 25; p++) parts += `--XX\r\n\r\n${`${line}\r\n`.repeat(52)}`;
  const bodyParts = inspectMessageSync(Buffer.from(`${parts}--XX--\r\n`), { body });
  assert.equal(bodyParts.verdict.action, 'accept');
  // Before: every line times 200 rules, 205 million characters (13–24 s). Now only the prefilter's
  // scans, each a hundredth of its text (SCAN_RATIO).
  assert.ok(bodyParts.work < 205_000_000 / SCAN_RATIO + 300_000, `${bodyParts.work}`);

  const folded = `Subject: x${`\r\n ${'a'.repeat(990)}`.repeat(100)}`;
  const pad = `\r\nX-Pad: ${'b'.repeat(990)}`.repeat(150);
  const big = Buffer.from(`From: a@b.example\r\n${folded}${pad}\r\n\r\nbody\r\n`);
  assert.ok(inspectMessageSync(big, { header: anchored }).work < 800_000); // before: 7.5 s
  assert.ok(inspectMessageSync(big, { header: unanchored }).work < 800_000); // before: 9.7 s

  // A rule that does run is paid for: 200 rules without literal text over a 90 KB Subject.
  const subject = Buffer.from(`From: a@b.example\r\nSubject: ${'spamword '.repeat(10_000)}\r\n\r\nx\r\n`);
  const r = inspectMessageSync(subject, {
    header: parseRuleFile(words.map((w) => `/^subject:.*${w}|^[0-9]/ WARN x`).join('\n'), 'header_checks'),
    maxMatchWork: 1_000_000,
  });
  assert.ok(r.work <= 1_000_000 && r.work > 900_000, `${r.work}`);
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [['header_checks', 'skipped']],
  );
});

/** `n` body parts of 52 lines of 996 "a", the last line of the last part `last`. */
const multipart = (n: number, last = line) => {
  let m = 'From: a@b.example\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n';
  for (let p = 0; p < n; p++) m += `--XX\r\n\r\n${`${line}\r\n`.repeat(51)}${p === n - 1 ? last : line}\r\n`;
  return Buffer.from(`${m}--XX--\r\n`);
};
/** 25 parts: body_checks reads 20 of them (BODY_PARTS_INSPECTED), 1,064,000 characters. */
const filler = multipart(25);
/** `n` rules without literal text that match none of the filler, and are quick to run (about 5 ms per million). */
const quickRules = (n: number) =>
  Array.from({ length: n }, (_, i) => `/=[0-9A-F]{2}=[0-9A-F]{${i + 1}}/ REJECT x${i}`).join('\n');

test('50 KB of filler does not switch off the rules: 20 without literal text, then /viagra|cialis/', () => {
  // Before: /viagra|cialis/ had no literal text, and 10 such rules over one 51,200-octet part spent
  // the 500,000 characters of the old budget: the rules after them were skipped, the message accepted.
  const rules = parseRuleFile(`${quickRules(20)}\n/viagra|cialis/ REJECT pills`, 'body_checks', 'body');
  const padded = Buffer.from(`From: a@b.example\r\n\r\n${`${line}\r\n`.repeat(51)}buy VIAGRA now\r\n`);
  const r = inspectMessageSync(padded, { body: rules });
  assert.equal(r.verdict.action, 'reject');
  assert.deepEqual(
    r.findings.map((f) => f.result),
    ['reject'],
  );
  // A last rule without literal text runs too: 21 such rules over 52 KB are far from the budget.
  const phone = parseRuleFile(`${quickRules(20)}\n/[0-9]{3}-[0-9]{4}/ REJECT phone`, 'body_checks', 'body');
  const call = Buffer.from(`From: a@b.example\r\n\r\n${`${line}\r\n`.repeat(51)}call 555-1234\r\n`);
  assert.equal(inspectMessageSync(call, { body: phone }).verdict.action, 'reject');
  // And over nearly all the body body_checks reads (20 parts' worth: the 20th part ends past it), 8
  // such rules and the last.
  const nine = parseRuleFile(`${quickRules(8)}\n/[0-9]{3}-[0-9]{4}/ REJECT phone`, 'body_checks', 'body');
  const r19 = inspectMessageSync(multipart(19, 'call 555-1234'), { body: nine });
  assert.equal(r19.verdict.action, 'reject');
  assert.ok(r19.work > 9_000_000 && r19.work < MAX_MATCH_WORK, `${r19.work}`);
});

test('the work budget: rules without literal text stop at MAX_MATCH_WORK, with one finding naming the first rule not run', () => {
  assert.equal(MAX_MATCH_WORK, 10_000_000);
  const rules = parseRuleFile(quickRules(200), 'body_checks', 'body');
  const r = inspectMessageSync(filler, { body: rules });
  assert.ok(r.work <= MAX_MATCH_WORK && r.work > MAX_MATCH_WORK - 200 * 1000, `${r.work}`);
  assert.equal(r.verdict.action, 'accept');
  assert.equal(r.message, undefined);
  const [finding, ...more] = r.findings;
  assert.equal(more.length, 0);
  assert.deepEqual([finding?.check, finding?.result], ['body_checks', 'skipped']);
  assert.match(
    finding?.reason ?? '',
    new RegExp(
      `^content rules stopped after ${r.work} of 10000000 characters of matching, the limit per message: ` +
        'body_checks:\\d+ and the rules after it did not run$',
    ),
  );
  // 60,000 empty lines: each run costs RUN_CHARGE too, so short lines are no way around the budget.
  const empty = inspectMessageSync(Buffer.from(`From: a@b.example\r\n\r\n${'\r\n'.repeat(60_000)}`), { body: rules });
  assert.ok(empty.work <= MAX_MATCH_WORK);
  assert.equal(empty.findings[0]?.result, 'skipped');
  // The key: set higher, the same message is matched further.
  assert.ok(inspectMessageSync(filler, { body: rules, maxMatchWork: 2 * MAX_MATCH_WORK }).work > MAX_MATCH_WORK);
});

test('inspectMessage yields to the event loop every MATCH_SLICE of work, with the same result as at once', async () => {
  const rules = parseRuleFile(quickRules(9), 'body_checks', 'body');
  let ticks = 0;
  let ticking = true;
  const tick = () => {
    ticks++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const message = multipart(19);
  const r = await inspectMessage(message, { body: rules });
  ticking = false;
  assert.ok(r.work > 9_000_000 && r.findings.length === 0, `${r.work}`);
  // Each slice lets the other work (here the ticker) run once at least.
  assert.ok(ticks >= Math.floor(r.work / MATCH_SLICE) - 1, `${ticks} turns of the event loop for ${r.work}`);
  assert.deepEqual(r, inspectMessageSync(message, { body: rules }));

  // One lookup yields too, between its rules: 200 rules without literal text over one 10 KB header.
  const header = parseRuleFile(quickRules(200), 'header_checks');
  const unit = `X-Big: ${'a'.repeat(10_000)}`;
  const work: MatchWork = { used: 0, limit: Number.POSITIVE_INFINITY, spent: false, pauseAt: 50_000, slice: 50_000 };
  let yields = 0;
  const steps = matchTableSteps(header, unit, work);
  while (!steps.next().done) yields++;
  assert.equal(work.used, 200 * (unit.length + RUN_CHARGE));
  // Every 5 runs (5 × 10,039 ≥ 50,000), none after the last.
  assert.equal(yields, 200 / 5 - 1);
});

test('a body line longer than bodyChecksSizeLimit is matched only up to it', () => {
  const rules = parseRuleFile('/q|z/ WARN x\n/tail/ REJECT found', 'body_checks', 'body');
  const message = Buffer.from(`From: a@b.example\r\n\r\n${'a'.repeat(10_000_000)}tail\r\n`);
  const r = inspectMessageSync(message, { body: rules, maxMatchWork: Number.POSITIVE_INFINITY });
  // Before: the whole 10 MB line, to both rules (the second's literal text is at its end). Now the
  // first rule's run and the second's scan for "tail" (1 + 51,200 / SCAN_RATIO).
  assert.equal(r.work, 51_200 + RUN_CHARGE + 1 + 512);
  assert.equal(r.verdict.action, 'accept', 'the tail past the limit is not matched');
  // A line that starts within the limit is matched whole up to 998 octets, as Postfix matches a record.
  const near = Buffer.from(`From: a@b.example\r\n\r\n${`${'x'.repeat(98)}\r\n`.repeat(511)}${'y'.repeat(990)}tail\r\n`);
  assert.equal(inspectMessageSync(near, { body: rules }).verdict.action, 'reject');
});
