/**
 * What every engine checks and decides about a delivery before it writes (Delivery in store.ts):
 * the one target mailbox of each recipient account, and the keywords as the stored flags text.
 * SQLite, PostgreSQL and NullStore all call checkDelivery() first, so a bad delivery is refused the
 * same way everywhere, with nothing written.
 *
 * Not here: creating the Junk mailbox (each engine does it inside its delivery transaction).
 */

import { type AccountId, type Delivery, type DeliveryMailbox, InvalidKeywordError, StoreError } from './store.ts';

/** RFC 6154 §2: the mailbox junk deliveries go to, and the attribute it is created with. */
export const JUNK_MAILBOX = 'Junk';
export const JUNK_SPECIAL_USE = '\\Junk';

export interface DeliveryTarget {
  accountId: AccountId;
  mailbox: DeliveryMailbox;
}

export interface CheckedDelivery {
  /** One per distinct recipient account, in the order the recipients name them. */
  targets: DeliveryTarget[];
  /** The keywords as `mailbox_messages.flags` holds flags: atoms separated by one space. */
  flags: string;
}

/**
 * RFC 9051 §9: flag-keyword = atom (the registered `$Junk`, `$NotJunk` … are atoms too);
 * ATOM-CHAR is any CHAR but atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". A keyword
 * therefore never starts with "\", which marks system flags (RFC 9051 §2.3.2).
 */
const ATOM_CHARS = /^[\x21-\x7e]+$/;
const ATOM_SPECIALS = /[(){%*"\\\]]/;

export function isKeyword(keyword: string): boolean {
  return ATOM_CHARS.test(keyword) && !ATOM_SPECIALS.test(keyword);
}

export function checkDelivery(delivery: Delivery): CheckedDelivery {
  if (delivery.recipients.length === 0) throw new StoreError('a delivery needs at least one recipient');
  const keywords = delivery.keywords ?? [];
  for (const keyword of keywords) {
    if (typeof keyword !== 'string' || !isKeyword(keyword)) {
      throw new InvalidKeywordError(
        `${JSON.stringify(keyword)} is not an IMAP keyword: a keyword is an atom (RFC 9051 §9), ` +
          'printable ASCII without spaces or any of ( ) { % * " \\ ]',
      );
    }
  }
  const byAccount = new Map<AccountId, DeliveryMailbox>();
  for (const { accountId, mailbox = 'INBOX' } of delivery.recipients) {
    if (mailbox !== 'INBOX' && mailbox !== JUNK_MAILBOX) {
      throw new StoreError(`a delivery goes to INBOX or Junk, not ${JSON.stringify(mailbox)}`);
    }
    // One copy per account; INBOX wins, so mail one of its addresses accepted is never hidden.
    if (byAccount.get(accountId) !== 'INBOX') byAccount.set(accountId, mailbox);
  }
  return {
    targets: [...byAccount].map(([accountId, mailbox]) => ({ accountId, mailbox })),
    flags: [...new Set(keywords)].join(' '),
  };
}
