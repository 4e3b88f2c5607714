/** Trace headers added on delivery: Received (RFC 5321 §4.4) and Return-Path (§4.4, final delivery). */
import { domainToASCII } from 'node:url';
import type { Envelope, Peer } from './envelope.ts';
import { isAddressLiteral, isDomain, type Path } from './path.ts';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time, in UTC. */
export function formatDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** RFC 5321 §4.1.3 address literal for TCP-info: IPv6 addresses carry the "IPv6:" tag. */
export function addressLiteral(ip: string): string {
  return ip.includes(':') ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** The "with" protocol: ESMTP, plus S for TLS and A for AUTH (RFC 3848 §2, RFC 6531 §3.7.3 for UTF8SMTP). */
function protocol(envelope: Envelope, peer: Peer): string {
  const base = envelope.smtputf8 ? 'UTF8SMTP' : envelope.greeting === 'EHLO' ? 'ESMTP' : 'SMTP';
  if (base === 'SMTP') return base; // RFC 3848's variants extend ESMTP only
  return `${base}${peer.tls ? 'S' : ''}${peer.authenticated ? 'A' : ''}`;
}

/**
 * `clientName`: the client's forward-confirmed DNS name, written before its address as RFC 5321 §4.4
 * TCP-info allows (`Domain FWS address-literal`); without one the address stands alone, which readers
 * such as SpamAssassin take for "no reverse DNS".
 */
export function receivedHeader(
  envelope: Envelope,
  peer: Peer,
  hostname: string,
  at: Date,
  clientName?: string,
): string {
  const claimed = heloClause(envelope.helo, envelope.smtputf8);
  // "for" only with one recipient: listing several would disclose Bcc recipients to each other.
  const only =
    envelope.recipients.length === 1 ? `\r\n\tfor <${forMailbox(envelope.recipients[0]!.path, hostname)}>` : '';
  // RFC 8314 §4.3: record the TLS version and cipher the message travelled with.
  const tls = peer.tls ? `\t(using ${peer.tls.protocol} with cipher ${peer.tls.cipher})\r\n` : '';
  return (
    `Received: from ${claimed.from} (${claimed.helo}${clientName ? `${clientName} ` : ''}${addressLiteral(peer.remoteAddress)})\r\n` +
    tls +
    `\tby ${hostname} (Postern) with ${protocol(envelope, peer)} id ${envelope.id}${only};\r\n` +
    `\t${formatDate(at)}\r\n`
  );
}

/** A Domain's most octets (RFC 5321 §4.5.3.1.2); a HELO name longer than that is cut in the comment. */
const MAX_NAME = 255;

/**
 * What the client called itself, split in two as Exim writes it: `from <name> (...)` when the HELO
 * argument is a name or an address literal, as RFC 5321 §4.4 wants From-domain to be, and otherwise
 * `from unknown (helo=<argument>; ...)`, in the TCP-info comment, where it cannot end the comment or
 * start another clause: a bare `(`, `)`, `;` or `"` would (RFC 5322 §3.2.2, §3.6.7), leaving by, with,
 * id, for and the date inside a comment or after the `;`. The real address literal stays last in the
 * comment, where readers look for the client's address.
 */
function heloClause(raw: string, smtputf8: boolean): { from: string; helo: string } {
  const name = heloName(raw, smtputf8);
  if (name !== undefined) return { from: name, helo: '' };
  // Printable and one line, ASCII unless the message may carry UTF-8 (RFC 6532 §3.7); C1 controls are
  // not for interchange (RFC 5198 §2).
  const printable = raw.replace(smtputf8 ? /[^\x21-\x7e\u00a0-\u{10ffff}]/gu : /[^\x21-\x7e]/gu, '?');
  // RFC 5322 §3.2.2: "\\" is a quoted-pair in a comment. Parentheses could be quoted-pairs too, but
  // parsers that count them without reading quoted-pairs (mailauth's parse-received) would then see
  // the comment unclosed and lose the rest of the field, so they become "?".
  const escaped = clip(printable, MAX_NAME).replace(/[()]/g, '?').replace(/\\/g, '\\\\');
  return { from: 'unknown', helo: `helo=${escaped}; ` };
}

/**
 * The HELO argument when it is a Domain or an address literal (RFC 5321 §4.1.2, §4.1.3), in its A-label
 * unless the message is an SMTPUTF8 one (RFC 6532 §3.7); a trailing dot, the root's, is left off (the
 * same name, which §4.1.2's Domain cannot end in). Undefined otherwise: the HELO rules let a Windows
 * host's "_" through (Postfix's valid_hostname()), but From-domain is a Domain, and a strict reader of
 * the field stopped at it; such a name goes in the comment as helo=.
 */
function heloName(helo: string, smtputf8: boolean): string | undefined {
  if (isAddressLiteral(helo)) return helo;
  const raw = helo.replace(/\.$/, '');
  if (!isDomain(raw)) return undefined;
  if (/^[\x21-\x7e]*$/.test(raw)) return raw;
  // A U-label character can take four octets, so the UTF-8 form of a 255-octet Domain could take the
  // line past 998 octets (RFC 5322 §2.1.1); its A-label is the same name within 255.
  if (smtputf8 && Buffer.byteLength(raw) <= MAX_NAME) return raw;
  return domainToASCII(raw) || undefined;
}

/** The longest start of `text` of at most `octets` UTF-8 octets, not cutting a character. */
function clip(text: string, octets: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    used += Buffer.byteLength(char);
    if (used > octets) break;
    out += char;
  }
  return out;
}

/**
 * RFC 5321 §4.4: "for" takes a Mailbox, with its domain. The one path without a domain is
 * "<Postmaster>" (§4.1.1.3), which names this host's postmaster.
 */
function forMailbox(path: Path, hostname: string): string {
  return path.domain === '' ? `${path.localPart}@${hostname}` : path.address;
}

export function returnPathHeader(envelope: Envelope): string {
  return `Return-Path: <${envelope.mailFrom?.address ?? ''}>\r\n`;
}
