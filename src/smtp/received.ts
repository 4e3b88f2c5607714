/** Trace headers added on delivery: Received (RFC 5321 §4.4) and Return-Path (§4.4, final delivery). */
import { domainToASCII } from 'node:url';
import type { Envelope, Peer } from './envelope.ts';
import type { Path } from './path.ts';

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
  // The HELO name is the client's claim: keep it printable so it cannot inject header lines, and
  // ASCII (its A-label) unless the message is an SMTPUTF8 one (RFC 6532 §3.7: only those may carry
  // UTF-8 in their header).
  const printable = envelope.helo.replace(/[^\x21-\x7e\u0080-\u{10ffff}]/gu, '?');
  const helo =
    envelope.smtputf8 || /^[\x21-\x7e]*$/.test(printable)
      ? printable
      : (domainToASCII(printable) || printable).replace(/[^\x21-\x7e]/gu, '?');
  // "for" only with one recipient: listing several would disclose Bcc recipients to each other.
  const only =
    envelope.recipients.length === 1 ? `\r\n\tfor <${forMailbox(envelope.recipients[0]!.path, hostname)}>` : '';
  // RFC 8314 §4.3: record the TLS version and cipher the message travelled with.
  const tls = peer.tls ? `\t(using ${peer.tls.protocol} with cipher ${peer.tls.cipher})\r\n` : '';
  return (
    `Received: from ${helo} (${clientName ? `${clientName} ` : ''}${addressLiteral(peer.remoteAddress)})\r\n` +
    tls +
    `\tby ${hostname} (Postern) with ${protocol(envelope, peer)} id ${envelope.id}${only};\r\n` +
    `\t${formatDate(at)}\r\n`
  );
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
