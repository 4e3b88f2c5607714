import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuthenticationSummary,
  authenticationFromHeaders,
} from '../../../src/filter/phishing/authentication-signals.ts';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { detectPhishing, htmlText, type PhishingSettings } from '../../../src/filter/phishing/detector.ts';
import { parseMessage } from '../../../src/mime/message.ts';

const settings: PhishingSettings = {
  protectedDomains: ['vostok-trade.ru'],
  partnerDomains: [],
  brands: DEFAULT_BRANDS,
  people: [],
  allowlist: ['nodmarc-partner.ru'],
};

const LURE_RU =
  'Ваш пароль истекает сегодня. Срочно подтвердите пароль и логин в течение 24 часов, иначе учетная запись будет заблокирована.';
const LURE_EN =
  'Your mailbox password expires today. Confirm your password and login details within 24 hours or your account will be suspended.';

function headers(from = 'Billing <billing@evil-corp.net>', subject = 'Account notice'): string {
  return `From: ${from}\r\nTo: alice@vostok-trade.ru\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n`;
}

function alternative(text: string, html: string): string {
  return `${headers()}Content-Type: multipart/alternative; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n--BB\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n--BB--\r\n`;
}

function htmlOnly(html: string): string {
  return `${headers()}Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}\r\n`;
}

function plainOnly(text: string): string {
  return `${headers()}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}\r\n`;
}

async function scan(raw: string, input: { authentication?: AuthenticationSummary; envelopeFrom?: string } = {}) {
  return detectPhishing({ message: await parseMessage(Buffer.from(raw)), ...input }, settings);
}

const languageNames = async (raw: string) =>
  (await scan(raw)).signals.filter((s) => s.group === 'language').map((s) => s.name);

describe('the words the detector reads', () => {
  it('reads the HTML alternative behind a harmless plain one, as the reader sees it (RFC 2046 §5.1.4)', async () => {
    for (const lure of [LURE_RU, LURE_EN]) {
      const names = await languageNames(
        alternative('Добрый день! Во вложении счёт за ноябрь.', `<html><body><p>${lure}</p></body></html>`),
      );
      assert.deepEqual(names.sort(), ['credential-request', 'threat', 'urgency'], lure);
    }
  });

  it('reads the HTML alternative even behind a plain one longer than the 4 KB read of each', async () => {
    const filler = 'Notes from the meeting follow. '.repeat(150);
    const names = await languageNames(alternative(filler, `<p>${LURE_EN}</p>`));
    assert.ok(names.includes('credential-request'), JSON.stringify(names));
  });

  it('counts a phrase found in both alternatives once', async () => {
    const both = await scan(alternative(LURE_EN, `<p>${LURE_EN}</p>`));
    const plain = await scan(plainOnly(LURE_EN));
    assert.deepEqual(
      both.signals.map((s) => s.name),
      plain.signals.map((s) => s.name),
    );
    assert.equal(both.score, plain.score);
    assert.equal(both.signals.find((s) => s.name === 'credential-request')?.evidence, 'Confirm your password');
  });

  it('decodes hex character references and named entities in HTML-only mail', async () => {
    const hex = [...LURE_RU].map((ch) => (ch === ' ' ? ch : `&#x${ch.codePointAt(0)!.toString(16)};`)).join('');
    assert.deepEqual((await languageNames(htmlOnly(`<p>${hex}</p>`))).sort(), [
      'credential-request',
      'threat',
      'urgency',
    ]);
    const named =
      'Your p&#x61;ssword expires. &Scy;&rcy;&ocy;&chcy;&ncy;&ocy; &pcy;&ocy;&dcy;&tcy;&vcy;&iecy;&rcy;&dcy;&icy;&tcy;&iecy; &pcy;&acy;&rcy;&ocy;&lcy;&softcy;.';
    const found = await scan(htmlOnly(`<p>${named}</p>`));
    assert.equal(found.signals.find((s) => s.name === 'credential-request')?.evidence, 'подтвердите пароль');
    assert.equal(found.signals.find((s) => s.name === 'urgency')?.evidence, 'Срочно');
    assert.ok(
      (await languageNames(htmlOnly('<p>Confirm your p&#x61;ssword today.</p>'))).includes('credential-request'),
    );
  });
});

// The evasion audit's messages (lang-ru-06…20, lang-en-03/04): the lure is read as the reader sees it.
describe('HTML dressed to hide the words', () => {
  const RU = 'Срочно подтвердите учетную запись и пароль, иначе ваш аккаунт будет заблокирован.';
  const all = ['credential-request', 'threat', 'urgency'];
  const names = async (html: string) => (await languageNames(htmlOnly(html))).sort();

  it('reads a ">" in HTML as a character: only a quoting <blockquote> is a quotation', async () => {
    assert.deepEqual(await names(`<p>&gt; ${RU}</p>`), all);
    assert.deepEqual(await names(`<p><span style="color:#fff;font-size:1px">&gt;</span> ${RU}</p>`), all);
    // A reply that quotes the scam to ask about it is no scam; an InMail's <blockquote> is the message itself.
    const reply = `<p>Коллеги, это фишинг? Не отвечайте.</p><blockquote type="cite"><p>${RU}</p></blockquote>`;
    assert.deepEqual(await names(reply), []);
    assert.deepEqual(await names(reply.replace('type="cite"', 'class="gmail_quote"')), []);
    assert.deepEqual(await names(reply.replace(' type="cite"', '')), all);
    // Nothing outside the quotation: the quotation is the message.
    assert.deepEqual(await names(`<blockquote type="cite">${RU}</blockquote>`), all);
  });

  it('joins the cells of a table without gaps, as drawn, and a cell made inline', async () => {
    const cells = (attrs: string) =>
      `<table ${attrs}><tr><td>Сроч</td>\n<td>но подтв</td><td>ердите учетную запись и пароль, иначе ваш аккаунт будет забло</td><td>кирован.</td></tr></table>`;
    assert.deepEqual(await names(cells('cellpadding="0" cellspacing="0"')), all);
    assert.deepEqual(
      await names(
        '<table cellpadding=0 cellspacing=0><tr><td>Your mailbox pass</td><td>word expires today. Ver</td><td>ify your account pass</td><td>word within 24 ho</td><td>urs or your account will be sus</td><td>pended.</td></tr></table>',
      ),
      all,
    );
    assert.equal(
      htmlText(cells('')),
      'Сроч но подтв ердите учетную запись и пароль, иначе ваш аккаунт будет забло кирован.',
    );
    assert.equal(
      htmlText('<table cellpadding="0" cellspacing="0"><tr><td>a</td><td style="padding:0 4px">b</td></tr></table>'),
      'a b',
    );
    assert.deepEqual(
      await names(
        '<div>Сроч<div style="display:inline">но</div> подтв<div style="display:inline">ердите</div> учетную запись и пароль, иначе ваш аккаунт будет забло<div style="display:inline">кирован</div>.</div>',
      ),
      all,
    );
  });

  it('leaves out text an inline style hides: letters inside words, fake sentence ends, padding', async () => {
    assert.deepEqual(
      await names(
        '<p>Сроч<span style="font-size:0">х</span>но подтв<span style="font-size:0px">ж</span>ердите учетную запись и пароль, иначе ваш аккаунт будет забло<span style="display:none">ф</span>кирован.</p>',
      ),
      all,
    );
    const stop = '<span style="display:none">.\n\n</span>';
    assert.deepEqual(
      await names(
        `<p>Срочно${stop} подтвердите${stop} учетную${stop} запись и пароль, иначе ваш аккаунт${stop} будет${stop} заблокирован.</p>`,
      ),
      all,
    );
    // Past the 4 KB read once the hidden padding is counted.
    assert.deepEqual(
      await names(`<div style="display:none">${'Добрый день, коллеги. '.repeat(220)}</div><p>${RU}</p>`),
      all,
    );
    assert.deepEqual(
      await names(
        `<div style="visibility:hidden">${'Thanks for the meeting notes. '.repeat(150)}</div><p>${LURE_EN}</p>`,
      ),
      all,
    );
  });

  it('reads what a descendant shows again inside a zero font size or hidden visibility', () => {
    // Mail templates zero the font of a wrapper to close the gaps between its inline blocks.
    assert.equal(
      htmlText(
        '<div style="font-size:0">x <div style="display:inline-block;font-size:14px">Confirm</div> <span>y</span></div>',
      ),
      'Confirm',
    );
    assert.equal(htmlText('<div style="visibility:hidden">a<p style="visibility:visible">b</p></div>'), 'b');
    assert.equal(htmlText('<div style="font-size:0">a<span style="font-size:2em">b</span></div>c'), 'c');
    assert.equal(htmlText('<div style="display:none">a<p style="display:block;font-size:14px">b</p></div>c'), 'c');
  });
});

describe('htmlText', () => {
  it('decodes numeric references by the HTML rules (§13.2.5.80): invalid ones become U+FFFD', () => {
    assert.equal(htmlText('&#x43F;&#X43f;&#1087;&#x1F600;'), 'ппп😀');
    assert.equal(htmlText('a&#0;b&#x110000;c&#xD800;d&#99999999999999999999;e'), 'a\uFFFDb\uFFFDc\uFFFDd\uFFFDe');
    assert.equal(htmlText('&#x80;&#150;'), '€–'); // windows-1252, as browsers read 0x80-0x9F
  });

  it('decodes named references, with or without their semicolon where HTML allows it', () => {
    // &nbsp; is read as the space it shows, as the language signals always had it.
    assert.equal(htmlText('&copy;&nbsp;&rarr;&amp;&lt;&gt;&quot;&apos;&shy;&Pcy;&amp'), '© →&<>"\'\u00ad\u041f&');
    assert.equal(htmlText('&unknownentity; &copy'), '&unknownentity; ©');
  });

  it('shows what a reader sees: no script, style, title, comment; inline tags join, blocks break lines', () => {
    assert.equal(
      htmlText(
        '<html><head><title>T</title><style>p{}</style></head><body><script>x()</script><!-- hidden --><p>Con<b>fi</b>rm your</p><div>pass<span>word</span>\n\n   now</div></body></html>',
      ),
      'Confirm your\npassword now',
    );
    assert.equal(htmlText('<p>a</p>\n\n<p>b</p><br><br>c'), 'a\nb\nc'); // no blank line: blocks do not end sentences
  });

  it('stays linear on large input and reads at most 256 KB', () => {
    const started = performance.now();
    const text = htmlText(`<p>${'&#x43F;<b>a</b> '.repeat(100_000)}</p>`);
    assert.ok(performance.now() - started < 2000);
    assert.ok(text.length < 256 * 1024);
  });
});

describe('the allow-list', () => {
  const forged = plainOnly(`${LURE_EN}\r\nPay the invoice to the new account, and keep this confidential.`).replace(
    'From: Billing <billing@evil-corp.net>',
    'From: Accounts <buh@nodmarc-partner.ru>',
  );

  it('scores a forged partner with no DMARC record (SPF fail): the allow-list wants an authenticated From', async () => {
    const report = await scan(forged, {
      authentication: { spf: 'fail', dmarc: 'none', dmarcDomain: 'nodmarc-partner.ru' },
      envelopeFrom: 'buh@nodmarc-partner.ru',
    });
    assert.equal(report.allowlisted, undefined);
    assert.ok(report.score > 0);
  });

  it('scores a partner with no DMARC record whose SPF passed for another domain (not aligned)', async () => {
    const report = await scan(forged, {
      authentication: { spf: 'pass', dmarc: 'none', dmarcDomain: 'nodmarc-partner.ru' },
      envelopeFrom: 'bounce@evil-corp.net',
    });
    assert.equal(report.allowlisted, undefined);
  });

  it('exempts the partner when DMARC passes, or with no DMARC record when SPF passes aligned (RFC 7489 §3.1.2)', async () => {
    const dmarcPass = await scan(forged, { authentication: { spf: 'fail', dkim: 'pass', dmarc: 'pass' } });
    assert.deepEqual([dmarcPass.allowlisted, dmarcPass.score], ['nodmarc-partner.ru', 0]);
    const alignedSpf = await scan(forged, {
      authentication: { spf: 'pass', dmarc: 'none' },
      envelopeFrom: 'bounces@mail.nodmarc-partner.ru',
    });
    assert.deepEqual([alignedSpf.allowlisted, alignedSpf.score], ['nodmarc-partner.ru', 0]);
  });

  it('scores a DMARC fail, or a DMARC pass for another domain', async () => {
    assert.equal((await scan(forged, { authentication: { spf: 'pass', dmarc: 'fail' } })).allowlisted, undefined);
    const other = await scan(forged, { authentication: { dmarc: 'pass', dmarcDomain: 'evil-corp.net' } });
    assert.equal(other.allowlisted, undefined);
  });

  it('takes a U-label and its A-label for one domain, in the list and in the From (RFC 5890)', async () => {
    const idn = { ...settings, allowlist: ['xn--mnchen-3ya.example', 'kontakt@bücher.example'] };
    const from = (address: string) => forged.replace('<buh@nodmarc-partner.ru>', `<${address}>`);
    const pass = { authentication: { dmarc: 'pass' as const } };
    const byDomain = await detectPhishing(
      { message: await parseMessage(Buffer.from(from('a@münchen.example'))), ...pass },
      idn,
    );
    assert.equal(byDomain.allowlisted, 'xn--mnchen-3ya.example');
    const byAddress = await detectPhishing(
      { message: await parseMessage(Buffer.from(from('kontakt@xn--bcher-kva.example'))), ...pass },
      idn,
    );
    assert.equal(byAddress.allowlisted, 'kontakt@bücher.example');
  });

  it('scores a partner with no DMARC record whose only pass is a DKIM signature, of whichever domain', async () => {
    // DKIM proves the signing domain (d=), which may be anyone's: only DMARC ties it to the From (RFC 7489 §3.1).
    const results =
      'mx.vostok-trade.ru; dkim=pass header.d=evil-corp.net header.s=s1; spf=fail smtp.mailfrom=nodmarc-partner.ru; dmarc=none header.from=nodmarc-partner.ru';
    const received = forged.replace('From: ', `Authentication-Results: ${results}\r\nFrom: `);
    const message = await parseMessage(Buffer.from(received));
    const authentication = authenticationFromHeaders(message.headers, 'mx.vostok-trade.ru');
    assert.deepEqual(authentication, {
      dkim: 'pass',
      dkimDomains: ['evil-corp.net'],
      spf: 'fail',
      dmarc: 'none',
      dmarcDomain: 'nodmarc-partner.ru',
    });
    const { spf: _, ...withoutSpf } = authentication ?? {};
    for (const [spf, summary] of [
      ...['fail', 'softfail', 'none', 'temperror'].map((spf) => [spf, { ...withoutSpf, spf }] as const),
      ['absent', withoutSpf] as const,
    ]) {
      const report = await detectPhishing(
        { message, authentication: summary, envelopeFrom: 'buh@nodmarc-partner.ru' },
        settings,
      );
      assert.equal(report.allowlisted, undefined, `spf=${spf}`);
      assert.ok(report.score > 0, `spf=${spf}`);
    }
  });

  it('still exempts when there are no authentication results at all (the checks are off, as documented)', async () => {
    assert.equal((await scan(forged)).allowlisted, 'nodmarc-partner.ru');
  });
});

describe('Greek letters that pass for Latin ones (UTS #39 skeletons, in capitals too)', () => {
  const from = (address: string, body = 'Please review your account.') =>
    plainOnly(body).replace('Billing <billing@evil-corp.net>', `PayPal <${address}>`);
  const lookalikes = async (raw: string) =>
    (await scan(raw)).signals
      .filter((s) => s.name === 'lookalike-sender' || s.name === 'lookalike-link')
      .map((s) => [s.name, s.evidence]);

  it('flags a sender domain written in Greek capitals, or its A-label, as a lookalike of the brand', async () => {
    for (const address of ['service@ΡΑΥΡΑL.com', 'service@xn--l-ylba6dbx.com', 'service@ραυραl.com']) {
      assert.deepEqual(await lookalikes(from(address)), [['lookalike-sender', 'paypal.com']], address);
    }
    // Small Greek letters that pass for Latin ones were found before and still are.
    assert.deepEqual(await lookalikes(from('service@pαypal.com')), [['lookalike-sender', 'paypal.com']]);
    const report = await scan(from('service@ΡΑΥΡΑL.com'));
    const signal = report.signals.find((s) => s.name === 'lookalike-sender');
    assert.match(signal?.explanation.en ?? '', /in capital letters ΡΑΥΡΑL\.COM looks just like PAYPAL\.COM/);
    assert.match(signal?.explanation.ru ?? '', /буквы «Ρ», «Α», «Υ» — греческие/);
  });

  it('flags a protected domain imitated with Greek kappa, omicron, nu, tau, rho, alpha', async () => {
    const ours = { ...settings, protectedDomains: ['kontora.ru'] };
    const raw = from('buh@ΚΟΝΤΟRΑ.ru');
    const report = await detectPhishing({ message: await parseMessage(Buffer.from(raw)) }, ours);
    assert.equal(report.signals.find((s) => s.name === 'lookalike-sender')?.evidence, 'kontora.ru');
  });

  it('flags links to such a host, in text and in HTML, as written or as an A-label', async () => {
    const sender = 'news@evil-corp.net';
    assert.deepEqual(await lookalikes(from(sender, 'Sign in at https://ΡΑΥΡΑL.com/signin today.')), [
      ['lookalike-link', 'https://ΡΑΥΡΑL.com/signin'],
    ]);
    const html = htmlOnly('<a href="https://xn--l-ylba6dbx.com/signin">Continue</a>');
    assert.deepEqual(await lookalikes(html), [['lookalike-link', 'https://xn--l-ylba6dbx.com/signin']]);
  });
});

describe('links in an attached message', () => {
  const inner = (html: string) =>
    `From: PayPal <service@paypal.com>\r\nSubject: Your account is limited\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`;
  const phish = inner(
    '<p>Confirm your details: <a href="https://evil.example/x">https://www.paypal.com/signin</a></p>',
  );
  const withPart = (part: string) =>
    `${headers('Colleague <c@example.org>', 'Fwd: look')}Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n--XX\r\n${part}\r\n--XX--\r\n`;
  const rfc822 = (message: string, name = 'forward.eml') =>
    withPart(`Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="${name}"\r\n\r\n${message}`);
  const mismatch = async (raw: string) => (await scan(raw)).signals.find((s) => s.name === 'link-text-mismatch');

  it('checks the links of a forward attached as message/rfc822 (RFC 2046 §5.2.1)', async () => {
    const found = await mismatch(rfc822(phish));
    assert.equal(found?.evidence, 'https://evil.example/x');
    assert.match(found?.explanation.en ?? '', /\(in the attached message forward\.eml\)/);
    assert.match(found?.explanation.ru ?? '', /\(во вложенном письме forward\.eml\)/);
  });

  it('checks the links of an .eml file, whatever its type and transfer encoding', async () => {
    const eml = withPart(
      `Content-Type: application/octet-stream; name="notice.eml"\r\nContent-Disposition: attachment; filename="notice.eml"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(phish).toString('base64')}`,
    );
    assert.match((await mismatch(eml))?.explanation.en ?? '', /\(in the attached message notice\.eml\)/);
  });

  it('opens messages attached to attached messages three levels deep, no deeper', async () => {
    // Each level has its own boundary: one must not occur inside the parts it delimits (RFC 2046 §5.1.1).
    const nested = (levels: number) => {
      let message = phish;
      for (let i = 1; i <= levels; i++) {
        message = `From: a@example.org\r\nTo: alice@vostok-trade.ru\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B${i}"\r\n\r\n--B${i}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="level${i}.eml"\r\n\r\n${message}\r\n--B${i}--\r\n`;
      }
      return message;
    };
    assert.match((await mismatch(nested(3)))?.explanation.en ?? '', /level3\.eml → level2\.eml → level1\.eml\)/);
    assert.equal(await mismatch(nested(4)), undefined);
  });
});

describe('links in an attached web page', () => {
  const page = '<html><body><a href="https://paypa1-login.top/s">https://www.paypal.com/signin</a></body></html>';
  const file = (html: string, name = 'invoice.html') =>
    `Content-Type: text/html; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(html).toString('base64')}`;
  const mixed = (part: string, from = 'Billing <billing@corp-notify.top>') =>
    `${headers(from, 'Invoice')}Content-Type: multipart/mixed; boundary="MM"\r\n\r\n--MM\r\nContent-Type: text/plain\r\n\r\nPlease see the attached invoice.\r\n--MM\r\n${part}\r\n--MM--\r\n`;
  const links = async (raw: string) => (await scan(raw)).signals.filter((s) => s.group === 'links');

  it('judges the links of an attached HTML file as the message’s own (audit att-07)', async () => {
    const found = await links(mixed(file(page)));
    assert.deepEqual(found.map((s) => s.name).sort(), ['link-text-mismatch', 'lookalike-link']);
    for (const s of found) {
      assert.equal(s.evidence, 'https://paypa1-login.top/s');
      assert.match(s.explanation.en, /\(in the attached file invoice\.html\)/);
      assert.match(s.explanation.ru, /\(во вложенном файле invoice\.html\)/);
    }
  });

  it('reads the page in the charset it declares, as the browser that opens it does', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(page, 'utf16le')]);
    const part = `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="scan.htm"\r\nContent-Transfer-Encoding: base64\r\n\r\n${utf16.toString('base64')}`;
    assert.deepEqual((await links(mixed(part))).map((s) => s.name).sort(), ['link-text-mismatch', 'lookalike-link']);
  });

  it('names a page attached to an attached message by both, and leaves its form to the attachment checks', async () => {
    const inner = `From: a@example.org\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="II"\r\n\r\n--II\r\n${file(`${page}<form action="https://paypa1-login.top/p"><input type="password"></form>`)}\r\n--II--\r\n`;
    const raw = mixed(
      `Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="forward.eml"\r\n\r\n${inner}`,
    );
    const report = await scan(raw);
    const mismatch = report.signals.find((s) => s.name === 'link-text-mismatch');
    assert.match(mismatch?.explanation.en ?? '', /\(in the attached file forward\.eml → invoice\.html\)/);
    assert.equal(report.signals.filter((s) => s.name === 'html-form').length, 0);
    assert.equal(report.signals.find((s) => s.name === 'html-attachment')?.weight, 4);
  });
});

describe('relative links and <base href>', () => {
  it('judges a relative link where the message’s <base href> sends it', async () => {
    const raw = htmlOnly(
      '<html><head><base href="https://evil.example/"></head><body><a href="login">https://www.paypal.com/login</a></body></html>',
    );
    const found = (await scan(raw)).signals.find((s) => s.name === 'link-text-mismatch');
    assert.equal(found?.evidence, 'https://evil.example/login');
    const noBase = htmlOnly('<a href="login">https://www.paypal.com/login</a>');
    assert.equal((await scan(noBase)).signals.filter((s) => s.group === 'links').length, 0);
  });
});
