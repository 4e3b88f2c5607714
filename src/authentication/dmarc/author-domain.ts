/**
 * The Author Domain (RFC 7489 §3.1, RFC 9989 §5.3.1) from the RFC5322.From addresses: the domain after the
 * "@" that ends the local-part, lower case, as an A-label. Several mailboxes are fine if they share one
 * domain; anything else names why the domain cannot be known.
 */

import { domainToASCII } from 'node:url';

export type AuthorDomain =
  | { ok: true; authorDomain: string }
  | {
      ok: false;
      reason: 'no-author-domain' | 'multiple-author-domains' | 'invalid-author-domain' | 'multiple-from-fields';
      domains: string[];
    };

/** Characters no domain taken from an address holds: such an address is malformed (RFC 5322 §3.4.1). */
const INVALID_DOMAIN_CHARS = /[\s"<>(),;:\\@[\]]/;
/** RFC 5322 §3.4.1 domain-literal: kept as is; it cannot publish a DMARC record. */
const DOMAIN_LITERAL = /^\[[^[\]\\]*\]$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * `fromFields` counts the From fields the addresses came from: RFC 5322 §3.6 allows one, and with several a
 * DKIM signature may cover another field than the one a reader sees, so they are not merged.
 */
export function authorDomain(headerFrom: readonly string[], fromFields: number): AuthorDomain {
  const found = new Set<string>();
  let invalid = false;
  for (const address of headerFrom) {
    const domains = addressDomains(address);
    // a mailbox without a usable domain: the domain a reader sees is unknown
    if (domains.length === 0) invalid = true;
    for (const d of domains) found.add(d);
  }
  const domains = [...found];
  if (fromFields > 1) return { ok: false, reason: 'multiple-from-fields', domains };
  if (invalid && found.size > 0) return { ok: false, reason: 'invalid-author-domain', domains };
  if (domains.length === 1) return { ok: true, authorDomain: domains[0] ?? '' };
  return { ok: false, reason: found.size > 0 ? 'multiple-author-domains' : 'no-author-domain', domains };
}

/**
 * The normalized domains of one address: one for an addr-spec; every candidate when more than one "@" stands
 * outside a quoted string, so a malformed address counts as several Author Domains. A bare domain (no "@")
 * is taken as it is.
 */
export function addressDomains(input: string): string[] {
  const address = input.trim();
  if (!address.includes('@')) {
    const d = normalizeDomain(address);
    return d === undefined ? [] : [d];
  }
  const bare = stripRoute(address);
  const at = separators(bare, true);
  const domains: string[] = [];
  at.forEach((pos, i) => {
    const d = normalizeDomain(bare.slice(pos + 1, at[i + 1] ?? bare.length));
    if (d !== undefined) domains.push(d);
  });
  return domains;
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

/** Lower case A-label (RFC 9989 §5.3.1) without the root dot; undefined when it is not a domain. */
function normalizeDomain(value: string): string | undefined {
  let domain = value.trim().toLowerCase();
  if (domain === '') return undefined;
  if (!DOMAIN_LITERAL.test(domain)) {
    if (INVALID_DOMAIN_CHARS.test(domain)) return undefined;
    domain = toALabel(domain);
  }
  const name = domain.toLowerCase().replace(/\.$/, '');
  return name === '' ? undefined : name; // "user@." names only the root
}

/** Each U-label to its A-label (RFC 5890 §2.3.2.1); a label that cannot be converted stays. */
function toALabel(domain: string): string {
  if (!NON_ASCII.test(domain)) return domain;
  return domain
    .split('.')
    .map((label) => (NON_ASCII.test(label) ? domainToASCII(label.normalize('NFC')) || label : label))
    .join('.');
}
