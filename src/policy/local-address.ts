/**
 * Whether a recipient is ours, and the address its account has: shared by the recipient
 * restrictions, the routing and VRFY.
 */
import { domainToASCII } from 'node:url';
import { canonicalQuoted } from '../accounts/address.ts';
import type { Path } from '../smtp/path.ts';

export interface LocalAddress {
  local: boolean;
  /** local-part@domain, lower-cased, A-label domain: the key accounts are stored under. */
  address: string;
}

/** What localAddress needs of this server: its local domains and its host name. */
export interface LocalNames {
  localDomains: ReadonlySet<string>;
  hostname: string;
}

/** The domain whose postmaster is this host's: the first local domain. */
export function postmasterDomainOf(server: LocalNames): string {
  return [...server.localDomains][0] ?? server.hostname;
}

export function localAddress(recipient: Path, server: LocalNames): LocalAddress {
  const postmasterDomain = postmasterDomainOf(server);
  // RFC 5321 §4.1.1.3: the domain-less <postmaster> is this host's postmaster.
  const localPart = recipient.domain === '' ? 'postmaster' : unquoted(recipient.localPart);
  // RFC 5890 §2.3.2.1: a U-label and its A-label name one domain; config and accounts hold A-labels.
  let domain = recipient.domain === '' ? postmasterDomain : asciiDomain(recipient.domain).toLowerCase();
  // RFC 5321 §4.5.1: postmaster must reach someone at every name we serve mail for, and reports about
  // this host (bounces, abuse, blocklist notices) go to postmaster@ its name, as in Postfix, whose
  // mydestination holds $myhostname. When the host name is no local domain, it is the domains' postmaster.
  if (asciiLowerCase(localPart) === 'postmaster' && domain === server.hostname.toLowerCase()) domain = postmasterDomain;
  // Local parts are matched case-insensitively, as users expect (RFC 5321 §2.4 allows it).
  return { local: server.localDomains.has(domain), address: asciiLowerCase(`${localPart}@${domain}`) };
}

/**
 * Lower-cases A-Z only. RFC 5321 §2.4 lets us match local parts case-insensitively, but accounts are
 * ASCII (RFC 6531 §3.3 lets a UTF-8 local part through, not fold it): Unicode's toLowerCase makes
 * U+212A KELVIN SIGN an ASCII "k", so "\u212Aate@" would reach kate@ while the same name quoted did not.
 */
export function asciiLowerCase(text: string): string {
  // ASCII text (nearly every address) is lower-cased the fast way.
  return /[^\x00-\x7f]/.test(text) ? text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase()) : text.toLowerCase();
}

/**
 * RFC 5321 §4.5.1: postmaster MUST be accepted at every domain we take mail for. A local domain whose
 * postmaster has no account or alias of its own shares the host's: the address postmaster@ the host
 * name reaches, that of the first local domain. Undefined for any other address, and for the postmaster
 * domain itself (nothing further to fall back to). `address`: as localAddress gives it.
 */
export function postmasterFallback(address: string, server: LocalNames): string | undefined {
  if (!address.startsWith('postmaster@')) return undefined;
  const domain = address.slice('postmaster@'.length);
  const home = postmasterDomainOf(server);
  return domain !== home && server.localDomains.has(domain) ? `postmaster@${home}` : undefined;
}

type Found<T> = T | undefined | Promise<T | undefined>;

/**
 * An account look-up (the RCPT check's, which reject_unlisted_recipient and VRFY share) that answers
 * postmaster@ a local domain without its own account or alias with the host postmaster's account
 * (postmasterFallback). Its own account or alias, once made, wins: it is asked first.
 */
export function withPostmasterFallback<T>(
  lookup: { findAccount(address: string): Found<T> },
  server: LocalNames,
): { findAccount(address: string): Found<T> } {
  return {
    findAccount(address: string): Found<T> {
      const found = lookup.findAccount(address);
      const fallback = postmasterFallback(address, server);
      if (fallback === undefined) return found;
      const orFallback = (own: T | undefined): Found<T> => own ?? lookup.findAccount(fallback);
      return found instanceof Promise ? found.then(orFallback) : orFallback(found);
    },
  };
}

function asciiDomain(domain: string): string {
  if (/^[\x00-\x7f]*$/.test(domain)) return domain;
  return domainToASCII(domain) || domain; // an invalid IDN stays as it is and matches nothing
}

/**
 * RFC 5321 §4.1.2: a quoted local part whose content needs no quotes names the same mailbox as
 * the plain form ("alice"@ is alice@), as Postfix reads it; one that needs them is quoted again the
 * way account addresses are ("john\ smith"@ is "john smith"@: a quoted-pair is the character).
 */
export function unquoted(localPart: string): string {
  if (!localPart.startsWith('"')) return localPart;
  return canonicalQuoted(localPart.slice(1, -1).replace(/\\(.)/g, '$1'));
}
