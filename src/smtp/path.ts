/**
 * RFC 5321 §4.1.2 paths and ESMTP parameters, strictly: a path is in angle brackets, an RFC 5322
 * form such as `Name <a@b>` or a bare address is a syntax error. RFC 6531 §3.3 extends atext,
 * qtext and sub-domains with UTF-8; the caller decides whether UTF-8 was declared.
 */
import { asciiName, isALabel } from '../dns/a-labels.ts';

export interface Path {
  localPart: string; // as sent, quotes removed from a quoted local part's escapes kept verbatim
  domain: string; // lower-cased; an address literal keeps its brackets
  /** local@domain with the domain lower-cased: the form used for look-ups and headers. */
  address: string;
  /** True when any part is non-ASCII (needs SMTPUTF8, RFC 6531 §3.4). */
  utf8: boolean;
}

export type PathParse =
  | { ok: true; path: Path | null; rest: string } // null: the null reverse-path "<>"
  | { ok: false; problem: string };

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const SUBDOMAIN = /^[A-Za-z0-9\u0080-\u{10FFFF}]([A-Za-z0-9\-\u0080-\u{10FFFF}]*[A-Za-z0-9\u0080-\u{10FFFF}])?$/u;
const ASCII_DOMAIN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NON_ASCII = /[^\x00-\x7f]/;
/**
 * Never in an address, whatever SMTPUTF8 allows: C1 controls (RFC 5198 §2: not for interchange) and
 * the bidi controls that make an address display as another (the Trojan Source class, CVE-2021-42574).
 */
const UNSAFE_IN_ADDRESS = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** An LDH label (RFC 5890 §2.3.1) of at most 63 octets (RFC 1035 §2.3.4): what each A-label must be. */
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** RFC 5321 §4.1.2 Dot-string of ASCII atoms: ATEXT's ASCII part, in one test instead of one per atom. */
const ASCII_DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

// RFC 5321 §4.5.3.1.1-3: local part 64 octets, domain 255, path 256 including the brackets. The local
// part's 64 holds for recipients only (our account names fit it): §4.5.3.1 asks for no limits "to the
// maximum extent possible", and a reverse-path rewritten by SRS or VERP runs past 64 (Postfix takes it).
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;
const MAX_PATH = 256;

/**
 * Parses `<...>` at the start of `text`, then returns what follows (the parameters). `allowNull`: a
 * reverse-path (MAIL FROM), which may be `<>` and whose local part is bounded by the path's 256 only.
 */
export function parsePath(text: string, allowNull: boolean): PathParse {
  if (!text.startsWith('<')) {
    return { ok: false, problem: 'Syntax error: the address must be enclosed in <> (RFC 5321 section 4.1.2)' };
  }
  const close = findClosingBracket(text);
  if (close < 0) return { ok: false, problem: 'Syntax error: missing > after the address' };
  const inner = text.slice(1, close);
  const rest = text.slice(close + 1);
  if (rest !== '' && !rest.startsWith(' ')) {
    return { ok: false, problem: 'Syntax error: unexpected text after the address' };
  }
  if (utf8Length(inner) + 2 > MAX_PATH) {
    return { ok: false, problem: 'Path too long (RFC 5321 section 4.5.3.1.3: 256 octets)' };
  }
  if (inner === '') {
    return allowNull
      ? { ok: true, path: null, rest: rest.trimStart() }
      : { ok: false, problem: 'Syntax error: empty address' };
  }
  // RFC 5321 §4.1.2/§C: a source route ("@a,@b:") must be accepted and ignored.
  let mailbox = inner;
  if (mailbox.startsWith('@')) {
    const colon = mailbox.indexOf(':');
    // "<@example.net>": not a route but an address without its local part.
    if (colon < 0) return { ok: false, problem: 'Syntax error: empty local part (the address is local@domain)' };
    const route = mailbox.slice(0, colon).split(',');
    if (!route.every((hop) => hop.startsWith('@') && isDomain(hop.slice(1)))) {
      return { ok: false, problem: 'Syntax error: bad source route' };
    }
    mailbox = mailbox.slice(colon + 1);
  }
  const parsed = parseMailbox(mailbox, allowNull);
  if (typeof parsed === 'string') return { ok: false, problem: parsed };
  return { ok: true, path: parsed, rest: rest.trimStart() };
}

function findClosingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '>') return i;
    else if (!quoted && c === '<') return -1;
  }
  return -1;
}

/**
 * RFC 5321 §4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ). Returns a problem text on error.
 * `reversePath`: a sender's, whose local part may run past 64 octets (MAX_LOCAL).
 */
export function parseMailbox(mailbox: string, reversePath = false): Path | string {
  const at = mailbox.lastIndexOf('@');
  if (at <= 0) return 'Syntax error: the address needs a local part and a domain (local@domain)';
  const localPart = mailbox.slice(0, at);
  const domainPart = mailbox.slice(at + 1);
  // Nearly every address is ASCII: one test of the whole saves the Unicode-aware patterns and the
  // UTF-8 byte counts below.
  const ascii = !NON_ASCII.test(mailbox);
  const validLocal = ascii && !localPart.startsWith('"') ? ASCII_DOT_STRING.test(localPart) : isLocalPart(localPart);
  if (!validLocal) return `Syntax error: invalid local part "${localPart}" (RFC 5321 section 4.1.2)`;
  if (!reversePath && (ascii ? localPart.length : Buffer.byteLength(localPart, 'utf8')) > MAX_LOCAL)
    return 'Local part too long (RFC 5321 section 4.5.3.1.1: 64 octets)';
  let domain: string;
  if (domainPart.startsWith('[')) {
    if (!isAddressLiteral(domainPart)) return `Syntax error: invalid address literal "${domainPart}"`;
    // The tag as RFC 5321 §4.1.3 writes it ("IPv6:"), the address in lower case (RFC 5952 §4.3).
    domain = domainPart.toLowerCase().replace(/^\[ipv6:/, '[IPv6:');
  } else {
    if (!isDomain(domainPart)) return `Syntax error: invalid domain "${domainPart}" (RFC 5321 section 4.1.2)`;
    domain = domainPart.toLowerCase();
  }
  if ((ascii ? domain.length : Buffer.byteLength(domain, 'utf8')) > MAX_DOMAIN) {
    return 'Domain too long (RFC 5321 section 4.5.3.1.2: 255 octets)';
  }
  return {
    localPart,
    domain,
    address: `${localPart}@${domain}`,
    utf8: !ascii && (NON_ASCII.test(localPart) || NON_ASCII.test(domain)),
  };
}

/** Octets in UTF-8; a path is nearly always ASCII, where that is its length. */
function utf8Length(s: string): number {
  return NON_ASCII.test(s) ? Buffer.byteLength(s, 'utf8') : s.length;
}

function isLocalPart(s: string): boolean {
  if (UNSAFE_IN_ADDRESS.test(s)) return false;
  if (s.startsWith('"')) return isQuotedString(s);
  return s.split('.').every((atom) => ATEXT.test(atom));
}

/** Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 §4.1.2). */
function isQuotedString(s: string): boolean {
  if (s.length < 2 || !s.endsWith('"')) return false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      const next = s.charCodeAt(++i);
      if (!(next >= 32 && next <= 126) || i >= s.length - 1) return false; // quoted-pairSMTP
    } else if (c === 34 || c < 32 || c === 127) {
      return false;
    }
  }
  return true;
}

export function isDomain(s: string): boolean {
  if (s === '' || s.length > MAX_DOMAIN) return false;
  // The common case, without the Unicode-aware pattern; an "xn--" label is looked at below.
  if (ASCII_DOMAIN.test(s)) return !XN_LABEL.test(s) || s.split('.').every(notFakeALabel);
  let ascii = 0;
  for (const label of s.split('.')) {
    if (label.length > 63 || !SUBDOMAIN.test(label) || !notFakeALabel(label)) return false;
    // RFC 6531 §3.3: a non-ASCII sub-domain is a U-label (RFC 5890 §2.3.2.1), so its A-label (RFC 5891
    // §4.4) is what DNS would be asked for: LDH, at most 63 octets, the name at most 255.
    const converted = NON_ASCII.test(label) ? asciiName(label) : label;
    if (converted === undefined || (converted !== label && !LDH_LABEL.test(converted))) return false;
    ascii += converted.length + 1;
  }
  return ascii - 1 <= MAX_DOMAIN;
}

/** A label starting "xn--" in any case (RFC 5890 §2.3.1: an XN-label; A-labels compare case-insensitively). */
const XN_LABEL = /(?:^|\.)xn--/i;

/**
 * RFC 5890 §2.3.2.1: an XN-label is a domain's label only when it is an A-label, one whose Punycode
 * decodes to a U-label that encodes back to it. "xn--zz" decodes to nothing: no name DNS has, and a
 * relay would queue mail to it only to bounce it later.
 */
function notFakeALabel(label: string): boolean {
  return !/^xn--/i.test(label) || isALabel(label.toLowerCase());
}

/** RFC 5321 §4.1.3 address literals: IPv4, "IPv6:" followed by an IPv6 address. */
export function isAddressLiteral(s: string): boolean {
  if (!s.startsWith('[') || !s.endsWith(']')) return false;
  const body = s.slice(1, -1);
  if (IPV4.test(body)) return true;
  if (body.slice(0, 5).toLowerCase() === 'ipv6:') return isIpv6(body.slice(5));
  return false;
}

function isIpv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !URL.canParse(`http://[${s}]/`)) return false;
  // RFC 5321 §4.1.3 IPv6-comp and IPv6v4-comp: "::" stands for at least two groups of zeros, so at most
  // six groups (an IPv4 tail counts as two) may stand beside it; RFC 4291 would let it stand for one.
  if (!s.includes('::')) return true;
  const groups = s.split(/::?/).filter((group) => group !== '');
  const width = groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  return width <= 6;
}

export type Params = Map<string, string | true>;

/** Mail-parameters = esmtp-param *(SP esmtp-param) (RFC 5321 §4.1.2). Keywords are upper-cased. */
export function parseParams(text: string): Params | string {
  const params: Params = new Map();
  // Trailing spaces are taken as everywhere else in a command line (Postfix does too); only spaces
  // between parameters are checked.
  const list = text.replace(/ +$/, '');
  if (list === '') return params;
  for (const item of list.split(' ')) {
    if (item === '') return 'Syntax error: more than one space between parameters';
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    // RFC 5321 §4.1.2 esmtp-keyword is ASCII: checked before upper-casing, which would make "ſIZE" SIZE.
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) return `Syntax error: bad parameter name "${asciiUpperCase(name)}"`;
    const key = name.toUpperCase();
    const value = eq < 0 ? true : item.slice(eq + 1);
    // esmtp-value: %d33-60 / %d62-126, plus UTF-8 under RFC 6531 §3.3.
    if (value !== true && (value === '' || /[\x00-\x20=\x7f]/.test(value))) return `Syntax error: bad value for ${key}`;
    const before = params.get(key);
    // The same parameter twice says nothing new: Python's smtplib repeats SMTPUTF8 and BODY=8BITMIME when
    // a caller also passes them in mail_options, as its documentation shows. Two values are a contradiction.
    if (before !== undefined && before !== value)
      return `Syntax error: parameter ${key} given twice, with different values`;
    params.set(key, value);
  }
  return params;
}

/**
 * Upper-cases ASCII letters only (RFC 5234 §2.3: keywords are case-insensitive in ASCII). Text with any
 * other character is returned as it is, so it matches no keyword: toUpperCase() makes "quıt" QUIT.
 */
export function asciiUpperCase(text: string): string {
  return NON_ASCII.test(text) ? text : text.toUpperCase();
}
