/**
 * Recipient routing at RCPT: a local domain's known account goes to its INBOX
 * (Postfix reject_unlisted_recipient); any other domain is refused, since relaying needs
 * authentication (Postfix reject_unauth_destination; submission arrives with a later issue).
 */
import type { RecipientRoute } from '../smtp/envelope.ts';
import type { Path } from '../smtp/path.ts';
import { type Reply, replies } from '../smtp/replies.ts';

export interface AccountLookup {
  findAccount(address: string): Promise<{ id: number } | undefined>;
}

export type RecipientDecision = { ok: true; route: RecipientRoute } | { ok: false; reply: Reply };

export async function routeRecipient(
  recipient: Path,
  localDomains: ReadonlySet<string>,
  postmasterDomain: string,
  accounts: AccountLookup,
): Promise<RecipientDecision> {
  // RFC 5321 §4.1.1.3: the domain-less <postmaster> is this host's postmaster.
  const address = recipient.domain === '' ? `postmaster@${postmasterDomain}` : recipient.address;
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (!localDomains.has(domain)) return { ok: false, reply: replies.relayDenied(recipient.address) };
  // Local parts are matched case-insensitively, as users expect (RFC 5321 §2.4 allows it).
  const account = await accounts.findAccount(address.toLowerCase());
  if (!account) return { ok: false, reply: replies.noSuchUser(recipient.address) };
  return { ok: true, route: { kind: 'local', accountId: account.id } };
}
