/**
 * Mailbox addresses (local@domain) as RFC 5321 §4.1.2 defines them, normalized for account lookup.
 *
 * Normal form: lower-cased, the local part unquoted when a dot-string can carry it, the domain in
 * ASCII (IDNA A-labels). RFC 5321 §2.4 lets the receiving host decide whether local parts are
 * case-sensitive; like nearly every server we treat them as case-insensitive.
 * Not accepted: address literals (user@[192.0.2.1]), SMTPUTF8 local parts (RFC 6531), source routes.
 */

import { asciiName, isALabel } from '../dns/a-labels.ts';

export const MAX_LOCAL_PART = 64; // RFC 5321 §4.5.3.1.1
export const MAX_DOMAIN = 255; // RFC 5321 §4.5.3.1.2
export const MAX_PATH = 256; // RFC 5321 §4.5.3.1.3, counting the angle brackets
const MAX_LABEL = 63; // RFC 1035 §2.3.4

export type AddressProblem =
  | 'empty'
  | 'no-at-sign'
  | 'empty-local-part'
  | 'local-part-too-long'
  | 'invalid-local-part'
  | 'non-ascii-local-part'
  | 'empty-domain'
  | 'address-literal'
  | 'domain-too-long'
  | 'invalid-domain'
  | 'domain-not-fqdn'
  | 'path-too-long';

export type ParsedAddress =
  | { ok: true; address: string; localPart: string; domain: string }
  | { ok: false; problem: AddressProblem; reason: string };

export class InvalidAddressError extends Error {
  readonly code = 'INVALID_ADDRESS';
  readonly problem: AddressProblem;
  constructor(problem: AddressProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

/** The normal form of an address, or InvalidAddressError naming what is wrong. */
export function normalizeAddress(input: string): string {
  const parsed = parseAddress(input);
  if (!parsed.ok) throw new InvalidAddressError(parsed.problem, parsed.reason);
  return parsed.address;
}

// RFC 5321 §4.1.2 Atom = 1*atext, with atext from RFC 5322 §3.2.3; Dot-string = Atom *("." Atom).
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// RFC 5321 §4.1.2 Quoted-string: qtextSMTP = %d32-33 / %d35-91 / %d93-126, quoted-pairSMTP = "\" %d32-126.
const QUOTED_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*)"$/;
// RFC 5321 §4.1.2 sub-domain = Let-dig [Ldh-str]: letters, digits, inner hyphens.
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export function parseAddress(input: string): ParsedAddress {
  if (input.length === 0) return fail('empty', 'the address is empty');
  if (input.length > MAX_PATH * 4) return fail('path-too-long', `the address is ${input.length} characters long`);
  const at = input.lastIndexOf('@'); // a quoted local part may itself contain "@"
  if (at < 0) return fail('no-at-sign', `${show(input)} has no @: an address is local-part@domain`);
  const local = normalizeLocalPart(input.slice(0, at));
  if (!local.ok) return local;
  const domain = normalizeDomain(input.slice(at + 1));
  if (!domain.ok) return domain;
  const address = `${local.value}@${domain.value}`;
  if (address.length + 2 > MAX_PATH) {
    return fail('path-too-long', `the address is ${address.length} characters; at most ${MAX_PATH - 2} fit in a path`);
  }
  return { ok: true, address, localPart: local.value, domain: domain.value };
}

type Part = { ok: true; value: string } | { ok: false; problem: AddressProblem; reason: string };

function normalizeLocalPart(raw: string): Part {
  if (raw.length === 0) return fail('empty-local-part', 'the part before @ is empty');
  if (/[^\x00-\x7f]/.test(raw)) {
    // The server takes mail for such addresses from other servers (SMTPUTF8); an account or alias of its
    // own is ASCII: IMAP logins, SASL and the store's keys are.
    return fail('non-ascii-local-part', 'a non-ASCII part before @ is not supported for accounts and aliases');
  }
  let local: string;
  if (DOT_STRING.test(raw)) {
    local = raw.toLowerCase();
  } else {
    const quoted = QUOTED_STRING.exec(raw);
    if (!quoted) {
      return fail('invalid-local-part', `${show(raw)} is neither a dot-string nor a quoted string (RFC 5321 §4.1.2)`);
    }
    local = canonicalQuoted((quoted[1] ?? '').replace(/\\(.)/g, '$1').toLowerCase());
    // RFC 5321 §4.1.2 lets a Quoted-string be empty, but "" names no mailbox anyone could log in as
    // or be told of: refused as the bare @example.com is.
    if (local === '""') return fail('empty-local-part', 'the part before @ is empty: "" quotes nothing');
  }
  if (local.length > MAX_LOCAL_PART) {
    return fail('local-part-too-long', `the local part has ${local.length} characters; at most ${MAX_LOCAL_PART}`);
  }
  return { ok: true, value: local };
}

/**
 * RFC 5321 §4.1.2: a quoted string SHOULD NOT be used where a dot-string suffices, so "john" and
 * john are one mailbox and normalize to john; otherwise quote again, escaping only " and \.
 */
export function canonicalQuoted(unquoted: string): string {
  if (DOT_STRING.test(unquoted)) return unquoted;
  return `"${unquoted.replace(/["\\]/g, '\\$&')}"`;
}

function normalizeDomain(raw: string): Part {
  if (raw.length === 0) return fail('empty-domain', 'the part after @ is empty');
  if (raw.startsWith('[')) {
    return fail('address-literal', 'address literals such as [192.0.2.1] are not accepted; use a domain name');
  }
  // IDNA: a U-label domain (bücher.example) becomes its A-label form (xn--bcher-kva.example), label by
  // label (RFC 5891 §4.2): read whole as a URL host, "x@bücher.example/y" lost its "/y" and "%41" became
  // "A", storing another address than the one typed.
  const ascii = (/^[\x21-\x7e]*$/.test(raw) ? raw : asciiName(raw))?.toLowerCase() ?? '';
  if (ascii.length === 0) return fail('invalid-domain', `${show(raw)} is not a valid domain name`);
  if (ascii.length > MAX_DOMAIN) {
    return fail('domain-too-long', `the domain has ${ascii.length} characters; at most ${MAX_DOMAIN}`);
  }
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL || !LABEL.test(label)) {
      return fail(
        'invalid-domain',
        `${show(raw)} is not a valid domain name: bad label ${show(label)} (RFC 5321 §4.1.2)`,
      );
    }
    if (label.startsWith('xn--') && !isALabel(label)) {
      return fail(
        'invalid-domain',
        `${show(raw)} is not a valid domain name: ${show(label)} is not an IDNA A-label: its Punycode does not decode to a valid name (RFC 5890 §2.3.2.1)`,
      );
    }
  }
  // RFC 5321 §2.3.5: a fully-qualified domain name has at least two labels; RFC 3696 §2: an
  // all-numeric top-level label would read as an IP address.
  if (labels.length < 2 || /^\d+$/.test(labels.at(-1) ?? '')) {
    return fail('domain-not-fqdn', `${show(raw)} is not a fully-qualified domain name (like example.com)`);
  }
  return { ok: true, value: ascii };
}

/** Quotes input for an error message: control characters escaped, long input cut. */
function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function fail(problem: AddressProblem, reason: string): { ok: false; problem: AddressProblem; reason: string } {
  return { ok: false, problem, reason };
}
