/**
 * SMTP replies as values (RFC 5321 §4.2, enhanced codes RFC 3463 / RFC 2034). Every reply the
 * server sends is named here so the set can be audited in one place, as Mox's smtp/codes.go does.
 * Leaf module: any layer may import it (it needs only the A-label conversion, itself a leaf).
 */
import { asciiName } from '../dns/a-labels.ts';

export interface Reply {
  code: number;
  /** RFC 3463 class.subject.detail; omitted on the greeting and the EHLO/HELO reply (RFC 2034 §3). */
  enhanced?: string;
  lines: string[];
}

export function reply(code: number, enhanced: string | undefined, ...lines: string[]): Reply {
  return enhanced === undefined ? { code, lines } : { code, enhanced, lines };
}

/** Renders a reply, multi-line with "code-" continuation lines (RFC 5321 §4.2.1). */
export function renderReply(r: Reply): string {
  const prefix = r.enhanced === undefined ? '' : `${r.enhanced} `;
  const lines = r.lines.length === 0 ? [''] : r.lines;
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${r.code}${sep}${prefix}${textstring(lines[i]!, MAX_REPLY_TEXT - prefix.length)}\r\n`;
  }
  return out;
}

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, the code, separator and CRLF included.
const MAX_REPLY_TEXT = 512 - 4 - 2;
const NOT_TEXT = /[^\t\x20-\x7e]/;
const NOT_TEXT_ALL = /[^\t\x20-\x7e]/g;

/**
 * RFC 5321 §4.2.1: reply text is a textstring (HT, SP, printable ASCII). Texts echo client input (a bad domain, a parameter name), so the grammar and the length are kept here.
 * Exported for the log, which writes a reply's text as it went out on the wire.
 */
export function textstring(text: string, room = MAX_REPLY_TEXT): string {
  const ascii = NOT_TEXT.test(text) ? text.replaceAll('§', 'section ').replace(NOT_TEXT_ALL, '?') : text;
  return ascii.length > room ? `${ascii.slice(0, room - 3)}...` : ascii;
}

/**
 * An address as a reply echoes it: a U-label domain as its A-label (RFC 5890 §2.3.2.1: one name), so
 * the sender's admin reads which address was refused. Reply text is ASCII (RFC 5321 §4.2.1; RFC 6531
 * §3.7.4 allows UTF-8 only in SMTPUTF8 sessions): textstring would make every U-label character "?".
 * A non-ASCII local part has no ASCII form and still shows as "?". Text without "@" is returned as it is.
 */
export function echoAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (at < 0 || !NOT_TEXT.test(domain)) return address;
  return `${address.slice(0, at + 1)}${asciiName(domain) ?? domain}`;
}

// A reply text names the problem and, where it helps the sender's admin, the rule behind it.
export const replies = {
  greeting: (host: string) => reply(220, undefined, `${host} ESMTP Postern`),
  closing: (host: string) => reply(221, '2.0.0', `${host} closing connection`),
  ok: () => reply(250, '2.0.0', 'Ok'),
  senderOk: () => reply(250, '2.1.0', 'Sender ok'),
  recipientOk: () => reply(250, '2.1.5', 'Recipient ok'),
  resetOk: () => reply(250, '2.0.0', 'Reset'),
  queued: (id: string) => reply(250, '2.0.0', `Ok: queued as ${id}`),
  chunkOk: (octets: number) => reply(250, '2.0.0', `${octets} octets received`),
  startData: () => reply(354, undefined, 'End data with <CR><LF>.<CR><LF>'),
  // RFC 3463: X.5.2 is a syntax error; X.0.0 says nothing about the address (X.1.5 would vouch for it).
  vrfyAmbiguous: () => reply(252, '2.0.0', 'Cannot VRFY user, but will accept message and attempt delivery'),
  // RFC 5321 §4.1.1.8: what this session takes, so a disabled VRFY or an AUTH not offered is not listed.
  help: (extra: readonly string[]) =>
    reply(214, '2.0.0', `See RFC 5321; commands: EHLO HELO MAIL RCPT DATA${extra.map((c) => ` ${c}`).join('')}`),
  vrfyFound: (address: string) => reply(250, '2.1.5', `<${echoAddress(address)}>`),
  readyForTls: () => reply(220, '2.0.0', 'Ready to start TLS'),
  authChallenge: (data: Buffer) => reply(334, undefined, data.toString('base64')),
  authOk: () => reply(235, '2.7.0', 'Authentication successful'),

  shuttingDown: (host: string) => reply(421, '4.3.2', `${host} service shutting down, try again later`),
  tooManyConnections: (host: string) => reply(421, '4.3.2', `${host} too many connections, try again later`),
  timeout: (host: string) => reply(421, '4.4.2', `${host} timeout exceeded, closing connection`),
  /** The data timeout's 421 (RFC 5321 §4.5.3.2.5, §3.8), saying which deadline the content missed. */
  dataTooSlow: (host: string, rate: number) =>
    reply(
      421,
      '4.4.2',
      `${host} timeout exceeded: message data slower than ${rate} octets a second, closing connection`,
    ),
  tooManyErrors: (host: string) => reply(421, '4.7.0', `${host} too many errors, closing connection`),
  outOfStep: (host: string) => reply(421, '4.5.0', `${host} lost track of the BDAT chunk's length, closing connection`),
  tooManyCommands: (host: string) => reply(421, '4.7.0', `${host} too many commands without a transaction`),
  localError: () => reply(451, '4.3.0', 'Local error in processing, try again later'),
  localErrorClosing: (host: string) => reply(421, '4.3.0', `${host} local error in processing, try again later`),
  storeUnavailable: () => reply(451, '4.3.0', 'Message store unavailable, try again later'),
  recipientTableEmpty: (address: string) =>
    reply(451, '4.3.0', `<${echoAddress(address)}>: Temporary lookup failure: the local recipient table is empty`),
  tooManyRecipients: (max: number) => reply(452, '4.5.3', `Too many recipients (at most ${max} per message)`),

  unknownCommand: () => reply(500, '5.5.1', 'Command unrecognized'),
  // RFC 5321 §4.2.2: 500 is a line no command can be read from; 501 is for a known command's arguments.
  emptyCommand: () => reply(500, '5.5.2', 'Syntax error: empty command line'),
  lineTooLong: () => reply(500, '5.5.2', 'Line too long (RFC 5321 section 4.5.3.1.4: 512 octets for a command)'),
  // RFC 4954 §4: a response longer than the server takes.
  authLineTooLong: () => reply(500, '5.5.6', 'Authentication Exchange line is too long'),
  bareLineEndingInCommand: () =>
    reply(500, '5.5.2', 'Bare CR or LF in command; lines must end with CRLF (RFC 5321 section 2.3.8)'),
  syntax: (what: string) => reply(501, '5.5.4', what),
  authBadBase64: () => reply(501, '5.5.2', 'Cannot decode the response: not base64 (RFC 4954 section 4)'),
  authAborted: () => reply(501, '5.0.0', 'Authentication aborted'),
  authFailed: () => reply(535, '5.7.8', 'Authentication credentials invalid'),
  authUnknownMechanism: (name: string) => reply(504, '5.5.4', `Unrecognized authentication type ${name}`),
  authNotAvailable: () => reply(503, '5.5.1', 'AUTH is not available here (it needs TLS on a submission port)'),
  authAlready: () => reply(503, '5.5.1', 'Already authenticated'),
  authInTransaction: () => reply(503, '5.5.1', 'AUTH is not allowed during a mail transaction'),
  authRequired: () => reply(530, '5.7.0', 'Authentication required'),
  tlsRequired: () => reply(530, '5.7.0', 'Must issue a STARTTLS command first'),
  tlsNotAvailable: () => reply(454, '4.7.0', 'TLS not available'),
  /** RFC 3207 on a listener without TLS: not a temporary problem, the client should not retry (Postfix: 502). */
  tlsNotConfigured: () => reply(502, '5.5.1', 'STARTTLS command not implemented: this listener has no TLS'),
  tlsAlready: () => reply(503, '5.5.1', 'TLS already active'),
  badPath: (what: string) => reply(501, '5.1.7', what),
  badRecipientPath: (what: string) => reply(501, '5.1.3', what),
  notImplemented: (cmd: string) => reply(502, '5.5.1', `${cmd} command not implemented`),
  vrfyDisabled: () => reply(502, '5.5.1', 'VRFY command is disabled'),
  needHelo: () => reply(503, '5.5.1', 'Send EHLO or HELO first'),
  needMail: () => reply(503, '5.5.1', 'Need MAIL command first'),
  nestedMail: () => reply(503, '5.5.1', 'Nested MAIL command; send RSET first'),
  mixedDataBdat: () => reply(503, '5.5.1', 'DATA and BDAT cannot be mixed in one transaction (RFC 3030 section 2)'),
  badSequence: (what: string) => reply(503, '5.5.1', what),
  noValidRecipients: () => reply(554, '5.5.1', 'No valid recipients'),
  unknownParameter: (name: string) => reply(555, '5.5.4', `Unsupported parameter ${name}`),
  /** RFC 5321 §4.1.1.11: a parameter we know, with a value we do not implement (Postfix: 555 5.5.4 too). */
  unsupportedParameterValue: (name: string, value: string) =>
    reply(555, '5.5.4', `Unsupported parameter value ${name}=${value}`),
  /** RFC 1869 §4 (RFC 5321 §2.2.1): service extensions exist only in a session opened with EHLO. */
  extensionNeedsEhlo: (what: string) =>
    reply(555, '5.5.4', `${what} is a service extension: greet with EHLO to use it`),
  bdatNeedsEhlo: () =>
    reply(502, '5.5.1', 'BDAT (CHUNKING, RFC 3030) is a service extension: greet with EHLO to use it'),
  tooBigDeclared: (max: number) => reply(552, '5.3.4', `Message size exceeds fixed maximum of ${max} octets`),
  tooBig: (max: number) => reply(552, '5.3.4', `Message size exceeds fixed maximum of ${max} octets`),
  /** RFC 3463 X.3.4: too big for the system, here its header section (src/mime/header-section.ts). */
  headerTooLarge: (why: string) => reply(552, '5.3.4', `Message header too large: ${why}`),
  /**
   * RFC 5322 §2.2.3: a line starting with white space continues the field before it; at the top of a
   * message that field would be our own trace (RFC 3463 X.6.0, a media error).
   */
  leadingFoldedLine: () =>
    reply(
      554,
      '5.6.0',
      'Message starts with a folded line (RFC 5322 section 2.2.3): there is no header field to continue',
    ),
  /** RFC 5321 §6.3 loop detection; RFC 3463 X.4.6 routing loop detected (Postfix: "Too many hops"). */
  tooManyHops: (hops: number) => reply(554, '5.4.6', `Too many hops (${hops} Received fields): mail loop`),
  /** RFC 1870 §6.1, RFC 3463 4.3.1: the server holds as much mail in memory as it may; the client retries. */
  contentMemoryFull: () =>
    reply(452, '4.3.1', 'Insufficient system resources: too much mail in transit, try again later'),
  /**
   * RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF. Refused at the end of the
   * content, so with a code DATA may end with (§4.3.2: 554) and RFC 3463 X.6.0, a media error; a 500
   * there says the command was not understood.
   */
  textLineTooLong: () =>
    reply(554, '5.6.0', 'Message has a line longer than 1000 octets (RFC 5321 section 4.5.3.1.6); message refused'),
  utf8NotDeclared: () =>
    reply(553, '5.6.7', 'Non-ASCII address requires the SMTPUTF8 parameter on MAIL (RFC 6531 section 3.4)'),
  bareLineEndingInData: () =>
    reply(
      550,
      '5.6.11',
      'Message contains bare CR or LF; lines must end with CRLF (RFC 5321 section 2.3.8); message refused',
    ),
  recipientsGone: () => reply(550, '5.1.1', 'Recipient mailbox no longer exists; message refused'),
  // RFC 3463 §3.3: X.2.0, other mailbox status; temporary, as the next RCPT will find the mailbox.
  recipientsRemade: () => reply(451, '4.2.0', 'Recipient mailbox made anew since RCPT; try again'),
  relayDenied: (address: string) => reply(554, '5.7.1', `<${echoAddress(address)}>: relay access denied`),
} as const;
