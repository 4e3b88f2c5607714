// Text log lines for a terminal: readable, and nothing a client sent can drive the terminal.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { textLine } from '../../src/log/text-lines.ts';
import { configDir, postern } from '../support/child-server.ts';

const time = new Date(2026, 10, 29, 4, 5, 6, 7).getTime(); // local time, as the line shows it

test('a JSON line becomes time, level, message and key=value fields', () => {
  const json = `${JSON.stringify({ level: 30, time, service: 'postern', session: 'a1b2', client: '192.0.2.1', port: 25, tls: false, msg: 'connected' })}\n`;
  assert.equal(
    textLine(json, { colour: false }),
    '2026-11-29 04:05:06.007 INFO  connected session=a1b2 client=192.0.2.1 port=25 tls=false\n',
  );
  const warn = textLine(`${JSON.stringify({ level: 40, time, msg: 'w' })}\n`, { colour: true });
  assert.equal(warn, '\u001b[33m2026-11-29 04:05:06.007 WARN  w\u001b[0m\n', 'warnings in yellow at a terminal');
  assert.equal(
    textLine(`${JSON.stringify({ level: 30, time, msg: 'plain' })}\n`, { colour: true }),
    `2026-11-29 04:05:06.007 INFO  plain\n`,
  );
});

test('values with spaces, quotes or = are quoted; objects are JSON; errors show their message', () => {
  const json = JSON.stringify({
    level: 50,
    time,
    msg: 'store failed',
    reason: 'disk full',
    helo: 'a=b',
    empty: '',
    domains: ['example.com', 'example.org'],
    err: { type: 'Error', message: 'SQLITE_FULL: database or disk is full', stack: 'Error: …\n    at x' },
  });
  assert.equal(
    textLine(json, { colour: false }),
    '2026-11-29 04:05:06.007 ERROR store failed reason="disk full" helo="a=b" empty="" domains=["example.com","example.org"] err="SQLITE_FULL: database or disk is full"\n',
  );
});

test('control characters, C1 codes and bidi overrides from clients are escaped, in messages, keys and values', () => {
  const hostile = 'evil\u001b[2J\r\nfake\u0085line\u202eexe.pdf\u0007';
  const json = JSON.stringify({ level: 30, time, msg: `HELO ${hostile}`, helo: hostile, 'k\u001bey': 1 });
  const line = textLine(json, { colour: false });
  assert.equal(line.split('\n').length, 2, 'one line');
  assert.doesNotMatch(line.slice(0, -1), /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  assert.match(line, /HELO evil\\u001b\[2J\\u000d\\u000afake\\u0085line\\u202eexe\.pdf\\u0007 /);
  assert.match(line, /helo="evil\\u001b\[2J\\r\\nfake\\u0085line\\u202eexe\.pdf\\u0007"/);
  assert.match(line, / k\\u001bey=1$/m);
  assert.equal(textLine('not json\u001b]0;title\u0007\n', { colour: false }), 'not json\\u001b]0;title\\u0007\n');
});

test('log.format: text makes serve write text lines; the default is JSON where output is not a terminal', async (t) => {
  for (const format of ['text', undefined]) {
    const d = configDir({ log: { level: 'info', ...(format ? { format } : {}) } });
    t.after(() => d.cleanup());
    const lines = await new Promise<string>((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/postern.mjs', 'serve', '--config', d.file],
        { timeout: 15_000 },
        (_e, stdout) => resolve(stdout),
      );
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk;
        if (/Postern \d/.test(out)) child.kill('SIGTERM');
      });
    });
    const start = lines.split('\n').find((line) => line.includes('Postern 0.1.0'));
    assert.ok(start, lines);
    if (format === 'text')
      assert.match(start, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO {2}Postern .* smtp=127\.0\.0\.1:\d+/);
    else assert.equal(JSON.parse(start).level, 30);
  }
  const bad = configDir({ log: { format: 'pretty' } });
  t.after(() => bad.cleanup());
  const r = await postern(['check', '--config', bad.file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr + r.stdout, /log\.format/);
});

test('a control character the logger escaped is shown once escaped in the text format, not with a doubled backslash', () => {
  // The logger writes ESC as the six characters \u001b (logger.ts); JSON.stringify in the text format
  // had doubled the backslash: helo="evil\\u001b[2J", against what docs/deployment.md says.
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (c, _e, done) => done(void lines.push(String(c))) }));
  logger.info({ helo: 'evil\u001b[2Jname', list: ['a\u202eb'] }, 'hello');
  logger.flush();
  const text = textLine(lines[0]!, { colour: false });
  assert.match(text, / helo="evil\\u001b\[2Jname" list=\["a\\u202eb"\]\n$/);
});

test('a message that could be read as fields is quoted: a client cannot plant session= or client= in a line', () => {
  const injected = 'Syntax error: invalid address literal "[1.2.3.4" session=FAKE client=6.6.6.6 code=250 x="]"';
  const line = textLine(
    `${JSON.stringify({ level: 30, time, msg: injected, session: 'real1', client: '127.0.0.1', code: 501 })}\n`,
    { colour: false },
  );
  assert.equal(
    line,
    `2026-11-29 04:05:06.007 INFO  ${JSON.stringify(injected)} session=real1 client=127.0.0.1 code=501\n`,
  );
  // What a key=value reader finds outside quoted strings: only the real fields.
  const bare = line.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  assert.deepEqual(
    [...bare.matchAll(/(\w+)=/g)].map((m) => m[1]),
    ['session', 'client', 'code'],
  );
  // A plain message stays as it was written.
  assert.match(
    textLine(`${JSON.stringify({ level: 30, time, msg: 'message stored' })}\n`, { colour: false }),
    /INFO {2}message stored\n$/,
  );
});
