// `postern scan` as admins run it: bin/postern in a child process over messages of the labelled corpus,
// with the corpus organisation's config; output, JSON, Russian, batch mode, stdin and errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { warningBanner } from '../../src/filter/actions/banner.ts';
import { scanMessage, scanSettings } from '../../src/filter/phishing/scan.ts';
import { scorePhishing } from '../../src/filter/phishing-stage.ts';
import type { Envelope } from '../../src/smtp/envelope.ts';
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

// A delivered message carries our subject tag and warning banner: `postern scan` reads the sender's
// words, not ours (the banner quotes the reasons, e.g. "данные для входа или карты").
const corpus = loadConfig(CONFIG).config;
const settings = scanSettings({
  filter: corpus.filter,
  localDomains: corpus.domains,
  authservId: 'mx.vostok-trade.ru',
});

/** The message as the server delivers it from `warn` up: verdict fields, subject tag, banner. */
async function delivered(raw: string | Buffer, banner: Partial<typeof corpus.filter.phishing.banner> = {}) {
  const envelope = { mailFrom: { address: 'billing@evil-corp.net' } } as unknown as Envelope;
  const config = { ...corpus.filter.phishing, banner: { ...corpus.filter.phishing.banner, ...banner } };
  const out = await scorePhishing(Buffer.from(raw), { envelope }, settings.detector, config);
  assert.notEqual(out.action, 'none');
  return out.content;
}

/** "name=weight[evidence]" of each signal the scan finds. */
async function scanned(content: Buffer, config = settings): Promise<string[]> {
  const report = await scanMessage(content, config);
  return report.signals.map((s) => `${s.name}=${s.weight}[${s.evidence ?? ''}]`).sort();
}

const lure = (body: string, type = 'text/plain') =>
  [
    'From: Billing <billing@evil-corp.net>',
    'To: alice@vostok-trade.ru',
    'Subject: Account notice',
    'MIME-Version: 1.0',
    `Content-Type: ${type}; charset=utf-8`,
    'Content-Transfer-Encoding: 8bit',
    '',
    body,
    '',
  ].join('\r\n');

const RU =
  'Ваш пароль истекает сегодня. Срочно подтвердите пароль и логин в течение 24 часов, иначе учетная запись будет заблокирована.';
const EN =
  'Your mailbox password expires today. Confirm your password and login details within 24 hours or your account will be suspended.';

test('scan of a delivered message leaves out our banner and subject tag, in text and in HTML', async () => {
  const html = `<html><head><title>Notice</title></head><body><p>${EN}</p><a href="https://evil-corp.net/x">https://www.paypal.com/signin</a></body></html>`;
  const alternative = [
    'From: Billing <billing@evil-corp.net>',
    'Subject: Account notice',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    EN,
    '--b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(html).toString('base64'),
    '--b--',
    '',
  ].join('\r\n');
  for (const [label, original] of [
    ['Russian text', lure(RU)],
    ['English text', lure(EN)],
    ['HTML', lure(html, 'text/html')],
    ['text and HTML alternatives', alternative],
  ] as const) {
    const want = await scanned(Buffer.from(original));
    assert.ok(want.length > 0, label);
    for (const language of ['both', 'ru', 'en'] as const) {
      const mail = await delivered(original, { language });
      assert.match(mail.toString('latin1'), /^X-Postern-Verdict: phishing/m);
      const got = await scanned(mail, {
        ...settings,
        marks: { ...settings.marks!, banner: { ...settings.marks!.banner, language } },
      });
      assert.deepEqual(got, want, `${label}, banner in ${language}`);
    }
  }
});

test('a body the banner cannot go into is wrapped; scan unwraps it', async () => {
  const program = Buffer.alloc(0x80);
  program.write('MZ', 0, 'latin1');
  program.writeUInt32LE(0x40, 0x3c);
  program.write('PE\0\0', 0x40, 'latin1');
  const onlyAFile = [
    'From: Billing <billing@evil-corp.net>',
    'Subject: Account notice',
    'MIME-Version: 1.0',
    'Content-Type: application/octet-stream; name="invoice.pdf.exe"',
    'Content-Disposition: attachment; filename="invoice.pdf.exe"',
    'Content-Transfer-Encoding: base64',
    '',
    program.toString('base64'),
    '',
  ].join('\r\n');
  const signed = [
    'From: Billing <billing@evil-corp.net>',
    'Subject: Account notice',
    'MIME-Version: 1.0',
    'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"',
    '',
    '--s',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    RU,
    '--s',
    'Content-Type: application/pkcs7-signature; name="smime.p7s"',
    'Content-Transfer-Encoding: base64',
    '',
    'MIIB',
    '--s--',
    '',
  ].join('\r\n');
  for (const original of [onlyAFile, signed]) {
    const mail = await delivered(original);
    assert.match(mail.toString('latin1'), /boundary="=_postern_/);
    assert.deepEqual(await scanned(mail), await scanned(Buffer.from(original)));
  }
});

test('a configured wording is recognised too; a copy of our banner where the server did not put it is read', async () => {
  const template = { en: 'Warning from IT: {reasons}. Call 1234 before you answer.', ru: 'Предупреждение: {reasons}.' };
  const mail = await delivered(lure(EN), { text: template });
  const own = { ...settings, marks: { ...settings.marks!, banner: { ...settings.marks!.banner, text: template } } };
  assert.deepEqual(await scanned(mail, own), await scanned(Buffer.from(lure(EN))));
  // The sender's copy of our banner, its "reasons" a lure of their own, ahead of the text: the server's
  // banner goes above it, and only that is left out.
  const reasons = [
    { en: 'Confirm your password and card details today', ru: 'Подтвердите пароль и данные карты сегодня' },
  ];
  const senderCopy = `${warningBanner({ language: 'both', reasons }).text}\r\n\r\n`;
  const disguised = Buffer.from(
    lure(`${senderCopy}Hello, see you on Monday.`).replace('From: Billing', 'From: PayPal'),
  );
  const sendersWords = await scanned(disguised);
  assert.ok(
    sendersWords.some((s) => s.includes('Confirm your password') || s.includes('Подтвердите пароль')),
    sendersWords.join(' '),
  );
  assert.deepEqual(await scanned(await delivered(disguised)), sendersWords);
  const htmlCopy = warningBanner({ language: 'both', reasons }).html;
  const disguisedHtml = Buffer.from(
    lure(
      `<html><head><title>${htmlCopy}</title></head><body>${htmlCopy}<p>Hello</p></body></html>`,
      'text/html',
    ).replace('From: Billing', 'From: PayPal'),
  );
  assert.deepEqual(await scanned(await delivered(disguisedHtml)), await scanned(disguisedHtml));
});

test("with the banner turned off, a copy of its wording in a marked message is the sender's and is read", async () => {
  const reasons = [{ en: 'Confirm your password and card details today', ru: 'Подтвердите пароль и данные карты' }];
  // In the configured language and wording: what the scan would take for our banner.
  const copy = warningBanner({ language: settings.marks!.banner.language, reasons }).text;
  const senderCopy = `${copy.replace(/\n/g, '\r\n')}\r\n\r\n`;
  const raw = Buffer.from(lure(`${senderCopy}Hello, see you on Monday.`).replace('From: Billing', 'From: PayPal'));
  const off = { ...settings, marks: { ...settings.marks!, banner: { ...settings.marks!.banner, enabled: false } } };
  const mail = await delivered(raw, { enabled: false });
  assert.deepEqual(await scanned(mail, off), await scanned(raw, off), 'nothing of the sender left out');
});

test('postern scan of a stored message quotes the sender, not our banner', async (t) => {
  const dir = tempDir('postern-scan-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'stored.eml');
  fs.writeFileSync(file, await delivered(lure(EN)));
  const { code, stdout } = await scan(file, '--json');
  assert.equal(code, 0);
  const result = JSON.parse(stdout) as { subject: string; signals: { name: string; evidence?: string }[] };
  assert.equal(result.subject, '[PHISHING?] Account notice', 'shown as the user sees it');
  const evidence = result.signals.map((s) => s.evidence ?? '');
  assert.ok(evidence.length > 0);
  for (const quoted of evidence) assert.ok(EN.includes(quoted), `${quoted} is the sender's`);
});

test('scan says how many attached messages it left unopened past the limit', async (t) => {
  // The detector opens at most MAX_ATTACHED_MESSAGES (a DoS guard); before, scan did not say so, and
  // the admin read the verdict as covering all of them.
  const dir = tempDir('postern-scan-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tiny = 'From: c@example.org\r\nSubject: x\r\n\r\nhi\r\n';
  const parts = Array.from(
    { length: 105 },
    (_, i) =>
      `--B\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="m${i}.eml"\r\n\r\n${tiny}\r\n`,
  );
  const file = path.join(dir, 'many.eml');
  fs.writeFileSync(
    file,
    `From: a@example.org\r\nTo: alice@example.com\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n${parts.join('')}--B--\r\n`,
  );
  const text = await scan(file);
  assert.match(text.stdout, /^Attached messages not opened: 5 \(the first 100 are\)$/m);
  const json = JSON.parse((await scan(file, '--json')).stdout) as { unopenedAttachedMessages?: number };
  assert.equal(json.unopenedAttachedMessages, 5);
});
