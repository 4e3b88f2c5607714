// `postern scan` as admins run it: bin/postern in a child process over messages of the labelled corpus,
// with the corpus organisation's config; output, JSON, Russian, batch mode, stdin and errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { postern, ROOT } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';

const CONFIG = path.join(ROOT, 'test/corpus/postern.yaml');
const PHISH = path.join(ROOT, 'test/corpus/phishing/en/executive-01.eml');
const HAM = path.join(ROOT, 'test/corpus/ham/en/executive-01.eml');

const scan = (...args: string[]) => postern(['scan', ...args, '--config', CONFIG]);

test('one message: verdict, score, category and every signal explained', async () => {
  const { code, stdout } = await scan(PHISH);
  assert.equal(code, 0);
  assert.match(stdout, /^Score: [\d.]+$/m);
  assert.match(stdout, /^Action: (deliver with a warning|deliver to Junk|quarantine|reject \(554\))$/m);
  assert.match(stdout, /^Category: executive$/m);
  assert.match(stdout, /^ {2}\+[\d.]+ {2}protected-person-impersonation: .*Ivan Petrov/m);
  const ru = await scan(PHISH, '--lang', 'ru');
  assert.match(ru.stdout, /^Категория: executive$/m);
  assert.match(ru.stdout, /защищённое лицо/);
});

test('--json gives the signals with both explanations; ham is clean', async () => {
  const phish = JSON.parse((await scan(PHISH, '--json')).stdout) as {
    score: number;
    action: string;
    signals: { name: string; en: string; ru: string }[];
  };
  assert.ok(phish.score >= 4);
  assert.notEqual(phish.action, 'none');
  for (const s of phish.signals) assert.ok(s.en !== '' && s.ru !== '', s.name);
  const ham = JSON.parse((await scan(HAM, '--json')).stdout) as { action: string; signals: unknown[] };
  assert.equal(ham.action, 'none');
});

test('batch mode over a directory and stdin', async (t) => {
  const dir = tempDir('postern-scan-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(PHISH, path.join(dir, 'a.eml'));
  fs.copyFileSync(HAM, path.join(dir, 'b.eml'));
  const { code, stdout, stderr } = await scan('--json', dir);
  assert.equal(code, 0);
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { file: string; action: string });
  assert.deepEqual(
    lines.map((l) => path.basename(l.file)),
    ['a.eml', 'b.eml'],
  );
  assert.notEqual(lines[0]!.action, 'none');
  assert.equal(lines[1]!.action, 'none');
  assert.match(stderr, /^scanned 2 messages .* messages\/s$/m);

  const piped = await postern(['scan', '-', '--json', '--config', CONFIG], { stdin: fs.readFileSync(PHISH, 'utf8') });
  assert.equal(piped.code, 0);
  assert.equal((JSON.parse(piped.stdout) as { file: string }).file, '-');
});

test('errors name the problem', async () => {
  const missing = await scan(path.join(ROOT, 'no-such.eml'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /scan: cannot read .*no-such\.eml: ENOENT/);
  const usage = await postern(['scan']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing message file/);
  const lang = await scan(PHISH, '--lang', 'de');
  assert.equal(lang.code, 2);
  assert.match(lang.stderr, /--lang must be en or ru/);
});

test('control characters of a message never reach the terminal; an empty directory is an error', async (t) => {
  const dir = tempDir('postern-scan-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // ESC [2J clears the screen; ESC ] 0; … BEL retitles the window.
  const hostile =
    'From: a@evil.example\r\nTo: alice@example.com\r\nSubject: Hi \x1b[2J\x1b]0;pwned\x07 there\r\n\r\nHello\r\n';
  fs.writeFileSync(path.join(dir, 'esc.eml'), hostile);
  const one = await scan(path.join(dir, 'esc.eml'));
  assert.equal(one.code, 0, one.stderr);
  assert.doesNotMatch(one.stdout, /[\x00-\x08\x0b-\x1f\x7f]/, JSON.stringify(one.stdout));
  assert.match(one.stdout, /Hi \ufffd\[2J\ufffd\]0;pwned\ufffd there/);
  const json = await scan(path.join(dir, 'esc.eml'), '--json');
  assert.ok(JSON.stringify(JSON.parse(json.stdout)).includes('\\u001b[2J'), 'JSON keeps them, escaped');

  const empty = path.join(dir, 'empty');
  fs.mkdirSync(path.join(empty, 'nested'), { recursive: true });
  const nothing = await scan(empty);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /scan: no message files in .*empty \(subdirectories are not searched\)/);
});
