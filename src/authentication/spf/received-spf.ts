/**
 * The Received-SPF trace field (RFC 7208 §9.1), as policyd-spf writes it: the result, a comment a
 * person can read, and the facts it was computed from, so a later reader can check it again. Written
 * when `authentication.spf.onFail: mark` asks for the result to be marked in the message.
 */

import type { SpfResult } from './check-spf.ts';

export interface ReceivedSpfInput {
  spf: SpfResult;
  /** Which identity was checked: MAIL FROM's domain, or HELO's for the null sender (§2.4). */
  identity: 'mailfrom' | 'helo';
  clientIp: string;
  /** The MAIL FROM address; '' for the null reverse-path. */
  envelopeFrom: string;
  helo: string;
  /** Our hostname: the receiver that did the check. */
  receiver: string;
}

/**
 * RFC 5322 §2.1.1: a line MUST be at most 998 octets. The client's names are bounded before quoting
 * (which can double them) by what RFC 5321 §4.5.3.1 lets them be: a Domain 255 octets, a path 256.
 */
const MAX_HELO = 255;
const MAX_PATH = 256;
/** The comment, escaped: with "Received-SPF: permerror (" and ")" its line stays under 998. */
const MAX_COMMENT = 900;

/** `Received-SPF: result (comment) key=value; …` folded after the comment, ending in CRLF. */
export function receivedSpfHeader(input: ReceivedSpfInput): string {
  const { spf } = input;
  const envelopeFrom = bounded(printable(input.envelopeFrom), MAX_PATH);
  const pairs = [
    `client-ip=${value(input.clientIp)}`,
    `envelope-from=${value(envelopeFrom === '' ? '<>' : envelopeFrom)}`,
    `helo=${value(bounded(printable(input.helo), MAX_HELO))}`,
    `receiver=${value(input.receiver)}`,
    `identity=${input.identity}`,
  ];
  if (spf.mechanism) pairs.push(`mechanism=${value(bounded(spf.mechanism))}`);
  // §9.1: "problem" says what went wrong when the result is an error.
  if (spf.result === 'temperror' || spf.result === 'permerror') pairs.push(`problem=${value(bounded(spf.reason))}`);
  // The domain checked can be the HELO name (§2.3), unbounded as the client sent it.
  const facts = { ...input, envelopeFrom, spf: { ...spf, domain: bounded(printable(spf.domain), MAX_HELO) } };
  const comment = capped(escaped(printable(`${input.receiver}: ${explain(facts)}`)), MAX_COMMENT);
  return `Received-SPF: ${spf.result} (${comment})\r\n\t${pairs.join(';\r\n\t')};\r\n`;
}

/** The comment's sentence, in the words of RFC 7208 §9.1's examples. */
function explain({ spf, clientIp, envelopeFrom, identity }: ReceivedSpfInput): string {
  const who = identity === 'helo' || envelopeFrom === '' ? `${spf.domain}` : `domain of ${envelopeFrom}`;
  switch (spf.result) {
    case 'pass':
      return `${who} designates ${clientIp} as permitted sender`;
    case 'fail':
      return `${who} does not designate ${clientIp} as permitted sender`;
    case 'softfail':
      return `${who} does not designate ${clientIp} as permitted sender (transitioning)`;
    case 'neutral':
      return `${clientIp} is neither permitted nor denied by ${who}`;
    case 'none':
      // RFC 7208 §4.3: an address literal is no domain; nothing was looked up, and none could publish.
      if (spf.domain.startsWith('['))
        return `${spf.domain} is an address literal, not a domain: no SPF record to check`;
      return `${spf.domain} does not publish an SPF record`;
    default:
      return bounded(spf.reason);
  }
}

/** §9.1 values are dot-atoms or quoted-strings (RFC 5322 §3.2.3, §3.2.4). */
function value(raw: string): string {
  const text = printable(raw);
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/.test(text)) return text;
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function escaped(comment: string): string {
  return comment.replace(/[\\()]/g, (c) => `\\${c}`);
}

/** An escaped comment cut to `octets`, never between a backslash and what it quotes (RFC 5322 §3.2.1). */
function capped(comment: string, octets: number): string {
  if (comment.length <= octets) return comment;
  const cut = comment.slice(0, octets);
  // An odd run of trailing backslashes ends in half a quoted-pair, which would quote the closing ")".
  let trailing = 0;
  while (cut[cut.length - 1 - trailing] === '\\') trailing++;
  return trailing % 2 === 1 ? cut.slice(0, -1) : cut;
}

/**
 * One line of printable US-ASCII, as authentication-results.ts writes its comments: reasons
 * quote DNS text and values come from the client (a HELO with a control character when HELO checks are
 * off), and the field must stay 7-bit (RFC 5322 §2.2, §3.2.4 qtext, §3.2.2 ctext) and not fold or break.
 * `§` is written `section`; any other control or non-ASCII character becomes `?`.
 */
function printable(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/§ ?/g, 'section ')
    .replace(/[^\x20-\x7e]/g, '?');
}

/** Reasons can quote a whole DNS record, and a mechanism can be most of one. */
function bounded(reason: string, length = 200): string {
  return reason.slice(0, length);
}
