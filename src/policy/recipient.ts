/**
 * Recipient routing at RCPT: a local domain's known account goes to its INBOX
 * (Postfix reject_unlisted_recipient); any other domain is refused, since relaying needs
 * authentication (Postfix reject_unauth_destination; submission arrives with a later issue).
 */
import { domainToASCII } from 'node:url';
import type { RecipientRoute } from '../smtp/envelope.ts';
import type { Path } from '../smtp/path.ts';
import { type Reply, replies } from '../smtp/replies.ts';

type Found = { id: number } | undefined;

export interface AccountLookup {
  /** May answer synchronously (from a cache). */
  findAccount(address: string): Found | Promise<Found>;
}

export type RecipientDecision = { ok: true; route: RecipientRoute } | { ok: false; reply: Reply };

export function routeRecipient(
  recipient: Path,
  localDomains: ReadonlySet<string>,
  postmasterDomain: string,
  accounts: AccountLookup,
): RecipientDecision | Promise<RecipientDecision> {
  // RFC 5321 §4.1.1.3: the domain-less <postmaster> is this host's postmaster.
  const localPart = recipient.domain === '' ? 'postmaster' : recipient.localPart;
  // RFC 5890 §2.3.2.1: a U-label and its A-label name one domain; config and accounts hold A-labels.
  const domain = recipient.domain === '' ? postmasterDomain : asciiDomain(recipient.domain);
  if (!localDomains.has(domain)) return { ok: false, reply: replies.relayDenied(recipient.address) };
  const address = `${localPart}@${domain}`;
  const decide = (account: Found): RecipientDecision =>
    account
      ? { ok: true, route: { kind: 'local', accountId: account.id } }
      : { ok: false, reply: replies.noSuchUser(recipient.address) };
  // Local parts are matched case-insensitively, as users expect (RFC 5321 §2.4 allows it).
  const found = accounts.findAccount(address.toLowerCase());
  return found instanceof Promise ? found.then(decide) : decide(found);
}

function asciiDomain(domain: string): string {
  if (/^[\x00-\x7f]*$/.test(domain)) return domain;
  return domainToASCII(domain) || domain; // an invalid IDN stays as it is and matches nothing
}
