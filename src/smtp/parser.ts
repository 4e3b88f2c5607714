/**
 * SMTP command lines (RFC 5321 §4.1.1) into typed commands. Knows syntax only: sequencing and
 * limits are the session's. The line arrives without its CRLF, already checked for length and
 * bare line endings by the session.
 */
import { BDAT_LINE } from './command-line.ts';
import { asciiUpperCase, type Params, type Path, parseParams, parsePath } from './path.ts';
import { type Reply, replies } from './replies.ts';

export type Command =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; path: Path | null; params: Params }
  | { verb: 'RCPT'; path: Path; params: Params }
  | { verb: 'DATA' | 'RSET' | 'QUIT' | 'NOOP' | 'HELP' }
  /** `refusal`: the size was read but not the rest; the chunk is read and discarded with this reply. */
  | { verb: 'BDAT'; size: number; last: boolean; refusal?: Reply }
  | { verb: 'VRFY'; argument: string }
  | { verb: 'STARTTLS' }
  /** RFC 4954 §4: the mechanism, and an initial response: undefined when absent, empty for "=". */
  /** `initial` null: an initial response that is not base64, refused only once the mechanism is known (RFC 4954 §4). */
  | { verb: 'AUTH'; mechanism: string; initial: Buffer | undefined | null }
  | { verb: 'NOT_IMPLEMENTED'; name: string }
  | { verb: 'INVALID'; reply: Reply /** the session cannot stay in step (a bad BDAT) */; fatal?: boolean };

const NOT_IMPLEMENTED = new Set(['EXPN', 'TURN', 'ETRN', 'ATRN', 'SEND', 'SOML', 'SAML']);
/** What follows a verb that takes no arguments: nothing, or spaces (never a tab). */
const NOTHING = /^ *$/;

export function parseCommand(line: string): Command {
  const space = line.indexOf(' ');
  // RFC 5321 §4.1.1, RFC 5234 §2.3: verbs are ASCII, case-insensitive in ASCII only.
  const verb = asciiUpperCase(space < 0 ? line : line.slice(0, space));
  const args = space < 0 ? '' : line.slice(space + 1);
  switch (verb) {
    case 'EHLO':
    case 'HELO': {
      // RFC 5321 §4.1.1.1: the argument is required; its validity is a policy question (reject_invalid_helo_hostname).
      const domain = args.trim();
      if (domain === '' || /\s/.test(domain)) return invalid(replies.syntax(`Syntax: ${verb} hostname`));
      // RFC 5321 §4.1.2: a Domain or an address literal, never a control character. Refused here, whatever
      // the helo restrictions hold: an admin's own list without reject_invalid_helo_hostname let
      // "mx.example.com\0" past reject_helo_own_identity and check_helo_access.
      if (/[\x00-\x1f\x7f]/.test(domain))
        return invalid(replies.syntax(`Syntax: ${verb} hostname (no control characters)`));
      return { verb, domain };
    }
    case 'MAIL':
      return parseMail(args);
    case 'RCPT':
      return parseRcpt(args);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
      // RFC 5321 §4.1.1.4, §4.1.1.5, §4.1.1.10: no arguments; trailing spaces are not one (Postfix takes them).
      if (!NOTHING.test(args)) return invalid(replies.syntax(`Syntax: ${verb} takes no arguments`));
      return { verb };
    case 'NOOP': // RFC 5321 §4.1.1.9: an argument is allowed and ignored.
    case 'HELP': // §4.1.1.8
      return { verb };
    case 'BDAT':
      return parseBdat(args);
    case 'VRFY':
      if (args.trim() === '') return invalid(replies.syntax('Syntax: VRFY address'));
      return { verb, argument: args };
    case 'STARTTLS': // RFC 3207 §4: no parameters
      if (!NOTHING.test(args)) return invalid(replies.syntax('Syntax: STARTTLS takes no parameters'));
      return { verb };
    case 'AUTH':
      return parseAuth(args);
    case '':
      if (BDAT_LINE.test(line)) return invalidBdat(); // " BDAT 5": its client sends the 5 octets next
      return invalid(replies.emptyCommand());
    default:
      if (NOT_IMPLEMENTED.has(verb)) return { verb: 'NOT_IMPLEMENTED', name: verb };
      if (BDAT_LINE.test(line)) return invalidBdat(); // "BDAT<HTAB>5": as fatal as any other bad BDAT
      return invalid(replies.unknownCommand());
  }
}

function invalid(reply: Reply, fatal = false): Command {
  return fatal ? { verb: 'INVALID', reply, fatal } : { verb: 'INVALID', reply };
}

/** Strips "FROM:"/"TO:", allowing spaces after the colon: a common client habit Postfix also accepts. */
function afterKeyword(args: string, keyword: string): string | undefined {
  if (asciiUpperCase(args.slice(0, keyword.length)) !== keyword) return undefined;
  return args.slice(keyword.length).replace(/^ +/, '');
}

function parseMail(args: string): Command {
  const rest = afterKeyword(args, 'FROM:');
  if (rest === undefined) return invalid(replies.syntax('Syntax: MAIL FROM:<address> [parameters]'));
  const parsed = parsePath(rest, true);
  if (!parsed.ok) return invalid(replies.badPath(parsed.problem));
  const params = parseParams(parsed.rest);
  if (typeof params === 'string') return invalid(replies.syntax(params));
  return { verb: 'MAIL', path: parsed.path, params };
}

function parseRcpt(args: string): Command {
  const rest = afterKeyword(args, 'TO:');
  if (rest === undefined) return invalid(replies.syntax('Syntax: RCPT TO:<address> [parameters]'));
  // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain must be accepted.
  const postmaster = /^<postmaster>( |$)/i.exec(rest);
  if (postmaster) {
    const params = parseParams(rest.slice(postmaster[0].length).trimStart());
    if (typeof params === 'string') return invalid(replies.syntax(params));
    const path: Path = { localPart: 'postmaster', domain: '', address: 'postmaster', utf8: false };
    return { verb: 'RCPT', path, params };
  }
  const parsed = parsePath(rest, false);
  if (!parsed.ok) return invalid(replies.badRecipientPath(parsed.problem));
  const params = parseParams(parsed.rest);
  if (typeof params === 'string') return invalid(replies.syntax(params));
  return { verb: 'RCPT', path: parsed.path!, params };
}

/**
 * RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]. Trailing spaces are allowed, as after QUIT, DATA
 * or a MAIL's parameters: refused, they would cost a client that adds them its message. A line whose size
 * cannot be read loses the byte count, so it is fatal; one whose size can be read but not the rest
 * ("BDAT 5  LAST") is refused, its chunk read and discarded, and the session stays in step.
 */
function parseBdat(args: string): Command {
  // chunk-size = 1*DIGIT: leading zeros say nothing, so only the digits after them are bounded (Number
  // is exact to 15 digits).
  const size = /^ *0*(\d{1,15})(?=[ \t]|$)/.exec(args);
  if (!size) return invalidBdat();
  const m = /^0*\d{1,15}( LAST)? *$/i.exec(args);
  if (!m) return { verb: 'BDAT', size: Number(size[1]), last: false, refusal: bdatSyntax() };
  return { verb: 'BDAT', size: Number(size[1]), last: m[1] !== undefined };
}

function bdatSyntax(): Reply {
  return replies.syntax('Syntax: BDAT chunk-size [LAST]');
}

function invalidBdat(): Command {
  return invalid(bdatSyntax(), true);
}

/** RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response], the response base64 or "=" for empty. */
function parseAuth(args: string): Command {
  const m = /^([A-Za-z0-9_-]{1,20})(?: (\S+))?$/.exec(args);
  if (!m) return invalid(replies.syntax('Syntax: AUTH mechanism [initial-response]'));
  const mechanism = m[1]!.toUpperCase();
  if (m[2] === undefined) return { verb: 'AUTH', mechanism, initial: undefined };
  if (m[2] === '=') return { verb: 'AUTH', mechanism, initial: Buffer.alloc(0) };
  // Not refused here: TLS, the session's state and an unknown mechanism (504) come first.
  return { verb: 'AUTH', mechanism, initial: decodeBase64(m[2]) ?? null };
}

/** Strict base64 (RFC 4648 §4): a client that sends anything else is out of step. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}
