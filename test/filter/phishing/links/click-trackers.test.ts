// Audit of the phishing detector: the sender chose whether its own link was a "click tracker" (a word
// such as track, redir or click anywhere in the host or path), halving link-text-mismatch and
// brand-link-elsewhere, so a "mailbox full" lure fell below warn. Trackers are known by domain only.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../../src/config/load.ts';
import { isClickTracker } from '../../../../src/filter/phishing/links/redirectors.ts';
import { scanMessage, scanSettings } from '../../../../src/filter/phishing/scan.ts';
import { html, one } from './link-helpers.ts';

const lureLinks = [
  'https://webmail-quota.top/owa/',
  'https://webmail-quota.top/track/owa/',
  'https://webmail-quota.top/redirect',
  'https://webmail-quota.top/trk/login',
  'https://webmail-quota.click/owa/',
  'https://secure-clicks-login.top/owa/',
  'https://clk.webmail-quota.top/owa/',
  'http://clickthru.example.net/Click?q=ab-12',
  'https://click.mailnotice-center.net/ls/click?upn=1',
];

test('words the sender chose in an unknown host or path make no click tracker', () => {
  for (const href of lureLinks) assert.ok(!isClickTracker(new URL(href)), href);
});

test('the bulk-mail trackers the docs name are known by their domains, not by look-alike names', () => {
  for (const href of [
    'https://abc.r.sp1-brevo.net/mk/cl/f/xyz',
    'https://r.sendibt3.com/mk/cl/xyz',
    'https://abc12.mjt.lu/lnk/AUsAAA/1',
    'https://spgo.io/a1b2',
    'https://eh.sparkpostmail.com/f/a/x',
    'https://mailchi.mp/example/news',
    'https://e.customeriomail.com/e/c/x',
    'https://mandrillapp.com/track/click/1/example.com?p=x',
    'https://abc.r.us-east-1.awstrack.me/L0/token',
    'https://click.pstmrk.it/3s/x',
  ]) {
    assert.ok(isClickTracker(new URL(href)), href);
  }
  for (const href of ['https://mailchi.mp.evil.example/x', 'https://evilpstmrk.it/x', 'https://awstrack.me.top/x'])
    assert.ok(!isClickTracker(new URL(href)), href);
});

test('a link whose path or host says "track", "redirect" or "click" keeps the full mismatch and brand weights', () => {
  for (const href of lureLinks) {
    assert.equal(
      one(html(`<a href="${href}">https://mail.acmecorp.ru/owa/</a>`), 'link-text-mismatch').weight,
      3,
      href,
    );
    assert.equal(one(html(`<a href="${href}">Log in to PayPal</a>`), 'brand-link-elsewhere').weight, 2, href);
  }
  // A known tracker still counts for less, never for nothing.
  const tracked = 'https://abc12.mjt.lu/lnk/AUsAAA/1';
  assert.equal(one(html(`<a href="${tracked}">dilbert.com</a>`), 'link-text-mismatch').weight, 1.5);
  assert.equal(one(html(`<a href="${tracked}">Log in to PayPal</a>`), 'brand-link-elsewhere').weight, 1);
});

test('a "mailbox full" lure through /track/, /redirect or a .click domain is warned about, as without them', async () => {
  const { config } = loadConfig(join(import.meta.dirname, '../../../corpus/postern.yaml'), {});
  const settings = scanSettings({
    filter: config.filter,
    localDomains: config.domains,
    authservId: config.authentication.authservId ?? config.hostname,
  });
  for (const href of lureLinks.slice(0, 6)) {
    const raw =
      'From: Mail Administrator <admin@mailnotice-center.net>\r\nTo: a.smirnova@vostok-trade.ru\r\n' +
      'Subject: Your mailbox is full\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n' +
      '<p>Your mailbox has exceeded its storage limit (99%).</p>' +
      `<p>Log in here to upgrade your quota: <a href="${href}">https://mail.vostok-trade.ru/owa/</a></p>\r\n`;
    const result = await scanMessage(Buffer.from(raw), settings);
    assert.equal(one(result.signals, 'link-text-mismatch').weight, 3, href);
    assert.notEqual(result.action, 'none', `${href}: ${result.score}`);
  }
});
