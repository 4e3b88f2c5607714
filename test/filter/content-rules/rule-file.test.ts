// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${n} is regexp_table(5) substitution syntax, not a template
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentRuleError, matchTable, parseRuleFile } from '../../../src/filter/content-rules/index.ts';

const good = [
  '# header_checks for example.com',
  '',
  '/^Subject:.*viagra/ REJECT spam subject',
  '/^X-Mailer: (Bulk[a-z]*)/ WARN mailer $1',
  '  seen', // continuation line: joined to the rule above
  'if /^From:/',
  '  # comments and blank lines inside a block',
  '/@example\\.net/ HOLD suspicious sender',
  'if !/trusted/', // indented, it would continue the line above
  '/@example\\.org/ DISCARD',
  'endif',
  'endif',
  '/^Subject: (\\w+) (\\w+)$/ REDIRECT ${2}@$1.example.com',
  '!/^Received:/ DUNNO',
].join('\n');

test('parses a good file: rules, negation, continuation, nested if/endif', () => {
  const table = parseRuleFile(good, 'header_checks');
  assert.equal(table.file, 'header_checks');
  assert.deepEqual(
    table.entries.map((e) => [e.kind, e.line, e.negated]),
    [
      ['rule', 3, false],
      ['rule', 4, false],
      ['if', 6, false],
      ['rule', 13, false],
      ['rule', 14, true],
    ],
  );
  const block = table.entries[2];
  assert.ok(block?.kind === 'if');
  assert.deepEqual(
    block.entries.map((e) => [e.kind, e.line]),
    [
      ['rule', 8],
      ['if', 9],
    ],
  );
  const warn = table.entries[1];
  assert.ok(warn?.kind === 'rule');
  assert.deepEqual(warn.action, { verb: 'WARN', text: 'mailer $1 seen' });
});

test('a UTF-8 byte order mark before the first line is not part of it (a file saved by a Windows editor)', () => {
  const table = parseRuleFile('\ufeff/^Subject: lottery/ REJECT no lotteries\r\n/^X-Bulk:/ WARN\r\n', 'header_checks');
  assert.deepEqual(
    table.entries.map((e) => [e.kind, e.line]),
    [
      ['rule', 1],
      ['rule', 2],
    ],
  );
  assert.equal(matchTable(table, 'Subject: lottery')?.action.text, 'no lotteries');
  // Only a leading one: elsewhere U+FEFF is text of the line it is in.
  const comment = parseRuleFile('\ufeff# rules\n/a/ WARN\n', 'header_checks');
  assert.deepEqual(
    comment.entries.map((e) => e.line),
    [2],
  );
});

const lookups: [input: string, want: string | undefined][] = [
  ['Subject: cheap VIAGRA now', 'REJECT spam subject'], // case-insensitive by default (regexp_table(5))
  ['X-Mailer: BulkMail 2', 'WARN mailer BulkMail seen'], // $1
  ['From: a@example.net', 'HOLD suspicious sender'], // inside if
  ['From: a@example.org', 'DISCARD'], // nested if !/trusted/
  ['From: trusted a@example.org', 'DUNNO'], // nested condition fails: falls through to line 14
  ['Subject: hello world', 'REDIRECT world@hello.example.com'], // ${2} and $1
  ['Received: from x', undefined], // !/^Received:/ does not match, nothing else does
  ['To: b@example.com', 'DUNNO'], // !/^Received:/ matches
];
for (const [input, want] of lookups) {
  test(`lookup ${JSON.stringify(input)}`, () => {
    const table = parseRuleFile(good, 'header_checks');
    const hit = matchTable(table, input);
    assert.equal(hit && `${hit.action.verb}${hit.action.text ? ` ${hit.action.text}` : ''}`, want);
  });
}

test('first matching rule wins', () => {
  const table = parseRuleFile('/a/ WARN first\n/a/ REJECT second\n');
  assert.equal(matchTable(table, 'a')?.action.verb, 'WARN');
  assert.equal(matchTable(table, 'a')?.line, 1);
});

test('flag i toggles case sensitivity off; ${n}, $$ substitution', () => {
  const table = parseRuleFile('/^Subject: (A+)b/i WARN got $1 and ${1} for $$5\n');
  assert.equal(matchTable(table, 'subject: AAb'), undefined);
  assert.equal(matchTable(table, 'Subject: AAb')?.action.text, 'got AA and AA for $5');
});

test('flag m: ^ and $ match at embedded newlines; without it . matches newline', () => {
  const folded = 'Subject: one\n two';
  assert.ok(matchTable(parseRuleFile('/^ two$/m WARN x'), folded));
  assert.equal(matchTable(parseRuleFile('/^ two$/ WARN x'), folded), undefined);
  assert.ok(matchTable(parseRuleFile('/one.two/ WARN x'), 'Subject: one\ntwo'));
  assert.equal(matchTable(parseRuleFile('/one.two/m WARN x'), 'Subject: one\ntwo'), undefined);
});

test('flag x: basic (BRE) syntax', () => {
  const table = parseRuleFile('/^a\\(b\\{2\\}\\)+c$/x WARN $1');
  assert.equal(matchTable(table, 'abb+c')?.action.text, 'bb');
  assert.equal(matchTable(table, 'abbbbc'), undefined); // + is literal in BRE
});

test('POSIX details: literal backslash in brackets, ] first, classes, \\< \\>, other delimiters', () => {
  assert.ok(matchTable(parseRuleFile('/a[\\.]b/ WARN x'), 'a\\b'));
  assert.ok(matchTable(parseRuleFile('/[]x]/ WARN x'), ']'));
  assert.ok(matchTable(parseRuleFile('/^[[:digit:]]+$/ WARN x'), '123'));
  assert.ok(matchTable(parseRuleFile('/\\<cat\\>/ WARN x'), 'a cat here'));
  assert.equal(matchTable(parseRuleFile('/\\<cat\\>/ WARN x'), 'concatenate'), undefined);
  assert.ok(matchTable(parseRuleFile('#a/b# WARN x'.replace(/^#/, '|').replace('#', '|')), 'a/b'));
  assert.ok(matchTable(parseRuleFile('/a\\/b/ WARN x'), 'a/b'));
});

const errors: [text: string, line: number, problem: RegExp][] = [
  ['/a/ WARN x\n/b/\n', 2, /missing action/],
  ['\n\n/a/ FROB x', 3, /unknown action FROB/],
  ['/a/ FILTER smtp:[192.0.2.1]', 1, /FILTER is not supported/],
  ['/a/ 550 no', 1, /numeric reply/],
  ['/a/ PREPEND', 1, /PREPEND needs an argument/],
  ['/a/ REDIRECT', 1, /REDIRECT needs an argument/],
  ['/a/ IGNORE now', 1, /IGNORE takes no argument/],
  // Postfix's cleanup refuses these ("bad REDIRECT target", "bad PREPEND header text"): checked at load.
  ['/a/ WARN x\n/b/ REDIRECT foo', 2, /bad REDIRECT target "foo": need user@domain/],
  ['/a/ REDIRECT a@x.example, b@y.example', 1, /bad REDIRECT target/],
  ['/a/ REDIRECT not an address', 1, /bad REDIRECT target/],
  ['/a/ PREPEND no colon here', 1, /bad PREPEND header text "no colon here": need headername: headervalue/],
  ['/a/ PREPEND : no name', 1, /bad PREPEND header text/],
  ['/(a)/ WARN $2', 1, /\$2 refers past the 1 group/],
  ['!/(a)/ WARN $1', 1, /negated pattern/],
  ['/abc WARN x', 1, /missing closing "\/"/],
  ['abc WARN x', 1, /delimiter/],
  ['// WARN x', 1, /empty pattern/],
  ['/a/q WARN x', 1, /unknown flag "q"/],
  ['# c\n  /a/ WARN x', 2, /continuation line without a preceding rule/],
  ['/a/ WARN\nendif', 2, /endif without if/],
  ['/x/ WARN\nif /a/\n/b/ WARN\n', 2, /if without endif/],
  ['if /a/ WARN x\nendif', 1, /text after if pattern/],
  ['if /a/\nendif x', 2, /text after endif/],
  ['/(a)\\1/ WARN x', 1, /backreference \\1 is not supported/],
  ['/foo(?=bar)/ WARN x', 1, /lookaround is not supported/],
  ['/foo(?<!bar)/ WARN x', 1, /lookaround is not supported/],
  ['/(?i)foo/ WARN x', 1, /\(\?\.\.\.\) group is not supported/],
  ['/[[.a.]]/ WARN x', 1, /collating element/],
  ['/[abc/ WARN x', 1, /unterminated bracket/],
  ['/a{2,3/ WARN x\n/(a/ WARN x', 2, /invalid pattern/],
  // dict_regexp.c refuses what mac_parse reads as another name, and $0 ("out-of-range replacement index").
  ['/(a)/ WARN $0', 1, /out-of-range replacement index "0"/],
  ['/(a)/ WARN ${0}', 1, /out-of-range replacement index "0"/],
  ['/(a)/ WARN $name', 1, /non-numeric replacement index "name"/],
  ['/(a)/ WARN $1x', 1, /non-numeric replacement index "1x"/],
  ['/(a)/ WARN $(x)', 1, /non-numeric replacement index "x"/],
  ['/(a)/ WARN costs $ 5', 1, /"\$" without a group number.*\$\$ for a dollar sign/],
  ['/(a)/ WARN ${1', 1, /unclosed "\$\{"/],
  ['/(a)/ WARN $10', 1, /\$10 refers past the 1 group/],
  ['/(a)/!/b/ WARN $2', 1, /\$2 refers past the 1 group/],
  ['/a/!/(b/ WARN x', 1, /invalid pattern \/\(b\//],
  ['/a/! WARN x', 1, /delimiter/],
  ['if /a/!/b/\nendif', 1, /text after if pattern/],
];
for (const [text, line, problem] of errors) {
  test(`error at line ${line}: ${problem.source}`, () => {
    assert.throws(
      () => parseRuleFile(text, '/etc/postern/header_checks'),
      (err) =>
        err instanceof ContentRuleError &&
        err.code === 'ERR_CONTENT_RULE_FILE' &&
        err.line === line &&
        problem.test(err.message) &&
        err.message.startsWith(`/etc/postern/header_checks:${line}: `),
    );
  });
}

test('static REDIRECT and PREPEND texts that are fine load; a body_checks PREPEND is a body line, any text', () => {
  assert.equal(matchTable(parseRuleFile('/a/ REDIRECT Bob@Example.COM'), 'a')?.action.text, 'Bob@Example.COM');
  assert.ok(parseRuleFile('/a/ PREPEND X-Tag: yes'));
  assert.ok(parseRuleFile('/a/ PREPEND Hi,', 'body_checks', 'body'));
  assert.throws(() => parseRuleFile('/a/ PREPEND Hi,', 'header_checks', 'header'), /bad PREPEND header text/);
});

test('$n as Postfix reads it: $(n), ${n}, and $10 as group 10, not $1 and "0"', () => {
  const ten = parseRuleFile('/^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/ WARN [$10] [$(2)] [${3}] [${1}0] $$1 $$$1.');
  assert.equal(matchTable(ten, 'abcdefghij')?.action.text, '[j] [b] [c] [a0] $1 $a.');
});

test('Postfix negation forms: "! /re/", "!!/re/", "/p1/!/p2/" (p1 and not p2), "/p1/!!/p2/", "if ! /re/"', () => {
  const lookup = (rules: string, input: string) => matchTable(parseRuleFile(rules), input)?.action.text;
  assert.equal(lookup('! /^Subject:/ WARN no subject', 'From: x'), 'no subject');
  assert.equal(lookup('! /^Subject:/ WARN no subject', 'Subject: x'), undefined);
  assert.equal(lookup('!!/^Subject:/ WARN subject', 'Subject: x'), 'subject');
  const twoPatterns = '/^Subject:/!/newsletter/ WARN not a newsletter';
  assert.equal(lookup(twoPatterns, 'Subject: win the lottery'), 'not a newsletter');
  assert.equal(lookup(twoPatterns, 'Subject: our newsletter'), undefined);
  assert.equal(lookup(twoPatterns, 'From: x'), undefined);
  assert.equal(lookup('/^Subject: (\\w+)/i!/NEWS/ WARN $1', 'Subject: Hello'), 'Hello'); // flags before the "!"
  assert.equal(lookup('/^Subject: (\\w+)/i!/NEWS/ WARN $1', 'Subject: news'), undefined);
  assert.equal(lookup('/^Subject:/! /news/ WARN w', 'Subject: hi'), 'w');
  assert.equal(lookup('/^Subject:/!!/news/ WARN both', 'Subject: news'), 'both');
  assert.equal(lookup('/^Subject:/!!/news/ WARN both', 'Subject: hi'), undefined);
  assert.equal(lookup('!/^Subject:/!/^From:/ WARN other', 'To: x'), 'other');
  assert.equal(lookup('!/^Subject:/!/^From:/ WARN other', 'From: x'), undefined);
  const block = 'if ! /^Subject:/\n/x/ WARN no subject but x\nendif';
  assert.equal(lookup(block, 'From: x'), 'no subject but x');
  assert.equal(lookup(block, 'Subject: x'), undefined);
  // "/p1/ !/p2/" with a space is one pattern and the action "!/p2/ …", as Postfix reads it.
  assert.throws(() => parseRuleFile('/a/ !/b/ WARN x'), /unknown action !\/B\//);
});
