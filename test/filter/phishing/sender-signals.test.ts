import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { type SenderInput, senderSignals } from '../../../src/filter/phishing/sender-signals.ts';
import { parseMessage } from '../../../src/mime/message.ts';

const people = [{ names: ['Ivan Petrov', 'Иван Петров'], addresses: ['i.petrov@vostok-trade.ru'] }];

async function signals(headers: string, extra: Partial<SenderInput> = {}) {
  const message = await parseMessage(Buffer.from(`${headers}\r\nSubject: hello\r\n\r\nHello\r\n`));
  const found = senderSignals({
    message,
    protectedDomains: ['vostok-trade.ru', 'vostoktrade.com'],
    partnerDomains: ['sever-logistic.ru'],
    brands: DEFAULT_BRANDS,
    people,
    ...extra,
  });
  return new Map(found.map((s) => [s.name, s]));
}

describe('sender signals', () => {
  it('flags a lookalike of our own domain and explains it in both languages', async () => {
    const s = await signals('From: IT <it@vostok-trade.co>');
    const lookalike = s.get('lookalike-sender');
    assert.ok(lookalike, 'lookalike-sender expected');
    assert.equal(lookalike.evidence, 'vostok-trade.ru');
    assert.match(lookalike.explanation.en, /vostok-trade\.co/);
    assert.match(lookalike.explanation.ru, /vostok-trade\.co/);
  });

  it('flags a homoglyph lookalike of a partner and a brand typo, not the brand itself', async () => {
    assert.ok((await signals('From: <billing@sever-1ogistic.ru>')).has('lookalike-sender'));
    const brand = (await signals('From: PayPal <service@paypa1.com>')).get('lookalike-sender');
    assert.equal(brand?.categories?.bank, 1);
    assert.equal((await signals('From: PayPal <service@paypal.com>')).size, 0);
  });

  it('does not call short brand neighbours or other-suffix typos lookalikes', async () => {
    assert.equal((await signals('From: <news@vista.com>')).has('lookalike-sender'), false);
    assert.equal((await signals('From: <p@analog.com>')).has('lookalike-sender'), false, 'analog.com is not nalog.ru');
    assert.equal((await signals('From: <x@sberbank-online.ru>')).get('lookalike-sender')?.weight, 2.5);
  });

  it('flags a display name carrying another address, or a known domain', async () => {
    const s = await signals('From: "it@vostok-trade.ru" <support@helpdesk-mail.com>');
    assert.equal(s.get('display-name-address')?.weight, 3);
    assert.ok((await signals('From: "paypal.com Service" <support@helpdesk-mail.com>')).has('display-name-address'));
    // Newsletters name their site: not another sender's address.
    assert.equal((await signals('From: "CNET News.com Daily" <online@newsletter.online.com>')).size, 0);
    assert.equal((await signals('From: "support@helpdesk-mail.com" <support@helpdesk-mail.com>')).size, 0);
  });

  it('flags a protected person writing from an outside address, more from free mail', async () => {
    const gmail = (await signals('From: Ivan Petrov <ivan.petrov.ceo@gmail.com>')).get(
      'protected-person-impersonation',
    );
    assert.equal(gmail?.weight, 4.5);
    assert.equal(gmail?.categories?.executive, 1.5);
    const ru = await signals('From: =?UTF-8?B?0J/QtdGC0YDQvtCyINCY0LLQsNC9?= <director@vostok-trade-group.ru>');
    assert.ok(ru.has('protected-person-impersonation'), 'Петров Иван in reverse order');
    assert.equal((await signals('From: Ivan Petrov <i.petrov@vostok-trade.ru>')).size, 0);
    const service = await signals('From: Ivan Petrov (via SharePoint Online) <no-reply@sharepointonline.com>');
    assert.equal(service.size, 0, 'a service mailing for the person from its own domain');
    assert.equal(
      (await signals('From: Ivan Petrovsky <ivan@example.org>')).has('protected-person-impersonation'),
      false,
    );
  });

  it("takes a brand's own country domains for the brand, and a swapped suffix claiming it for a lookalike", async () => {
    for (const from of [
      'Amazon.fr <confirmation-commande@amazon.fr>',
      'Amazon <auto-confirm@amazon.co.jp>',
      'PayPal <service@paypal.de>',
      'Яндекс <noreply@yandex.kz>',
    ]) {
      assert.equal((await signals(`From: ${from}`)).size, 0, from);
    }
    const fake = await signals('From: Amazon <orders@amazon.support>');
    assert.ok(fake.has('lookalike-sender') || fake.has('display-name-brand'), 'amazon.support is not Amazon');
    assert.ok((await signals('From: PayPal <service@paypal.com.co>')).has('display-name-brand'));
  });

  it('flags a brand in the display name from another domain', async () => {
    const s = await signals('From: "Сбербанк Онлайн" <noreply@sb-notify.ru>');
    assert.equal(s.get('display-name-brand')?.categories?.bank, 1);
    assert.equal((await signals('From: "Сбербанк" <noreply@sberbank.ru>')).has('display-name-brand'), false);
    assert.equal((await signals('From: "ups and downs" <a@blog.example.org>')).has('display-name-brand'), false);
  });

  it('flags a department or office writing from free mail', async () => {
    const it = (await signals('From: IT Support <it.vostoktrade@gmail.com>')).get('role-from-free-mail');
    assert.equal(it?.categories?.password, 1);
    const ru = await signals('From: =?UTF-8?B?0JHRg9GF0LPQsNC70YLQtdGA0LjRjw==?= <buh.vt@mail.ru>');
    assert.equal(ru.get('role-from-free-mail')?.categories?.executive, 1, 'Бухгалтерия from mail.ru');
    assert.equal((await signals('From: Maria Sokolova <maria.s@gmail.com>')).size, 0);
    assert.equal((await signals('From: IT Support <it@baltic-steel.com>')).size, 0);
  });

  it('flags Reply-To elsewhere, and free mail more', async () => {
    assert.equal(
      (await signals('From: <a@baltic-steel.com>\r\nReply-To: <x@gmail.com>')).get('reply-to-free-mail')?.weight,
      2.5,
    );
    assert.equal(
      (await signals('From: <a@baltic-steel.com>\r\nReply-To: <x@other.org>')).get('reply-to-elsewhere')?.weight,
      0.5,
    );
    assert.equal((await signals('From: <a@baltic-steel.com>\r\nReply-To: <b@baltic-steel.com>')).size, 0);
  });

  it('flags our own domain without DMARC pass, first contact and envelope mismatch', async () => {
    const spoof = await signals('From: <a.smirnova@vostok-trade.ru>', { dmarc: 'fail' });
    assert.equal(spoof.get('own-domain-spoof')?.weight, 5);
    assert.equal((await signals('From: <a.smirnova@vostok-trade.ru>', { dmarc: 'pass' })).size, 0);
    assert.ok((await signals('From: <x@new.example.org>', { previousMessages: 0 })).has('first-contact'));
    assert.equal((await signals('From: <x@new.example.org>', { previousMessages: 3 })).has('first-contact'), false);
    const env = await signals('From: <x@new.example.org>', {
      envelopeFrom: 'bounce@mailer.example.net',
      dmarc: 'none',
    });
    assert.ok(env.has('envelope-mismatch'));
    const aligned = await signals('From: <x@new.example.org>', {
      envelopeFrom: 'bounce@mailer.example.net',
      dmarc: 'pass',
    });
    assert.equal(aligned.has('envelope-mismatch'), false);
  });
});

describe('internationalised domains', () => {
  it('take a U-label and its A-label for one domain (RFC 5890 §2.3.2.1): no envelope mismatch', async () => {
    for (const [from, envelope] of [
      ['j@xn--mnchen-3ya.example', 'j@münchen.example'],
      ['=?UTF-8?Q?j=C3=B6rg?= <j@münchen.example>', 'bounce@mail.xn--mnchen-3ya.example'],
    ] as const) {
      const s = await signals(`From: ${from}`, { envelopeFrom: envelope, dmarc: 'none' });
      assert.equal(s.has('envelope-mismatch'), false, `${from} / ${envelope}`);
    }
    const other = await signals('From: j@xn--mnchen-3ya.example', { envelopeFrom: 'j@munchen.example', dmarc: 'none' });
    assert.ok(other.has('envelope-mismatch'), 'munchen is another domain');
    const replyTo = await signals('From: <a@münchen.example>\r\nReply-To: <b@xn--mnchen-3ya.example>');
    assert.equal(replyTo.size, 0);
  });

  it('take our own domain in either form for ours', async () => {
    const ours = { protectedDomains: ['xn--e1afmkfd.xn--p1ai'] };
    const spoof = await signals('From: <a@пример.рф>', { ...ours, dmarc: 'fail', previousMessages: 0 });
    assert.deepEqual([...spoof.keys()], ['own-domain-spoof']);
    assert.equal((await signals('From: <a@пример.рф>', { ...ours, dmarc: 'pass', previousMessages: 0 })).size, 0);
  });
});

describe('mailing lists', () => {
  it('explain a foreign envelope sender and Reply-To (RFC 2369, RFC 2919)', async () => {
    const list =
      'From: <a@baltic-steel.com>\r\nReply-To: <list@lists.example.org>\r\nList-Id: <talk.lists.example.org>';
    const s = await signals(list, {
      envelopeFrom: 'bounce@lists.example.org',
      dmarc: 'none',
      authentication: { spf: 'pass', dmarc: 'none' },
    });
    assert.equal(s.size, 0);
    // The List-Id in the organisation of a DKIM d= that passed is as good.
    const signed = await signals(list, {
      envelopeFrom: 'bounce@other.example',
      dmarc: 'none',
      authentication: { spf: 'softfail', dkim: 'pass', dkimDomains: ['mail.example.org'], dmarc: 'none' },
    });
    assert.equal(signed.size, 0);
  });

  it('take no List-Unsubscribe, and no List-Id nobody authenticated, for a list: the forged-partner BEC is flagged', async () => {
    // Auditor's messages 108 and 109: a partner's From, a free-mail Reply-To, sent through a bulk mailer.
    const bec = 'From: Olga Ivanova <o.ivanova@sever-logistic.ru>\r\nReply-To: sever.logistic.buh@gmail.com';
    const auth = { envelopeFrom: 'bounce@mailer-x.net', dmarc: 'none', authentication: { spf: 'pass', dmarc: 'none' } };
    const plain = await signals(bec, auth);
    for (const marker of [
      'List-Unsubscribe: <mailto:unsubscribe@mailer-x.net>',
      'List-Post: <mailto:club@mailer-x.net>',
      'List-Id: <club.lists.example.org>', // not the envelope's domain
    ]) {
      const s = await signals(`${bec}\r\n${marker}`, auth);
      assert.equal(s.get('reply-to-free-mail')?.weight, 2.5, marker);
      assert.deepEqual([...s.keys()], [...plain.keys()], marker);
    }
    // A list of the sender's own explains its envelope, not a free mailbox for replies to a From not its own.
    const own = await signals(`${bec}\r\nList-Id: <club.mailer-x.net>`, auth);
    assert.deepEqual([...own.keys()], ['reply-to-free-mail']);
    // Nothing authenticated (postern scan without our Authentication-Results): no list either.
    const unproven = await signals(`${bec}\r\nList-Id: <club.mailer-x.net>`, { envelopeFrom: 'bounce@mailer-x.net' });
    assert.ok(unproven.has('reply-to-free-mail'));
    assert.ok(unproven.has('envelope-mismatch'));
  });

  it('let a list that rewrote From to its own address route replies to the poster, free mail or not', async () => {
    const rewritten =
      'From: "Anna via Club" <club@googlegroups.com>\r\nReply-To: anna.k@gmail.com\r\nList-Id: <club.googlegroups.com>';
    const s = await signals(rewritten, {
      envelopeFrom: 'club+bncBC@googlegroups.com',
      dmarc: 'pass',
      authentication: { spf: 'pass', dkim: 'pass', dkimDomains: ['googlegroups.com'], dmarc: 'pass' },
    });
    assert.equal(s.has('reply-to-free-mail'), false);
  });
});

describe('brands that are words', () => {
  const lookalike = async (headers: string, body = '') => {
    const message = await parseMessage(
      Buffer.from(`${headers}\r\nSubject: hello\r\nContent-Type: text/html\r\n\r\n<p>Hello${body}</p>\r\n`),
    );
    const found = senderSignals({ message, protectedDomains: [], partnerDomains: [], brands: DEFAULT_BRANDS, people });
    return found.find((s) => s.name === 'lookalike-sender');
  };

  it('do not take a name that merely holds the word for the brand (office, apple)', async () => {
    for (const from of [
      'From: <zakaz@officemag.ru>',
      'From: <public.enquiries@homeoffice.gov.uk>',
      'From: <hello@pineapple-studio.ru>',
      'From: <info@appleseed.org>',
      'From: Apple Tree Catering <orders@appletree-catering.ru>',
      'From: Chase Miller <chase@chase-miller-design.com>',
    ]) {
      assert.equal(await lookalike(from), undefined, from);
    }
  });

  it('still flag the word brand with an added word when the display name or a link claims it', async () => {
    assert.ok(await lookalike('From: Apple Support <id@apple-support-team.com>'));
    assert.ok(await lookalike('From: Office 365 <admin@office-mailbox-quota.com>'));
    assert.ok(
      await lookalike('From: <id@apple-verify.com>', ' <a href="https://apple-verify.com/">Sign in to Apple</a>'),
    );
    assert.equal(
      await lookalike('From: <id@apple-verify.com>', ' <a href="https://apple-verify.com/">our menu</a>'),
      undefined,
    );
  });
});
