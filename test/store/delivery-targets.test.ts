// What every engine checks before a delivery writes: keywords are atoms (RFC 9051 §9), one target
// mailbox per account with INBOX winning, keywords stored once each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDelivery, isKeyword } from '../../src/store/delivery-targets.ts';
import { type Delivery, InvalidKeywordError, StoreError } from '../../src/store/store.ts';

const keywords: [keyword: string, atom: boolean][] = [
  // RFC 9051 §9 flag-keyword names these, and the IANA keyword registry (RFC 5788) lists them.
  ['$MDNSent', true],
  ['$Forwarded', true],
  ['$Junk', true],
  ['$NotJunk', true],
  ['$Phishing', true],
  ['NonJunk', true],
  ["odd!#&'+,-./:;<=>?@[^_`|}~", true],
  ['', false], // atom = 1*ATOM-CHAR
  ['\\Seen', false], // quoted-specials "\": system flags are not keywords
  ['two words', false], // SP
  ['(x', false],
  ['x)', false],
  ['{3}', false],
  ['50%', false], // list-wildcards
  ['a*', false],
  ['"x"', false], // quoted-specials DQUOTE
  ['x]', false], // resp-specials
  ['tab\t', false], // CTL
  ['del\x7f', false], // CTL
  ['Spämm', false], // CHAR is 7-bit
];
for (const [keyword, atom] of keywords) {
  test(`isKeyword(${JSON.stringify(keyword)}) is ${atom}`, () => assert.equal(isKeyword(keyword), atom));
}

function delivery(recipients: Delivery['recipients'], keywordList?: string[]): Delivery {
  return { mailFrom: '', recipients, keywords: keywordList, content: new Uint8Array(), receivedAt: new Date(0) };
}

test('one target per account, in recipient order; INBOX wins over Junk for an account named twice', () => {
  const checked = checkDelivery(
    delivery([
      { address: 'b@example.com', accountId: 2, mailbox: 'Junk' },
      { address: 'a@example.com', accountId: 1 },
      { address: 'bee@example.com', accountId: 2 },
      { address: 'c@example.com', accountId: 3, mailbox: 'Junk' },
      { address: 'a2@example.com', accountId: 1, mailbox: 'Junk' },
    ]),
  );
  assert.deepEqual(checked.targets, [
    { accountId: 2, mailbox: 'INBOX' },
    { accountId: 1, mailbox: 'INBOX' },
    { accountId: 3, mailbox: 'Junk' },
  ]);
  assert.equal(checked.flags, '');
});

test('keywords become the flags text, each once', () => {
  const checked = checkDelivery(delivery([{ address: 'a@example.com', accountId: 1 }], ['$Junk', 'x', '$Junk']));
  assert.equal(checked.flags, '$Junk x');
});

test('refuses a bad keyword, a mailbox other than INBOX or Junk, and no recipients', () => {
  const to = [{ address: 'a@example.com', accountId: 1 }];
  assert.throws(() => checkDelivery(delivery(to, ['ok', 'not ok'])), InvalidKeywordError);
  assert.throws(() => checkDelivery(delivery(to, ['not ok'])), /"not ok" is not an IMAP keyword/);
  const archive = [{ address: 'a@example.com', accountId: 1, mailbox: 'Archive' as 'Junk' }];
  assert.throws(() => checkDelivery(delivery(archive)), /INBOX or Junk, not "Archive"/);
  assert.throws(() => checkDelivery(delivery([])), StoreError);
});
