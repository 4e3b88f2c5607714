/** Trace headers added on delivery: Received (RFC 5321 §4.4) and Return-Path (§4.4, final delivery). */
import type { Envelope, Peer } from './envelope.ts';

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

/** The "with" protocol (RFC 3848 §4, RFC 6531 §3.7.3). TLS and AUTH variants arrive with later issues. */
function protocol(envelope: Envelope): string {
  if (envelope.smtputf8) return 'UTF8SMTP';
  return envelope.greeting === 'EHLO' ? 'ESMTP' : 'SMTP';
}

export function receivedHeader(envelope: Envelope, peer: Peer, hostname: string, at: Date): string {
  // The HELO name is the client's claim: keep it printable so it cannot inject header lines.
  const helo = envelope.helo.replace(/[^\x21-\x7e\u0080-\u{10ffff}]/gu, '?');
  // "for" only with one recipient: listing several would disclose Bcc recipients to each other.
  const only = envelope.recipients.length === 1 ? `\r\n\tfor <${envelope.recipients[0]!.path.address}>` : '';
  return (
    `Received: from ${helo} (${addressLiteral(peer.remoteAddress)})\r\n` +
    `\tby ${hostname} (Postern) with ${protocol(envelope)} id ${envelope.id}${only};\r\n` +
    `\t${formatDate(at)}\r\n`
  );
}

export function returnPathHeader(envelope: Envelope): string {
  return `Return-Path: <${envelope.mailFrom?.address ?? ''}>\r\n`;
}
