import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { type ContentRules, inspectMessageSync, parseRuleFile } from '../../../src/filter/content-rules/index.ts';
import {
  BODY_CHECKS_SIZE_LIMIT,
  BODY_PARTS_INSPECTED,
  MAX_BODY_LOOKUPS,
  MAX_HEADER_LOOKUPS,
  MAX_HEADER_OCTETS,
  MAX_PARTS,
} from '../../../src/filter/content-rules/inspect.ts';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

const simple = crlf([
  'From: alice@example.com',
  'To: bob@example.com',
  'Subject: quarterly',
  '  report', // folded: one logical header
  'X-Spam-Flag: YES',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Hello Bob,',
  'please click http://192.0.2.7/login now',
  '',
]);

const rules = (header = '', body = '', mime?: string): ContentRules => ({
  header: parseRuleFile(header, 'header_checks'),
  body: parseRuleFile(body, 'body_checks', 'body'),
  ...(mime === undefined ? {} : { mime: parseRuleFile(mime, 'mime_header_checks') }),
});

/** Header and body tables whose one rule counts what it is asked and matches nothing (WARN never fires). */
function countingTables(): { counted: { body: number; header: number }; rules: ContentRules } {
  const counted = { body: 0, header: 0 };
  const counting = (kind: 'body' | 'header') => ({
    file: kind,
    entries: [
      {
        kind: 'rule' as const,
        line: 1,
        negated: false,
        pattern: { exec: () => void counted[kind]++ },
        action: { verb: 'WARN' as const, text: '' },
      },
    ],
  });
  return { counted, rules: { header: counting('header'), body: counting('body') } as unknown as ContentRules };
}

test('no match: accept, message unchanged, no findings', () => {
  const r = inspectMessageSync(simple, rules('/^Subject: lottery/ REJECT'));
  // The work: the prefilter's scans for "ubject: lottery" in five short headers, RE2 never run.
  assert.deepEqual(r, { verdict: { action: 'accept' }, findings: [], prepended: [], work: 10 });
});

test('REJECT with text and the default text; finding names file and line', () => {
  const r = inspectMessageSync(simple, rules('/^Subject: quarterly/ REJECT no reports here'));
  assert.equal(r.verdict.action, 'reject');
  assert.ok(r.verdict.action === 'reject' && r.verdict.text === 'no reports here');
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0]?.check, 'header_checks');
  assert.equal(r.findings[0]?.result, 'reject');
  assert.match(r.findings[0]?.reason ?? '', /^header_checks:1: "Subject: quarterly\\n {2}report": no reports here$/);
  const d = inspectMessageSync(simple, rules('/^Subject:/ REJECT'));
  assert.ok(d.verdict.action === 'reject' && d.verdict.text === 'message content rejected');
});

test('a logical header is matched whole, folded lines joined by \\n', () => {
  const r = inspectMessageSync(simple, rules('/^Subject: quarterly\\n +report$/ WARN folded'));
  assert.equal(r.findings[0]?.result, 'warn');
});

test('DISCARD, HOLD, WARN, REDIRECT, DUNNO', () => {
  const hold = inspectMessageSync(simple, rules('/^X-Spam-Flag: YES/ HOLD spam flag\n/^To:/ WARN to seen'));
  assert.ok(hold.verdict.action === 'hold' && hold.verdict.text === 'spam flag');
  assert.deepEqual(
    hold.findings.map((f) => f.result),
    ['warn', 'hold'],
  );
  assert.equal(hold.message, undefined); // WARN and HOLD change nothing
  const discard = inspectMessageSync(simple, rules('/^From:/ DISCARD'));
  assert.equal(discard.verdict.action, 'discard');
  const redirect = inspectMessageSync(simple, rules('/^To: (\\w+)@/ REDIRECT $1-review@example.com'));
  assert.equal(redirect.redirect, 'bob-review@example.com');
  assert.equal(redirect.verdict.action, 'accept');
  const dunno = inspectMessageSync(simple, rules('/^From:/ DUNNO\n/^From:/ REJECT'));
  assert.deepEqual(dunno.findings, []);
  assert.equal(dunno.verdict.action, 'accept');
});

test('strongest verdict wins: REJECT > DISCARD > HOLD; inspection stops at REJECT/DISCARD', () => {
  const r = inspectMessageSync(
    simple,
    rules('/^From:/ HOLD h\n/^To:/ REJECT r\n/^Subject:/ WARN late', '/Hello/ WARN b'),
  );
  assert.ok(r.verdict.action === 'reject' && r.verdict.text === 'r');
  assert.deepEqual(
    r.findings.map((f) => f.result),
    ['hold', 'reject'],
  );
  const d = inspectMessageSync(simple, rules('/^From:/ DISCARD\n/^Subject:/ HOLD'));
  assert.equal(d.verdict.action, 'discard');
});

test('IGNORE removes the logical header; PREPEND inserts a line before it', () => {
  const r = inspectMessageSync(simple, rules('/^Subject:/ IGNORE\n/^X-Spam-Flag: (.*)/ PREPEND X-Was-Flagged: $1'));
  assert.deepEqual(r.prepended, ['X-Was-Flagged: YES']);
  assert.equal(
    r.message?.toString('utf8'),
    crlf([
      'From: alice@example.com',
      'To: bob@example.com',
      'X-Was-Flagged: YES',
      'X-Spam-Flag: YES',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Hello Bob,',
      'please click http://192.0.2.7/login now',
      '',
    ]).toString('utf8'),
  );
});

test('PREPEND copying a 998-octet field is folded: no line it adds passes 998 octets (RFC 5322 §2.1.1)', () => {
  const long = (value: string) => crlf([`X-Prepend: ${value}`, 'Subject: hi', '', 'body', '']);
  const rule = rules('/^X-Prepend: (.*)/ PREPEND X-Prepended: $1');
  // The first is a legal 998-octet line; the others are over the limit already (the sender's doing).
  for (const value of [`${'w '.repeat(493)}w`, 'x'.repeat(2500), 'ж'.repeat(600)]) {
    const r = inspectMessageSync(long(value), rule);
    const lines = (r.message?.toString('utf8') ?? '').split('\r\n');
    const original = lines.findIndex((line) => line.startsWith('X-Prepend:'));
    const added = lines.slice(0, original);
    assert.match(added[0] ?? '', /^X-Prepended:/);
    const sizes = added.map((line) => Buffer.byteLength(line));
    assert.ok(added.length > 1 && sizes.every((size) => size <= 998), sizes.join(','));
    assert.ok(
      added.slice(1).every((line) => /^[ \t]\S/.test(line)),
      'continuations start with white space',
    );
    assert.equal(lines[original], `X-Prepend: ${value}`, 'the original field stays as it was');
  }
});

test('body_checks: each body line, undecoded; IGNORE and PREPEND in the body', () => {
  const r = inspectMessageSync(simple, rules('', '/http:\\/\\/([0-9.]+)\\// WARN IP URL $1\n/^Hello/ PREPEND Hi,'));
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [
      ['body_checks', 'prepend'],
      ['body_checks', 'warn'],
    ],
  );
  assert.match(r.findings[1]?.reason ?? '', /IP URL 192\.0\.2\.7$/);
  assert.match(r.message?.toString('utf8') ?? '', /\r\n\r\nHi,\r\nHello Bob,\r\n/);
  const ignore = inspectMessageSync(simple, rules('', '/click/ IGNORE'));
  assert.doesNotMatch(ignore.message?.toString('utf8') ?? '', /click/);
  // headers are not body lines
  assert.deepEqual(inspectMessageSync(simple, rules('', '/^From:/ REJECT')).findings, []);
  // base64 is inspected as sent (header_checks(5): body_checks see the raw body)
  const b64 = crlf(['Content-Transfer-Encoding: base64', '', Buffer.from('secret word').toString('base64'), '']);
  assert.deepEqual(inspectMessageSync(b64, rules('', '/secret/ REJECT')).findings, []);
});

const nested = crlf([
  'From: alice@example.com',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/plain',
  '',
  'first part',
  '--outer',
  'Content-Type: multipart/alternative;',
  '\tboundary=inner',
  '',
  '--inner',
  'Content-Type: text/html',
  'X-Part-Header: not MIME',
  '',
  '<p>html</p>',
  '--inner',
  'Content-Type: application/octet-stream; name="invoice.exe"',
  'Content-Disposition: attachment;',
  ' filename="invoice.exe"',
  '',
  'TVqQAAMAAAAEAAAA',
  '--inner--',
  '--outer--',
  'epilogue',
  '',
]);

test('mime_header_checks: MIME headers of every part, nested multipart included', () => {
  const r = inspectMessageSync(
    nested,
    rules('', '', '/^Content-(Disposition|Type):.*name="?[^"]*\\.(exe|scr)"?/ REJECT $2 attachment'),
  );
  assert.ok(r.verdict.action === 'reject' && r.verdict.text === 'exe attachment');
  assert.equal(r.findings[0]?.check, 'mime_header_checks');
  assert.match(r.findings[0]?.reason ?? '', /invoice\.exe/);
});

test('mime_header_checks: top-level MIME headers; a part header is never given to header_checks', () => {
  const r = inspectMessageSync(
    nested,
    rules('/^X-Part-Header/ REJECT\n/^MIME-Version/ WARN from header_checks', '', '/^Mime-Version: 1\\.0$/ WARN mv'),
  );
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [['mime_header_checks', 'warn']],
  );
});

test('mime_header_checks: every header of a body part, whatever its name, and a top-level Content-ID (Postfix)', () => {
  const r = inspectMessageSync(
    Buffer.concat([Buffer.from('Content-ID: <top@example.com>\r\n'), nested]),
    rules('/^Content-ID/ WARN from header_checks', '', '/^X-Part-Header/ WARN part header\n/^Content-ID/ WARN cid'),
  );
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result, /"(.*)"/.exec(f.reason)?.[1]?.split(':')[0]]),
    [
      ['mime_header_checks', 'warn', 'Content-ID'],
      ['mime_header_checks', 'warn', 'X-Part-Header'],
    ],
  );
});

test('mime_header_checks defaults to header_checks (Postfix default $header_checks)', () => {
  const r = inspectMessageSync(nested, { header: parseRuleFile('/^Content-Type: text\\/html/ WARN html part') });
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [['mime_header_checks', 'warn']],
  );
});

test('body_checks in parts: part body lines, preamble, epilogue and boundaries (Postfix); part headers are not body lines', () => {
  const r = inspectMessageSync(nested, rules('', '/./ WARN line'));
  const lines = r.findings.map((f) => /"(.*)"/.exec(f.reason)?.[1]);
  assert.deepEqual(lines, [
    'preamble',
    '--outer',
    'first part',
    '--outer',
    '--inner',
    '<p>html</p>',
    '--inner',
    'TVqQAAMAAAAEAAAA',
    '--inner--',
    '--outer--',
    'epilogue',
  ]);
  // An IGNORE matching a boundary does not take it out of the message.
  const kept = inspectMessageSync(nested, rules('', '/^--inner$/ IGNORE'));
  assert.ok(kept.message === undefined || kept.message.equals(nested), 'nothing removed');
});

test('IGNORE of a MIME header in a nested part changes only that part', () => {
  const r = inspectMessageSync(nested, rules('', '', '/^Content-Disposition: attachment/ IGNORE'));
  const out = r.message?.toString('utf8') ?? '';
  assert.doesNotMatch(out, /Content-Disposition|filename=/);
  assert.equal(
    out,
    nested.toString('utf8').replace('Content-Disposition: attachment;\r\n filename="invoice.exe"\r\n', ''),
  );
});

test('bare LF line ends are tolerated and kept', () => {
  const msg = Buffer.from('Subject: x\nX-Drop: y\n\nbody\n');
  const r = inspectMessageSync(msg, rules('/^X-Drop:/ IGNORE'));
  assert.equal(r.message?.toString(), 'Subject: x\n\nbody\n');
});

test('catastrophic pattern /(a+)+$/ runs in linear time', () => {
  const table = parseRuleFile('/(a+)+$/ REJECT redos\n/^(a|aa)+$/ REJECT redos2', 'body_checks');
  const evil = `${'a'.repeat(5000)}!`;
  const msg = crlf(['Subject: test', '', evil, `${'a'.repeat(40)}!`, '']);
  const started = performance.now();
  const r = inspectMessageSync(msg, { body: table });
  const elapsed = performance.now() - started;
  assert.equal(r.verdict.action, 'accept');
  // A backtracking engine needs about 2^5000 steps here: it never ends. The bound only tells linear
  // from that, with room for a loaded CI machine (a 100 ms bound failed once at 191 ms there).
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
});

test('body_checks read the first bodySizeLimit octets of each body part (Postfix body_checks_size_limit)', () => {
  const filler = `${'x'.repeat(99)}\r\n`.repeat(600); // 60,000 octets
  const part = (text: string) => `--b\r\nContent-Type: text/plain\r\n\r\n${text}`;
  const message = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      `${part(`${filler}bad line\r\n`)}${part('bad line\r\n')}--b--\r\n`,
  );
  const late = Buffer.from(`Subject: s\r\n\r\n${filler}bad line\r\n`);
  const table = { body: parseRuleFile('/^bad line$/ REJECT found it\n', 'body_checks') };
  assert.equal(inspectMessageSync(late, table).verdict.action, 'accept', 'past the default 51,200 octets');
  assert.equal(inspectMessageSync(late, { ...table, bodySizeLimit: 100_000 }).verdict.action, 'reject');
  // The count starts again in each part: the second part's line is read.
  assert.equal(inspectMessageSync(message, table).verdict.action, 'reject');
  assert.equal(inspectMessageSync(Buffer.from('Subject: s\r\n\r\nbad line\r\n'), table).verdict.action, 'reject');
});

test('a comment in Content-Type (RFC 2045 §5.1) does not hide the parts from mime_header_checks', () => {
  const message = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/mixed; (parts) boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n' +
      '--b\r\nContent-Type: application/x-msdownload; name="invoice.exe"\r\n\r\nMZ\r\n--b--\r\n',
  );
  const table = { mime: parseRuleFile('/name="[^"]*\\.exe"/ REJECT no executables\n', 'mime_header_checks') };
  assert.equal(inspectMessageSync(message, table).verdict.action, 'reject');
});

/** A message with a forwarded message attached, which itself has a multipart body. */
const forwarded = crlf([
  'From: carol@example.com',
  'Subject: fwd',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: text/plain',
  'X-Part-Header: plain part',
  '',
  'see below',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: mallory@evil.example',
  'Subject: lottery',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/html',
  '',
  '<p>you won</p>',
  '--inner--',
  '--outer--',
  '',
]);

test('nested_header_checks: the headers of an attached message, its MIME headers to mime_header_checks', () => {
  const r = inspectMessageSync(forwarded, {
    header: parseRuleFile('/^Subject:/ WARN top subject\n/^X-Part-Header/ WARN part', 'header_checks'),
    nested: parseRuleFile('/^Subject: (.*)/ WARN nested $1\n/^From:/ WARN nested from', 'nested_header_checks'),
    mime: parseRuleFile('/^Content-Type: text\\/html/ WARN html', 'mime_header_checks'),
  });
  assert.deepEqual(
    r.findings.map((f) => [f.check, /": (.*)$/.exec(f.reason)?.[1]]),
    [
      ['header_checks', 'top subject'],
      ['nested_header_checks', 'nested from'],
      ['nested_header_checks', 'nested lottery'],
      ['mime_header_checks', 'html'],
    ],
  );
});

test('nested_header_checks defaults to header_checks, and IGNORE there removes the attached header only', () => {
  const r = inspectMessageSync(forwarded, {
    header: parseRuleFile('/^From: mallory/ IGNORE\n/^Subject: lottery/ HOLD'),
  });
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result]),
    [
      ['nested_header_checks', 'ignore'],
      ['nested_header_checks', 'hold'],
    ],
  );
  assert.equal(r.message?.toString('utf8'), forwarded.toString('utf8').replace('From: mallory@evil.example\r\n', ''));
});

test('an attached message sent in base64, or a part that is not a message, gets no nested_header_checks', () => {
  const table = { nested: parseRuleFile('/^Subject: lottery/ REJECT', 'nested_header_checks') };
  const encoded = Buffer.from(
    forwarded
      .toString('utf8')
      .replace(
        'Content-Type: message/rfc822\r\n',
        'Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n',
      ),
  );
  assert.equal(inspectMessageSync(encoded, table).verdict.action, 'accept');
  const notMessage = Buffer.from(
    forwarded.toString('utf8').replace('Content-Type: message/rfc822', 'Content-Type: text/plain'),
  );
  assert.equal(inspectMessageSync(notMessage, table).verdict.action, 'accept');
  assert.equal(inspectMessageSync(forwarded, table).verdict.action, 'reject');
  const global = Buffer.from(forwarded.toString('utf8').replace('message/rfc822', 'Message/Global; x=1'));
  assert.equal(
    inspectMessageSync(global, table).verdict.action,
    'reject',
    'RFC 6532 message/global, any case, with parameters',
  );
});

test('a table sees at most headerSizeLimit octets of a logical header (Postfix header_size_limit)', () => {
  const long = `X-Long: ${'a'.repeat(120_000)} tail-marker`;
  const message = crlf(['Subject: s', long, '', 'body', '']);
  const table = { header: parseRuleFile('/tail-marker/ REJECT seen\n/^X-Long: a{100}/ WARN head', 'header_checks') };
  const r = inspectMessageSync(message, table);
  assert.equal(r.verdict.action, 'accept', 'past the default 102,400 octets');
  assert.deepEqual(
    r.findings.map((f) => f.result),
    ['warn'],
  );
  assert.equal(inspectMessageSync(message, { ...table, headerSizeLimit: 200_000 }).verdict.action, 'reject');
  // Folded: the cut falls in the second line, and the lines before it are whole.
  const folded = crlf(['Subject: s', `X-Fold: first`, ` ${'b'.repeat(50)} tail-marker`, '', 'body', '']);
  const cut = inspectMessageSync(folded, {
    header: parseRuleFile('/^X-Fold: first\\n b+$/ WARN cut\n/tail-marker/ REJECT', 'header_checks'),
    headerSizeLimit: 40,
  });
  assert.deepEqual(
    cut.findings.map((f) => f.result),
    ['warn'],
  );
});

test('a message is matched to MAX_BODY_LOOKUPS lines and MAX_HEADER_LOOKUPS headers in all; a finding says where it stopped', () => {
  assert.equal(MAX_BODY_LOOKUPS, 50_000);
  assert.equal(MAX_HEADER_LOOKUPS, 10_000);
  // 900 parts of 12 header fields and 60 lines (under MAX_PARTS): 54,900 body lines (boundaries
  // included) and 10,800 part headers.
  const fields = Array.from({ length: 12 }, (_, i) => `X-F${i}: v\r\n`).join('');
  const parts = `--b\r\n${fields}\r\n${'x\r\n'.repeat(60)}`.repeat(900);
  const message = Buffer.from(`Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`);
  const { counted, rules } = countingTables();
  const r = inspectMessageSync(message, { ...rules, maxMatchWork: Number.POSITIVE_INFINITY });
  assert.deepEqual(counted, { body: 50_000, header: 10_000 });
  assert.equal(r.verdict.action, 'accept');
  assert.equal(r.message, undefined, 'kept as it came');
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result, f.reason]),
    [
      ['body_checks', 'skipped', 'body_checks stopped after 50000 lines, the limit per message'],
      ['mime_header_checks', 'skipped', 'the header tables stopped after 10000 headers, the limit per message'],
    ],
  );
});

test('body_checks read BODY_PARTS_INSPECTED parts of bodySizeLimit octets in all; header tables go on', () => {
  const filler = `${'x'.repeat(98)}\r\n`.repeat(100); // 10,000 octets
  const part = (text: string, type = 'text/plain') => `--b\r\nContent-Type: ${type}\r\n\r\n${text}`;
  const message = (parts: number) =>
    Buffer.from(
      'Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
        `${part(filler).repeat(parts)}${part('bad line\r\n', 'application/x-bad')}--b--\r\n`,
    );
  const tables = {
    body: parseRuleFile('/^bad line$/ WARN found it\n', 'body_checks'),
    mime: parseRuleFile('/x-bad/ WARN bad type\n', 'mime_header_checks'),
    bodySizeLimit: 10_000,
  };
  assert.equal(BODY_PARTS_INSPECTED, 20);
  const within = inspectMessageSync(message(19), tables).findings.map((f) => f.result);
  assert.deepEqual(within, ['warn', 'warn'], '19 parts of 10,000 octets, then the line: read');
  const past = inspectMessageSync(message(20), tables).findings.map((f) => [f.check, f.result, f.reason]);
  assert.deepEqual(past, [
    ['mime_header_checks', 'warn', 'mime_header_checks:1: "Content-Type: application/x-bad": bad type'],
    ['body_checks', 'skipped', 'body_checks stopped after 200000 octets of body, the limit per message'],
  ]);
});

test('a message is matched to MAX_PARTS body parts; past them the rest is kept unread, and findings say so', () => {
  assert.equal(MAX_PARTS, 1000);
  const parts = '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(30_000);
  const message = Buffer.from(`Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`);
  const { counted, rules } = countingTables();
  const r = inspectMessageSync(message, rules);
  // The top header's two fields and one Content-Type per part; a boundary and a line per part, and the
  // 1,001st boundary, which is where the reading stops.
  assert.deepEqual(counted, { body: 2001, header: 1002 });
  assert.equal(r.message, undefined, 'kept as it came');
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result, f.reason]),
    [
      ['body_checks', 'skipped', 'body_checks stopped after 1000 body parts, the limit per message'],
      ['mime_header_checks', 'skipped', 'the header tables stopped after 1000 body parts, the limit per message'],
    ],
  );
  // A change before the limit keeps the rest of the message whole after it.
  const ignore = parseRuleFile('/^Subject:/ IGNORE\n', 'header_checks');
  const changed = inspectMessageSync(message, { header: ignore });
  assert.equal(changed.message?.toString(), message.toString().replace('Subject: s\r\n', ''));
});

test('20 MB of empty lines are inspected within a 200 MB heap (an array of every line took 700 MB)', () => {
  const module = new URL('../../../src/filter/content-rules/inspect.ts', import.meta.url).href;
  const script = `
    import { inspectMessageSync } from ${JSON.stringify(module)};
    const message = Buffer.from('Subject: s\\r\\n\\r\\n' + '\\r\\n'.repeat(10_000_000));
    const exec = () => null;
    const table = { file: 't', entries: [{ kind: 'rule', line: 1, negated: false, pattern: { exec }, action: { verb: 'WARN', text: '' } }] };
    inspectMessageSync(message, { body: table, header: table });
    process.stdout.write('done');`;
  const run = spawnSync(process.execPath, ['--max-old-space-size=200', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.stdout, 'done', run.stderr.slice(-500));
  assert.equal(run.status, 0);
});

test('20 MB of empty lines: without a multipart nothing past the limits is read', () => {
  const message = Buffer.from(`Subject: s\r\n\r\n${'\r\n'.repeat(10_000_000)}`);
  const { counted, rules } = countingTables();
  const r = inspectMessageSync(message, { body: rules.body, maxMatchWork: Number.POSITIVE_INFINITY });
  // body_checks_size_limit: the first 51,200 octets of the part, 25,600 empty lines; then the rest in one step.
  assert.equal(counted.body, BODY_CHECKS_SIZE_LIMIT / 2);
  assert.equal(r.message, undefined);
  assert.deepEqual(r.findings, [], "the part's own limit, as Postfix's, is no finding");
});

test('the header tables read MAX_HEADER_OCTETS of headers in all; past them the parts are still read', () => {
  assert.equal(MAX_HEADER_OCTETS, 1_048_576);
  // 30 parts, each with one folded header of some 50 KB (lines within SMTP's 998 octets): 1.5 MB of
  // headers. The count of headers stays far below MAX_HEADER_LOOKUPS; the octets do not.
  const fold = Array.from({ length: 50 }, () => ` ${'a'.repeat(990)}`).join('\r\n');
  const part = `--b\r\nX-Pad: x\r\n${fold}\r\n\r\nhi\r\n`;
  const message = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      `${part.repeat(30)}--b\r\nContent-Type: application/x-bad\r\n\r\nbad line\r\n--b--\r\n`,
  );
  const { counted, rules } = countingTables();
  const r = inspectMessageSync(message, { header: rules.header, maxMatchWork: Number.POSITIVE_INFINITY });
  // The top header's two fields, then 22 padded headers of 49,658 octets: the 22nd crosses the budget.
  assert.equal(counted.header, 24);
  assert.deepEqual(
    r.findings.map((f) => [f.check, f.result, f.reason]),
    [
      [
        'mime_header_checks',
        'skipped',
        'the header tables stopped after 1048576 octets of headers, the limit per message',
      ],
    ],
  );
  const tables = {
    mime: parseRuleFile('/x-bad/ WARN bad type\n', 'mime_header_checks'),
    body: parseRuleFile('/^bad line$/ WARN found it\n', 'body_checks'),
  };
  assert.deepEqual(
    inspectMessageSync(message, tables).findings.map((f) => [f.check, f.result]),
    [
      ['mime_header_checks', 'skipped'],
      ['body_checks', 'warn'],
    ],
    'the last part is still a part: its line goes to body_checks',
  );
  const within = inspectMessageSync(message, { ...tables, maxHeaderOctets: 2_000_000 });
  assert.deepEqual(
    within.findings.map((f) => [f.check, f.result]),
    [
      ['mime_header_checks', 'warn'],
      ['body_checks', 'warn'],
    ],
  );
});

test('the parts of every boundary a duplicate Content-Type declares reach the tables; the first type counts', () => {
  const mime = { mime: parseRuleFile('/^Content-Type:.*name=.*\\.(exe|scr)/ REJECT executable', 'mime_header_checks') };
  const attached = (boundary: string) =>
    `--${boundary}\r\nContent-Type: application/octet-stream; name="invoice.exe"\r\n\r\nTVqQ\r\n--${boundary}--\r\n`;
  // The MIME parser and readers take the first; the last was the only one the tables read.
  const first = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/mixed; boundary="real"\r\n' +
      `Content-Type: multipart/mixed; boundary="decoy"\r\n\r\n${attached('real')}`,
  );
  assert.equal(inspectMessageSync(first, mime).verdict.action, 'reject', 'the first Content-Type');
  const last = Buffer.from(first.toString().replace(attached('real'), attached('decoy')));
  assert.equal(inspectMessageSync(last, mime).verdict.action, 'reject', 'the last Content-Type');
  const inPart = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n' +
      'Content-Type: multipart/mixed; boundary="real"\r\nContent-Type: text/plain\r\n\r\n' +
      `${attached('real')}--o--\r\n`,
  );
  assert.equal(inspectMessageSync(inPart, mime).verdict.action, 'reject', 'in a body part');
  // As the parser reads it, the first Content-Type says whether the part is an attached message.
  const nested = { nested: parseRuleFile('/^Subject: inner/ REJECT', 'nested_header_checks') };
  const forward = (types: string) =>
    Buffer.from(
      `Subject: s\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n${types}\r\n` +
        'Subject: inner\r\n\r\nx\r\n--o--\r\n',
    );
  const messageFirst = forward('Content-Type: message/rfc822\r\nContent-Type: text/plain\r\n');
  assert.equal(inspectMessageSync(messageFirst, nested).verdict.action, 'reject');
  const textFirst = forward('Content-Type: text/plain\r\nContent-Type: message/rfc822\r\n');
  assert.equal(inspectMessageSync(textFirst, nested).verdict.action, 'accept');
});

test('a boundary over RFC 2046 70 characters still splits the parts, as the MIME parser and readers split them', () => {
  const mime = { mime: parseRuleFile('/^Content-Type:.*name=.*\\.js"/ REJECT script', 'mime_header_checks') };
  for (const length of [71, 996]) {
    const b = 'x'.repeat(length); // 996: the longest an SMTP line (998 octets) can delimit
    const message = Buffer.from(
      `Subject: s\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n` +
        `Content-Type: application/octet-stream; name="invoice.js"\r\n\r\nWScript.Shell\r\n--${b}--\r\n`,
    );
    assert.equal(inspectMessageSync(message, mime).verdict.action, 'reject', `a boundary of ${length}`);
  }
});

test('in a multipart/digest a part without Content-Type is an attached message (RFC 2046 §5.1.5)', () => {
  const nested = { nested: parseRuleFile('/^Subject:.*lottery/ REJECT no lotteries', 'nested_header_checks') };
  const digest = (partHeader: string, type = 'multipart/digest') =>
    Buffer.from(
      `From: a@b\r\nSubject: digest\r\nContent-Type: ${type}; boundary=B\r\n\r\n--B\r\n${partHeader}\r\n` +
        'From: c@d\r\nSubject: You won the lottery\r\n\r\nclaim now\r\n--B--\r\n',
    );
  assert.equal(inspectMessageSync(digest(''), nested).verdict.action, 'reject');
  assert.equal(inspectMessageSync(digest('Content-Type: message/rfc822\r\n'), nested).verdict.action, 'reject');
  assert.equal(inspectMessageSync(digest('Content-Type: text/plain\r\n'), nested).verdict.action, 'accept');
  assert.equal(inspectMessageSync(digest('', 'multipart/mixed'), nested).verdict.action, 'accept', 'text/plain there');
  const base64 = digest('Content-Transfer-Encoding: base64\r\n');
  assert.equal(inspectMessageSync(base64, nested).verdict.action, 'accept', 'encoded: not read as a message');
  // The default is the digest's, not that of a multipart inside one.
  const inner = Buffer.from(
    'Subject: s\r\nContent-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n' +
      'Content-Type: multipart/mixed; boundary=M\r\n\r\n--M\r\n\r\nSubject: lottery\r\n--M--\r\n--D--\r\n',
  );
  assert.equal(inspectMessageSync(inner, nested).verdict.action, 'accept');
});

test('a line that is not a field hides no field below it that the MIME parser reads; body_checks still sees every line', () => {
  const header = parseRuleFile('/^Content-(Type|Disposition):.*name=.*\\.(exe|scr|js)/ REJECT executable', 'h');
  const part = (partHeader: string[]) =>
    crlf([
      'From: b@example.org',
      'Content-Type: multipart/mixed; boundary="S"',
      '',
      '--S',
      ...partHeader,
      'WScript.Shell',
      '--S--',
      '',
    ]);
  const attachment = ['Content-Type: application/octet-stream; name="invoice.js"', ''];
  for (const stray of ['X', ' ', 'From mallory@example.net Mon Jan  1 00:00:00 2026']) {
    const message = part([stray, ...attachment]);
    assert.equal(inspectMessageSync(message, { header }).verdict.action, 'reject', JSON.stringify(stray));
  }
  // Postfix reads the body from the line on: body_checks sees those lines as before, the field too.
  const seen = inspectMessageSync(part(['X', ...attachment]), rules('', '/./ WARN line'));
  assert.deepEqual(
    seen.findings.map((f) => /"(.*)"/.exec(f.reason)?.[1]),
    ['--S', 'X', 'Content-Type: application/octet-stream; name=\\"invoice.js\\"', 'WScript.Shell', '--S--'],
  );
  // With no empty line after it, the parser reads the fields below only when they name what the
  // fields above did not: HTML sent without the empty line stays body.
  const html = part(['Content-Type: text/html', '<p>', 'Note: x', '<script>']);
  const noted = inspectMessageSync(html, rules('/^Note:/ WARN header', '/^Note:/ WARN body'));
  assert.deepEqual(
    noted.findings.map((f) => f.check),
    ['body_checks'],
  );
  const named = part(['Content-Type: text/plain', 'X', 'Content-Disposition: attachment; filename="invoice.exe"']);
  assert.equal(inspectMessageSync(named, { header }).verdict.action, 'reject');
  // A multipart's body starts at the line (its preamble), as the parser reads it.
  const multipart = crlf([
    'Subject: s',
    'Content-Type: multipart/mixed; boundary=S',
    '',
    '--S',
    'Content-Type: multipart/mixed; boundary=T',
    'preamble',
    'X-Below: preamble',
    '',
    '--T--',
    '--S--',
    '',
  ]);
  assert.deepEqual(inspectMessageSync(multipart, rules('/^X-Below/ WARN')).findings, []);
});

test('a top-level field below a line that is not a field, or after a byte order mark, goes to header_checks', () => {
  const subject = rules('/^Subject:.*lottery/ REJECT no lotteries');
  const stray = crlf(['From: a@example.com', 'junk', 'Subject: lottery', '', 'body', '']);
  assert.equal(inspectMessageSync(stray, subject).verdict.action, 'reject');
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), crlf(['Subject: lottery', '', 'body', ''])]);
  assert.equal(inspectMessageSync(bom, subject).verdict.action, 'reject');
  const ignored = inspectMessageSync(bom, rules('/^Subject:/ IGNORE'));
  assert.equal(ignored.message?.toString(), '\r\nbody\r\n', 'the whole field, mark included');
});

test('REDIRECT $1: only an RFC 5321 mailbox is taken; anything else is logged as ignored', () => {
  const rule = rules('/^X-Redir: (.*)/ REDIRECT $1');
  const withHeader = (value: string) => crlf(['From: a@example.com', `X-Redir: ${value}`, 'Subject: s', '', 'hi', '']);
  assert.equal(inspectMessageSync(withHeader('Carol@Remote.EXAMPLE'), rule).redirect, 'Carol@remote.example');
  for (const value of ['x@remote.example\r\n\ty@remote.example', 'not an address', 'a@x.example, b@y.example', '']) {
    const r = inspectMessageSync(withHeader(value), rule);
    assert.equal(r.redirect, undefined, JSON.stringify(value));
    assert.equal(r.findings[0]?.result, 'redirect ignored');
    assert.match(r.findings[0]?.reason ?? '', /not an address/);
  }
});

test('header PREPEND $1 that is no header field (empty, no colon) is not written; a body one is', () => {
  const rule = rules('/^X-Prep:(.*)/ PREPEND $1', '/^(hi)$/ PREPEND $1');
  const message = (value: string) => crlf(['From: a@example.com', `X-Prep:${value}`, 'Subject: s', '', 'hi', '']);
  for (const value of ['', ' no colon here']) {
    const r = inspectMessageSync(message(value), rule);
    assert.equal(r.findings[0]?.result, 'prepend ignored', JSON.stringify(value));
    assert.deepEqual(r.prepended, ['hi'], 'only the body line');
    const out = (r.message ?? message(value)).toString();
    assert.ok(out.startsWith(`From: a@example.com\r\nX-Prep:${value}\r\nSubject: s\r\n\r\n`), out);
  }
  const ok = inspectMessageSync(message('X-Copied: yes'), rule);
  assert.ok(ok.message?.toString().includes('X-Copied: yes\r\nX-Prep:'));
});
