/**
 * HTML attachments read as the browser that opens them reads them (evasion audit D9), and a password
 * given in fullwidth letters or with a soft hyphen (D5).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { decodeHtml, prescan } from '../../../../src/filter/phishing/attachments/html-content.ts';
import { file, signals } from './attachment-helpers.ts';

const weightOf = async (page: string | Uint8Array): Promise<string[]> =>
  signals([file('invoice.html', page, 'text/html')]);

test('a page is active by its parsed elements, wherever the markup hides them', async () => {
  const pad = ' '.repeat(1024 * 1024 + 10);
  const form = '<form action="https://login.example/p"><input type="password" name="pw"></form>';
  for (const page of [
    '<html><body><form/action="https://login.example/p"><input name="pw"></form></body></html>', // "/" ends the tag name
    '<html><body style="margin:0"><iframe src="https://login.example/p" style="width:100%;height:100vh"></iframe>',
    '<object data="https://login.example/p"></object>',
    '<embed src="https://login.example/p">',
    `<html><!--${pad}-->${form}`, // past the first megabyte
    '<img src=x onerror="eval(decodeURIComponent(\'%6c%6f\'))">',
    '<html><body><svg><a href="javascript:go()"><text>View</text></a></svg>',
    '<a href=" java\tscript:go()">View</a>',
  ]) {
    assert.deepEqual(await weightOf(page), ['html-attachment:4[invoice.html]'], page.slice(0, 60));
  }
});

test('a page whose tags ISO-2022-JP escape sequences split is active once decoded', async () => {
  const page = Buffer.from(
    '<html><head><meta charset="iso-2022-jp"></head><body><fo\x1b(Brm action="https://login.example/p">' +
      '<input ty\x1b(Bpe="pass\x1b(Bword" name="pw"></form></body></html>',
    'latin1',
  );
  assert.deepEqual(await weightOf(page), ['html-attachment:4[invoice.html]']);
  // Undeclared: the browser may still guess ISO-2022-JP from the escapes.
  const undeclared = Buffer.from('<html><body><fo\x1b(Brm action="https://login.example/p"></form>', 'latin1');
  assert.deepEqual(await weightOf(undeclared), ['html-attachment:4[invoice.html]']);
});

test('markup a browser does not build is not active', async () => {
  for (const page of [
    '<html><body><!-- <form action="x"><script>go()</script> --><p>Your invoice</p></body></html>',
    '<html><body><template><form action="x"></form></template><p>Invoice</p></body></html>',
    '<html><body><p>Set the location = Paris, then window.location is shown as text.</p></body></html>',
    '<html><body><textarea><script>go()</script></textarea></body></html>',
  ]) {
    assert.deepEqual(await weightOf(page), ['html-attachment:3[invoice.html]'], page);
  }
});

test('the encoding is taken from a BOM, else from the <meta> the prescan finds (HTML §13.2.3.2)', () => {
  const bytes = (s: string) => Buffer.from(s, 'latin1');
  assert.equal(prescan(bytes('<meta charset="iso-2022-jp">')), 'iso-2022-jp');
  assert.equal(prescan(bytes('<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=Shift_JIS">')), 'shift_jis');
  assert.equal(prescan(bytes('<meta content="text/html; charset=koi8-r">')), undefined); // no pragma
  assert.equal(prescan(bytes('<!-- <meta charset="koi8-r"> --><meta charset=utf-16le>')), 'utf-8');
  assert.equal(
    prescan(bytes('<p title="<meta charset=koi8-r>"><meta charset="nonsense"><meta charset=cp1251>')),
    'windows-1251',
  );
  assert.deepEqual(decodeHtml(Buffer.from('\ufeff<p>é</p>', 'utf8')), ['<p>é</p>']);
  assert.deepEqual(decodeHtml(bytes('<meta charset=koi8-r><p>\xd0\xd2\xc9')), ['<meta charset=koi8-r><p>при']);
});

test('a long page costs bounded time: the parser reads a megabyte, the rest is searched as text', async () => {
  for (const page of ['<p>abc def '.repeat(2_000_000), '<b>'.repeat(2_000_000), `<p title="${'x'.repeat(20e6)}">`]) {
    const start = performance.now();
    await weightOf(page);
    const ms = performance.now() - start;
    assert.ok(ms < 3000, `${page.slice(0, 12)}: ${Math.round(ms)} ms`);
  }
});

test('a password given in fullwidth letters or with a soft hyphen is a password given (D5)', async () => {
  const archive = await readFile(new URL('fixtures/encrypted.zip', import.meta.url));
  for (const text of ['ｐａｓｓｗｏｒｄ: 4417', 'Pass\u00adword: 4417', 'Пар\u200bоль: 4417']) {
    assert.deepEqual(
      await signals([file('invoice.zip', archive, 'application/zip')], `Invoice attached. ${text}`),
      ['encrypted-archive:4[invoice.zip]'],
      text,
    );
  }
});
