// What the detector reads of a message a sender shaped so that the MIME parser would see less than a
// mail program shows: a boundary with an 8-bit character, an attachment under more multipart levels
// than the parser unpacks, encoded-words split mid-character under labels that differ in case.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BRANDS } from '../../../src/filter/phishing/brands.ts';
import { detectPhishing, type PhishingSettings } from '../../../src/filter/phishing/detector.ts';
import { parseMessage } from '../../../src/mime/message.ts';

const settings: PhishingSettings = {
  protectedDomains: ['vostok-trade.ru'],
  partnerDomains: [],
  brands: DEFAULT_BRANDS,
  people: [{ names: ['Иван Петров'], addresses: ['i.petrov@vostok-trade.ru'] }],
  allowlist: [],
};

async function signalNames(raw: Buffer): Promise<string[]> {
  const report = await detectPhishing({ message: await parseMessage(raw) }, settings);
  return report.signals.map((s) => s.name);
}

const HEAD = 'From: b@example.org\r\nTo: alice@vostok-trade.ru\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n';
const SCRIPT =
  'Content-Type: application/octet-stream; name="invoice.js"\r\nContent-Disposition: attachment; filename="invoice.js"\r\n\r\nWScript.Shell\r\n';

describe('an executable attachment the parser must not lose', () => {
  it('is found behind a boundary with an 8-bit character, as mail programs split the parts', async () => {
    for (const boundary of ['S', 'Sé']) {
      const raw = Buffer.from(
        `${HEAD}Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--${boundary}\r\n${SCRIPT}--${boundary}--\r\n`,
      );
      assert.ok((await signalNames(raw)).includes('executable-attachment'), boundary);
    }
  });

  it('is found under more multipart levels than the parser unpacks', async () => {
    for (const levels of [5, 32, 40]) {
      let entity = SCRIPT;
      for (let i = levels; i >= 1; i--) {
        entity = `Content-Type: multipart/mixed; boundary="L${i}"\r\n\r\n--L${i}\r\nContent-Type: text/plain\r\n\r\nlevel ${i}\r\n--L${i}\r\n${entity}--L${i}--\r\n`;
      }
      assert.ok((await signalNames(Buffer.from(HEAD + entity))).includes('executable-attachment'), `${levels}`);
    }
  });
});

describe('encoded-words split mid-character, under labels that differ in case', () => {
  /** `text` as two encoded-words cut inside its `cutAt`th byte's character, the labels as given. */
  const split = (text: string, cutAt: number, labels: [string, string]) => {
    const bytes = Buffer.from(text);
    const b64 = (part: Buffer) => part.toString('base64');
    return `=?${labels[0]}?B?${b64(bytes.subarray(0, cutAt))}?= =?${labels[1]}?B?${b64(bytes.subarray(cutAt))}?=`;
  };

  it('read the subject whole: the lure words are found as in the subject written plainly', async () => {
    const lure = 'Ваш пароль истекает сегодня, подтвердите учетную запись';
    const message = (subject: string) =>
      Buffer.from(`From: b@example.org\r\nTo: alice@vostok-trade.ru\r\nSubject: ${subject}\r\n\r\nДобрый день.\r\n`);
    const plain = (await signalNames(message(lure))).sort();
    assert.ok(plain.length > 0, 'the plain subject gives signals');
    assert.deepEqual((await signalNames(message(split(lure, 8, ['UTF-8', 'utf-8'])))).sort(), plain);
  });

  it('read the display name whole: the protected person is recognised', async () => {
    const from = (name: string) =>
      Buffer.from(
        `From: ${name} <ivan.petrov.ceo@gmail.com>\r\nTo: alice@vostok-trade.ru\r\nSubject: hi\r\n\r\nhi\r\n`,
      );
    assert.ok((await signalNames(from('"Иван Петров"'))).includes('protected-person-impersonation'));
    assert.ok(
      (await signalNames(from(split('Иван Петров', 3, ['UTF-8', 'utf-8'])))).includes('protected-person-impersonation'),
    );
  });
});
