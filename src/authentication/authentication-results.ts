/**
 * The Authentication-Results header field (RFC 8601): the one we add, and the forged ones we remove.
 * Downstream readers (a mail client, a later filter, the admin UI) trust a header that carries our
 * authserv-id, so no such header may survive from outside (RFC 8601 §5).
 */

import { isIP } from 'node:net';
import { asciiName } from '../dns/a-labels.ts';
import type { ArcResult, DkimSignatureResult, DmarcResult, SpfResult } from './results.ts';

export interface ResultsInput {
  /** SPF of the MAIL FROM identity (RFC 8601 §2.7.2 smtp.mailfrom), or of HELO for the null sender. */
  spf?: SpfResult & { identity: 'mailfrom' | 'helo' };
  /** SPF of the HELO identity when checked on its own (RFC 7208 §2.3). */
  helo?: SpfResult;
  dkim?: DkimSignatureResult[];
  arc?: ArcResult;
  dmarc?: DmarcResult;
  /** The SASL login of a submission (RFC 8601 §2.7.4 smtp.auth). */
  login?: string;
  /**
   * A DMARC fail not acted on as published: the disposition applied and the RFC 7489 §7.2
   * PolicyOverrideType that explains it, shown in the comment.
   */
  override?: { type: string; disposition: string };
  /**
   * false when DMARC results are recorded only (`authentication.dmarc.enforce: false`): nothing is done
   * on a fail, so the disposition applied, `dis=`, is none.
   */
  enforced?: boolean;
  /** The SMTP client's address, recorded with the ARC result (RFC 8617 §6: smtp.remote-ip). */
  remoteIp?: string;
}

/**
 * `Authentication-Results: <authserv-id>; method=result (comment) ptype.property=value; …` folded one
 * result per line, ending in CRLF; a result whose properties are long is folded between them too (see
 * folded()). With no method evaluated: `; none` (RFC 8601 §2.2).
 */
export function authenticationResultsHeader(authservId: string, input: ResultsInput): string {
  const results: string[][] = [];
  if (input.login !== undefined) results.push(['auth=pass', property('smtp.auth', input.login)]);
  if (input.spf) {
    const ptype = input.spf.identity === 'helo' ? 'smtp.helo' : 'smtp.mailfrom';
    results.push([`spf=${input.spf.result}${why(input.spf)}`, property(ptype, input.spf.domain)]);
  }
  if (input.helo)
    results.push([`spf=${input.helo.result}${why(input.helo)}`, property('smtp.helo', input.helo.domain)]);
  if (input.dkim) {
    // RFC 8601 §2.7.1: "none" when the message carries no signature.
    if (input.dkim.length === 0) results.push(['dkim=none']);
    for (const signature of input.dkim) {
      const parts = [`dkim=${signature.result}${why(signature) || passCaveat(signature)}`];
      if (signature.domain) parts.push(property('header.d', signature.domain));
      if (signature.identity) parts.push(property('header.i', signature.identity)); // RFC 8601 §2.7.1
      if (signature.selector) parts.push(property('header.s', signature.selector));
      if (signature.algorithm) parts.push(property('header.a', signature.algorithm));
      if (signature.headerB) parts.push(property('header.b', signature.headerB)); // RFC 6008 §4
      results.push(parts);
    }
  }
  if (input.arc) {
    // RFC 8617 §6 (the IANA Email Authentication Methods registry): smtp.remote-ip, the client that
    // handed us the chain. header.oldest-pass is not given: only the newest AMS is verified (verify-arc.ts).
    const ip = input.remoteIp && isIP(input.remoteIp) !== 0 ? [property('smtp.remote-ip', input.remoteIp)] : [];
    results.push([`arc=${input.arc.result}${why(input.arc)}`, ...ip]);
  }
  if (input.dmarc) {
    const d = input.dmarc;
    // dis= is the disposition applied (as Google writes dis=NONE when it does not apply the policy): the
    // override's, none when DMARC is not enforced, else the policy after sampling.
    const disposition = input.enforced === false ? 'none' : (input.override?.disposition ?? d.disposition);
    const override = input.override ? ` override=${input.override.type}` : '';
    const policy = d.policy ? ` (p=${d.policy} dis=${disposition}${override})` : '';
    // RFC 9989 §10 (the polrec ptype): p= as published, and where the record was found when that is not
    // the From domain (an organizational domain or a public suffix), for readers that act on them.
    results.push([
      `dmarc=${d.result}${policy}`, // RFC 7489 §11.2
      ...(d.fromDomain ? [property('header.from', d.fromDomain)] : []),
      ...(d.p ? [property('polrec.p', d.p)] : []),
      ...(d.policyDomain && d.policyDomain !== d.fromDomain ? [property('polrec.domain', d.policyDomain)] : []),
    ]);
  }
  const body = results.length === 0 ? [' none'] : results.map((r) => `\r\n${folded(r)}`);
  return `Authentication-Results: ${value(authservId)};${body.join(';')}\r\n`;
}

/**
 * RFC 5322 §2.1.1: a line "MUST be no more than 998 characters"; a relaying server refuses a longer one
 * (RFC 5321 §4.5.3.1.6). Values are bounded (MAX_VALUE) and comments cut (comment()), so no one item comes
 * near it; a result whose items together would is folded between them.
 */
const FOLD_AT = 998;

/**
 * One resinfo on its own line, as most receivers write it; a property that would carry the line past
 * FOLD_AT starts a folded line (CFWS may stand between propspecs, RFC 8601 §2.2).
 */
function folded([head, ...properties]: string[]): string {
  let text = `\t${head}`;
  let line = text.length;
  for (const p of properties) {
    if (line + 1 + p.length > FOLD_AT) {
      text += `\r\n\t  ${p}`;
      line = 3 + p.length;
    } else {
      text += ` ${p}`;
      line += 1 + p.length;
    }
  }
  return text;
}

/**
 * Removes every Authentication-Results field of the header section whose authserv-id is ours
 * (RFC 8601 §5: "MUST ... delete or otherwise obscure"), keeping everything else byte for byte.
 * Others' A-R fields stay: they are not ours to judge, and ARC seals may cover them.
 */
export function stripForgedResults(content: Buffer, authservId: string): { content: Buffer; removed: number } {
  const headerEnd = endOfHeader(content);
  if (!hasResultsField(content, headerEnd)) return { content, removed: 0 };
  const header = content.subarray(0, headerEnd).toString('latin1');
  const fields = splitFields(header);
  const wanted = withoutRootDot(authservId.toLowerCase());
  let removed = 0;
  const kept = fields.filter((field) => {
    const match = /^authentication-results[ \t]*:([\s\S]*)$/i.exec(field);
    if (!match) return true;
    if (authservIdOf(match[1]!) !== wanted) return true;
    removed++;
    return false;
  });
  if (removed === 0) return { content, removed };
  return { content: Buffer.concat([Buffer.from(kept.join(''), 'latin1'), content.subarray(headerEnd)]), removed };
}

/**
 * The authserv-id of an A-R field value (RFC 8601 §2.2): the first token or quoted-string, in lower
 * case and without a root dot. The CFWS before it is read as RFC 5322 §3.2.2 has it: comments nest,
 * and a quoted-pair stands for the character it quotes, in comments and quoted strings alike, so that
 * `(a (b) c) ours` and `"o\urs"` are read as every receiver reads them: as ours.
 */
export function authservIdOf(fieldValue: string): string {
  const text = fieldValue.replace(/\r?\n(?=[ \t])/g, '');
  let i = 0;
  for (;;) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
    if (text[i] !== '(') break;
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    if (i >= text.length) return ''; // an unclosed comment: nothing follows it
    i++;
  }
  let id = '';
  if (text[i] === '"') {
    for (i++; i < text.length && text[i] !== '"'; i++) id += text[i] === '\\' ? (text[++i] ?? '') : text[i];
  } else {
    id = /^[^\s;()"]+/.exec(text.slice(i))?.[0] ?? '';
  }
  return withoutRootDot(id.toLowerCase());
}

function withoutRootDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');

/** The offset just past the blank line ending the header section, or the content's length. */
function endOfHeader(content: Buffer): number {
  if (content.length >= 2 && content[0] === 0x0d && content[1] === 0x0a) return 0; // no header fields
  const blank = content.indexOf(BLANK_LINE);
  return blank < 0 ? content.length : blank + 2;
}

const RESULTS_NAME = 'authentication-results';

/**
 * Whether any line of the header section opens an Authentication-Results field (the name in any
 * case, RFC 5322 §1.2.2, then optional WSP and the colon). Read on the octets: almost no message
 * carries one, and every message would otherwise pay for its header section as a string.
 */
function hasResultsField(content: Buffer, headerEnd: number): boolean {
  for (let line = 0; line >= 0 && line < headerEnd; ) {
    if (opensResultsField(content, line, headerEnd)) return true;
    const lf = content.indexOf(0x0a, line);
    line = lf < 0 ? -1 : lf + 1;
  }
  return false;
}

function opensResultsField(content: Buffer, at: number, end: number): boolean {
  if (at + RESULTS_NAME.length >= end) return false;
  for (let i = 0; i < RESULTS_NAME.length; i++) {
    const octet = content[at + i] as number;
    const wanted = RESULTS_NAME.charCodeAt(i);
    const capital = wanted >= 0x61 && wanted <= 0x7a ? wanted - 0x20 : wanted;
    if (octet !== wanted && octet !== capital) return false;
  }
  let i = at + RESULTS_NAME.length;
  while (i < end && (content[i] === 0x20 || content[i] === 0x09)) i++;
  return content[i] === 0x3a;
}

/** Header fields, each with its folded continuation lines and its CRLF. */
function splitFields(header: string): string[] {
  const fields: string[] = [];
  for (const line of header.split(/(?<=\r\n)/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return fields;
}

/**
 * Properties whose value is a domain name, or an address (local-part "@" domain, RFC 8601 §2.3): the
 * domain is written as A-labels, which every reader takes (RFC 8616 §3-§5), whatever the identity was
 * written in (an EHLO name, a MAIL FROM or From domain, a DKIM i= in UTF-8). A selector is DNS labels
 * too (RFC 6376 §3.1). Not smtp.auth: a SASL login (RFC 4422 §3.4.1) need not be an address.
 */
const DOMAIN_PROPERTIES = new Set([
  'smtp.helo',
  'smtp.mailfrom',
  'header.d',
  'header.s',
  'header.i',
  'header.from',
  'polrec.domain',
]);

/**
 * The longest value written: an address at its longest (a 64-octet local part, "@", a 253-octet domain,
 * RFC 5321 §4.5.3.1.1-2) fits. A longer one (a 1,500-octet DKIM i=) is cut, as comments are, so that with
 * its quoting it stays far within the 998-octet line.
 */
const MAX_VALUE = 320;

function property(name: string, text: string): string {
  return `${name}=${value(bounded(sevenBit(name, text)))}`;
}

/**
 * The value in US-ASCII: UTF-8 in the header of a message that may not carry it breaks it (RFC 6532 §3.7:
 * only SMTPUTF8 mail does), and readers (Python's authres) refuse it. A domain becomes its A-label; any
 * other non-ASCII character (in a local part, a selector) becomes `?`, as Received writes it.
 */
function sevenBit(name: string, text: string): string {
  if (!NON_ASCII.test(text)) return text;
  const at = DOMAIN_PROPERTIES.has(name) ? text.lastIndexOf('@') + 1 : text.length;
  const domain = text.slice(at);
  const ascii = domain === '' ? '' : (asciiName(domain.normalize('NFC')) ?? domain);
  return `${text.slice(0, at)}${ascii}`.replace(NON_ASCII_ALL, '?');
}

const NON_ASCII = /[^\x00-\x7f]/;
const NON_ASCII_ALL = /[^\x00-\x7f]/gu;

/** At most MAX_VALUE characters; an address keeps its domain, what readers compare, and loses local part. */
function bounded(text: string): string {
  if (text.length <= MAX_VALUE) return text;
  const at = text.lastIndexOf('@');
  if (at > 0 && text.length - at <= 254) return text.slice(0, MAX_VALUE - (text.length - at)) + text.slice(at);
  return text.slice(0, MAX_VALUE);
}

/**
 * RFC 8601 §2.3 `pvalue`: an RFC 2045 token, `[local-part] "@" domain-name`, or a quoted-string. An
 * address is written as such, its local part quoted only if it is no dot-atom: readers such as Python's
 * authres take a quoted-string only as the last property of a result, a quoted local part anywhere. A
 * control character (a NUL in a DKIM tag, say) is no qtext (RFC 5322 §3.2.4) and would end up in the
 * stored message: `?` stands for it.
 */
function value(text: string): string {
  if (/^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~@]+$/.test(text)) return text;
  const at = text.lastIndexOf('@');
  const domain = text.slice(at + 1);
  if (at >= 0 && DOMAIN_NAME.test(domain)) {
    const local = text.slice(0, at);
    return local === '' || DOT_ATOM.test(local) ? text : `${quoted(local)}@${domain}`;
  }
  return quoted(text);
}

function quoted(text: string): string {
  return `"${text
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/[\r\n]+/g, ' ')
    .replace(CONTROL, '?')}"`;
}

/** RFC 5322 §3.2.3 dot-atom-text. */
const DOT_ATOM = /^[\w!#$%&'*+\-/=?^`{|}~]+(?:\.[\w!#$%&'*+\-/=?^`{|}~]+)*$/;
/** RFC 6376 §3.5 domain-name: sub-domains of RFC 5321 §4.1.2 (letters, digits, inner hyphens). */
const DOMAIN_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** C0 controls and DEL: neither ctext nor qtext (RFC 5322 §3.2.2, §3.2.4). */
const CONTROL = /[\x00-\x1f\x7f]/g;

/**
 * The reason of a result that needs one: a pass or a none says it all, and every message carries this
 * header, so their comments would only add bytes to store.
 */
function why(r: { result: string; reason: string }): string {
  return r.result === 'pass' || r.result === 'none' ? '' : comment(r.reason);
}

/**
 * What a DKIM pass does not vouch for, said to downstream readers (mail programs, Sieve, `postern
 * scan`), in words DKIM_PASS_CAVEAT recognises: text after l= is unsigned (RFC 6376 §8.2), and a key in
 * testing mode must be treated as no signature (RFC 6376 §3.6.1).
 */
function passCaveat(signature: DkimSignatureResult): string {
  if (signature.result !== 'pass') return '';
  if ((signature.unsignedBodyBytes ?? 0) > 0) return ` (${signature.unsignedBodyBytes} body octets unsigned, l=)`;
  if (signature.testing) return ' (key in testing mode, t=y)';
  return '';
}

/** The comments passCaveat() writes, as a reader of our own field finds them. */
export const DKIM_PASS_CAVEAT = /^(\d+ body octets unsigned, l=|key in testing mode, t=y)$/;

/**
 * A reason as an RFC 5322 comment: parentheses and backslashes escaped, one line, bounded, printable
 * US-ASCII (ctext, §3.2.2) so that the field stays 7-bit: `§` is written `section`, and a control
 * character or other non-ASCII text quoted from a DNS record or a signature becomes `?`.
 */
function comment(reason: string): string {
  if (!reason) return '';
  const text = reason
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/§ ?/g, 'section ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 200);
  return ` (${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}
