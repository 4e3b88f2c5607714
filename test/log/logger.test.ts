import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';

/** A destination that keeps every line written to it. */
function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, sink };
}

test('secrets never reach a log line: passwords, SCRAM credentials, private keys', async () => {
  const { lines, sink } = capture();
  const logger = createLogger('info', sink);
  logger.info(
    {
      password: 'p4ss',
      scram: 'salt',
      privateKey: '-----BEGIN PRIVATE KEY-----',
      key: { privateKey: 'x', selector: 's1' },
      err: { message: 'login failed', password: 'from-an-error' },
    },
    'secrets',
  );
  await new Promise((resolve) => setImmediate(resolve));
  const text = lines.join('');
  assert.doesNotMatch(text, /p4ss|salt|BEGIN PRIVATE KEY|"privateKey":"x"|from-an-error/);
  assert.match(text, /"selector":"s1"/);
  assert.match(text, /"message":"login failed"/);
  assert.equal(text.match(/\[redacted\]/g)?.length, 5);
});

test("a node-postgres error's Client (with the backend's cancel key) is not logged", async () => {
  const { lines, sink } = capture();
  const error = Object.assign(new Error('Connection terminated unexpectedly'), {
    client: { processID: 17308, secretKey: 98072147, connectionParameters: { user: 'postern' } },
  });
  createLogger('info', sink).warn({ err: error }, 'store: a background connection failed');
  await new Promise((resolve) => setImmediate(resolve));
  const text = lines.join('');
  assert.doesNotMatch(text, /secretKey|98072147|processID/);
  assert.match(text, /Connection terminated unexpectedly/);
});

test('a sender-sized field is cut: no log line carries a 60 KB SPF explanation or milter reply', async () => {
  const { lines, sink } = capture();
  const logger = createLogger('info', sink);
  logger.info({ reply: `550 5.7.23 ${'E'.repeat(60_000)}`, checks: ['spf=fail', 'x'.repeat(90_000)], n: 3 }, 'refused');
  await new Promise((resolve) => setImmediate(resolve));
  const [line] = lines;
  assert.ok(line !== undefined && line.length < 6000, `${line?.length} characters`);
  const parsed = JSON.parse(line) as { reply: string; checks: string[]; n: number };
  assert.match(parsed.reply, /^550 5\.7\.23 E+… \(\d+ more characters\)$/);
  assert.match(parsed.checks[1] ?? '', /… \(87952 more characters\)$/);
  assert.equal(parsed.checks[0], 'spf=fail');
  assert.equal(parsed.n, 3);
  // The message text too: the listener logs a refusal's reply as the line's message.
  const { lines: more, sink: other } = capture();
  createLogger('info', other).info({ code: 550 }, `SPF fail: ${'E'.repeat(60_000)}`);
  await new Promise((resolve) => setImmediate(resolve));
  const msg = (JSON.parse(more[0] ?? '{}') as { msg: string }).msg;
  assert.match(msg, /^SPF fail: E+… \(\d+ more characters\)$/);
  assert.ok(msg.length < 2200);
});

test("a client's controls never reach a reader's terminal: every string escaped as text, letters of any script kept", async () => {
  const { lines, sink } = capture();
  const logger = createLogger('info', sink);
  // ESC sequences (a title, a cleared screen), BEL, C1 CSI, a bidi override, U+2028, a line feed, a tab.
  const hostile = 'a\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\u2028x\ny\tz';
  const readable = 'Иван Петров <иван@почта.рф> bücher.example';
  logger.warn(
    {
      reason: hostile,
      helo: hostile,
      to: ['bob@example.com', hostile],
      user: readable,
      request: { nested: [hostile] },
      err: Object.assign(new Error(`refused: ${hostile}`), { detail: hostile }),
    },
    `login failed: ${hostile}`,
  );
  logger.info(new Error(`no message given: ${hostile}`));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 2);
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
  const escaped = 'a\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u202eevil\\u2028x\\u000ay\\u0009z';
  const strings = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value]
      : value && typeof value === 'object'
        ? Object.values(value).flatMap(strings)
        : [];
  for (const line of lines) {
    assert.doesNotMatch(line.trimEnd(), /[\u007f-\u009f\u202e\u2028]/, 'no raw C1 or bidi in the JSON');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    // What `jq -r` prints: every decoded string, the stack's own line feeds aside.
    for (const text of strings({ ...parsed, err: { ...(parsed.err as object), stack: undefined } })) {
      assert.doesNotMatch(text, unsafe, text);
    }
    const stack = String((parsed.err as { stack: string }).stack);
    assert.doesNotMatch(stack.replaceAll('\n', ''), unsafe, 'the stack keeps only its line feeds');
    assert.ok(stack.includes(escaped.replace('\\u000a', '\n')), stack);
  }
  const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const err = first?.err as { message: string; detail: string } | undefined;
  assert.equal(first?.msg, `login failed: ${escaped}`);
  assert.equal(first?.reason, escaped);
  assert.equal(first?.helo, escaped);
  assert.deepEqual(first?.to, ['bob@example.com', escaped]);
  assert.deepEqual(first?.request, { nested: [escaped] });
  assert.equal(first?.user, readable, 'Cyrillic names and IDNs stay readable');
  assert.equal(err?.message, `refused: ${escaped}`);
  assert.equal(err?.detail, escaped);
  assert.equal(second?.msg, `no message given: ${escaped}`);
});

test('no depth or key lets a control through: keys escaped, deeper values logged as escaped JSON, long arrays counted', async () => {
  const { lines, sink } = capture();
  const logger = createLogger('info', sink);
  logger.info(
    {
      a: { b: { c: { d: { e: { f: { g: 'x\u202ey' } }, list: [['\u001b[2J']] } } } },
      'k\u202eey\u001b': 1,
      nested: { 'in\u2028ner': 'v' },
      many: Array.from({ length: 250 }, (_, i) => `r${i}\u202e`),
    },
    'deep',
  );
  await new Promise((resolve) => setImmediate(resolve));
  const [line] = lines;
  assert.ok(line !== undefined);
  assert.doesNotMatch(line.trimEnd(), /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/, 'no raw control in the JSON');
  const parsed = JSON.parse(line);
  // What `jq -r` prints: no key, no string at any depth decodes to a control.
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/;
  const visit = (value: unknown): void => {
    if (typeof value === 'string') assert.doesNotMatch(value, unsafe, value);
    else if (value && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        assert.doesNotMatch(key, unsafe, key);
        visit(item);
      }
    }
  };
  visit(parsed);
  assert.equal(parsed['k\\u202eey\\u001b'], 1);
  assert.equal(parsed.nested['in\\u2028ner'], 'v');
  // Past four levels, the rest is one string: its JSON, escaped as any string is.
  assert.equal(typeof parsed.a.b.c.d.e, 'string');
  assert.equal(parsed.a.b.c.d.e, '{"f":{"g":"x\\u202ey"}}');
  assert.equal(parsed.a.b.c.d.list, '[["\\u001b[2J"]]');
  assert.equal(parsed.many.length, 101);
  assert.equal(parsed.many[0], 'r0\\u202e');
  assert.equal(parsed.many[100], '… (150 more items)');
});
