/**
 * The Author Domain (RFC 7489 §3.1, RFC 9989 §5.3.1) from the RFC5322.From addresses: the domain after the
 * "@" that ends the local-part, lower case, as an A-label. Several mailboxes are fine if they share one
 * domain; anything else names why the domain cannot be known.
 *
 * A malformed address is read as RFC 5322 readers show it (Python's email, mail programs): the dot-atom
 * after the "@", up to the first character no domain holds, so "ceo@bank.example>" shows bank.example and
 * is checked against bank.example's policy (OpenDMARC refuses such a From outright; left without a domain,
 * it escaped the policy of the domain it imitates). Where no domain can be read at all, the mailbox is
 * `unreadable` and the caller fails closed.
 */

import { asciiName } from '../../dns/a-labels.ts';

export type AuthorDomain =
  | { ok: true; authorDomain: string }
  | {
      ok: false;
      reason:
        | 'no-author-domain'
        | 'multiple-author-domains'
        | 'invalid-author-domain'
        | 'malformed-author-domain'
        | 'multiple-from-fields';
      domains: string[];
      /**
       * A From mailbox (or a From field without any) whose domain could not be read, or read only in part:
       * the domain a reader sees is unknown, and may be the one imitated.
       */
      unreadable: boolean;
    };

/** What one address gives: its domains, and whether it was malformed or (in part) unreadable. */
export interface AddressReading {
  domains: string[];
  /** A domain was taken from an address that breaks RFC 5322 §3.4.1 (a stray special after it). */
  malformed: boolean;
  /** Some candidate domain could not be read, or had text after it that is not a special. */
  unreadable: boolean;
}

/**
 * What ends the dot-atom of a domain as a reader takes it: RFC 5322 §3.2.3 specials but ".", white space
 * and controls (no part of atext, §3.2.3; control characters are in no domain name, RFC 1123 §2.1).
 */
const NOT_IN_DOMAIN = /[\s"<>(),;:\\@[\]\x00-\x1f\x7f]/;
const READ_DOMAIN = /^\s*([^\s"<>(),;:\\@[\]\x00-\x1f\x7f]+)([\s\S]*)$/;
const ONLY_SPECIALS = /^[\s"<>(),;:\\@[\]\x00-\x1f\x7f.]*$/;
/** RFC 5322 §3.4.1 domain-literal: kept as is; it cannot publish a DMARC record. */
const DOMAIN_LITERAL = /^\[[^[\]\\]*\]$/;
/**
 * A host name label (RFC 1123 §2.1, A-labels, RFC 5890 §2.3.2.1) or one with "_", which DNS holds (RFC 2181
 * §11); at most 63 octets (RFC 1035 §2.3.4). A label with "/", "'" or "%" (atext all) would be asked for in
 * vain or refused by the resolver, and read as "no record": such a domain is not usable.
 */
const LABEL = /^[a-z0-9_-]{1,63}$/;

/**
 * `fromFields` counts the From fields the addresses came from: RFC 5322 §3.6 allows one, and with several a
 * DKIM signature may cover another field than the one a reader sees, so they are not merged.
 */
export function authorDomain(headerFrom: readonly string[], fromFields: number): AuthorDomain {
  const found = new Set<string>();
  let unreadable = false;
  let malformed = false;
  for (const address of headerFrom) {
    const read = addressDomains(address);
    // a mailbox without a usable domain: the domain a reader sees is unknown
    if (read.domains.length === 0 || read.unreadable) unreadable = true;
    if (read.malformed) malformed = true;
    for (const d of read.domains) found.add(d);
  }
  // RFC 5322 §3.6.2: From holds a mailbox-list. A From field that yields no mailbox ("ceo@bank.example:",
  // read as an empty group; an encoded word) hides what a reader shows, as an unreadable mailbox does.
  if (fromFields > 0 && headerFrom.length === 0) unreadable = true;
  const domains = [...found];
  if (fromFields > 1) return { ok: false, reason: 'multiple-from-fields', domains, unreadable };
  if (unreadable) return { ok: false, reason: 'invalid-author-domain', domains, unreadable };
  if (domains.length === 0) return { ok: false, reason: 'no-author-domain', domains, unreadable };
  if (malformed) return { ok: false, reason: 'malformed-author-domain', domains, unreadable };
  if (domains.length === 1) return { ok: true, authorDomain: domains[0] ?? '' };
  return { ok: false, reason: 'multiple-author-domains', domains, unreadable };
}

/**
 * The normalized domains of one address: one for an addr-spec; every candidate when more than one "@" stands
 * outside a quoted string, so a malformed address counts as several Author Domains. A bare domain (no "@")
 * is taken as it is.
 */
export function addressDomains(input: string): AddressReading {
  const address = input.trim();
  if (!address.includes('@')) {
    const d = normalizeDomain(address);
    return { domains: d === undefined ? [] : [d], malformed: false, unreadable: d === undefined };
  }
  const bare = stripRoute(address);
  const at = separators(bare, true);
  const reading: AddressReading = { domains: [], malformed: false, unreadable: false };
  at.forEach((pos, i) => {
    const read = readDomain(bare.slice(pos + 1, at[i + 1] ?? bare.length));
    if (read.domain !== undefined) reading.domains.push(read.domain);
    if (read.malformed) reading.malformed = true;
    if (read.unreadable) reading.unreadable = true;
  });
  return reading;
}

/**
 * The domain of the text after an "@". A valid one is taken as it is. Otherwise the dot-atom a reader takes
 * (RFC 5322 §3.4.1, read up to the first special): with nothing but specials, white space or controls
 * after it ("bank.example>", "bank.example\0") it is the domain, from a malformed address; with more text
 * ("bank.example>x") it is still checked, but what the reader makes of the rest is unknown (`unreadable`).
 */
function readDomain(text: string): { domain?: string; malformed: boolean; unreadable: boolean } {
  const exact = normalizeDomain(text);
  if (exact !== undefined) return { domain: exact, malformed: false, unreadable: false };
  const parts = READ_DOMAIN.exec(text);
  const head = parts?.[1] === undefined ? undefined : normalizeDomain(parts[1]);
  if (head === undefined) return { malformed: true, unreadable: true };
  return { domain: head, malformed: true, unreadable: !ONLY_SPECIALS.test(parts?.[2] ?? '') };
}

/** RFC 5322 §4.4 obs-angle-addr: "@relay.example:ceo@bank.example" loses its route up to the first ":". */
function stripRoute(address: string): string {
  if (!address.startsWith('@')) return address;
  let literal = false;
  for (let i = 1; i < address.length; i++) {
    const c = address[i];
    if (c === '[') literal = true;
    else if (c === ']') literal = false;
    else if (c === ':' && !literal) return address.slice(i + 1);
  }
  return address;
}

/**
 * Positions of the "@" signs that end a local-part: not inside a quoted local-part (RFC 5322 §3.2.4) nor a
 * domain literal. An unterminated quote is not honoured, so '"ceo@bank.example' keeps its domain.
 */
function separators(address: string, honourQuotes: boolean): number[] {
  const positions: number[] = [];
  let quoted = false;
  let escaped = false;
  let literal = false;
  for (let i = 0; i < address.length; i++) {
    const c = address[i];
    if (quoted) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') quoted = false;
    } else if (literal) {
      if (c === ']') literal = false;
    } else if (c === '"' && honourQuotes && positions.length === 0) quoted = true;
    else if (c === '[' && positions.length > 0) literal = true;
    else if (c === '@') positions.push(i);
  }
  return quoted ? separators(address, false) : positions;
}

/**
 * Lower case A-label (RFC 9989 §5.3.1) without the root dot; undefined when it is not a domain DNS can be
 * asked about: RFC 1035 §2.3.4 (no empty label, labels up to 63 octets, names up to 253) and host-name
 * labels (LABEL). A domain literal is kept.
 */
function normalizeDomain(value: string): string | undefined {
  const domain = value.trim().toLowerCase();
  if (domain === '') return undefined;
  if (DOMAIN_LITERAL.test(domain)) return domain;
  if (NOT_IN_DOMAIN.test(domain)) return undefined;
  // Label by label (src/dns/a-labels.ts): a whole-name conversion reads "evil.example/ü.bank.example" as a URL.
  const ascii = asciiName(domain.normalize('NFC'));
  if (ascii === undefined) return undefined;
  const name = ascii.toLowerCase().replace(/\.$/, ''); // "user@." names only the root
  if (name === '' || name.length > 253) return undefined;
  return name.split('.').every((label) => LABEL.test(label)) ? name : undefined;
}
