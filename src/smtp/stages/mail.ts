/** MAIL parameters (RFC 5321 §4.1.1.2) for the extensions we offer: SIZE, BODY, SMTPUTF8, AUTH. */
import { asciiUpperCase, type Params, type Path } from '../path.ts';
import { type Reply, replies } from '../replies.ts';

export interface MailParameters {
  declaredSize: number | undefined;
  body: '7BIT' | '8BITMIME';
  smtputf8: boolean;
  /** AUTH= (RFC 4954 §5), xtext decoded; undefined when not given. */
  authAuthor: string | undefined;
}

export function checkMailParameters(
  path: Path | null,
  params: Params,
  maxSize: number,
  authOffered = false,
): MailParameters | Reply {
  let declaredSize: number | undefined;
  let body: '7BIT' | '8BITMIME' = '7BIT';
  let smtputf8 = false;
  let authAuthor: string | undefined;
  for (const [key, value] of params) {
    switch (key) {
      case 'SIZE': // RFC 1870 §6
        if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return replies.syntax('Syntax: SIZE=<octets>');
        declaredSize = Number(value);
        if (declaredSize > maxSize) return replies.tooBigDeclared(maxSize);
        break;
      case 'BODY': {
        // RFC 6152 §2; the value is ASCII, case-insensitive in ASCII only (RFC 5234 §2.3).
        const kind = typeof value === 'string' ? asciiUpperCase(value) : '';
        // RFC 5321 §4.1.1.11: 555 for a value we know but do not implement; BINARYMIME (RFC 3030 §3)
        // is not offered. Any other value is no BODY value at all: a syntax error.
        if (kind === 'BINARYMIME') return replies.unsupportedParameterValue(key, kind);
        if (kind !== '7BIT' && kind !== '8BITMIME') return replies.syntax('Syntax: BODY=7BIT or BODY=8BITMIME');
        body = kind;
        break;
      }
      case 'SMTPUTF8': // RFC 6531 §3.4: no value
        if (value !== true) return replies.syntax('Syntax: SMTPUTF8 takes no value');
        smtputf8 = true;
        break;
      case 'AUTH':
        // RFC 4954 §5: the original submitter, which a submission server may ignore; we keep the login's
        // as the sender and pass this on to milters only ({auth_author}).
        if (!authOffered) return replies.unknownParameter(key);
        authAuthor = typeof value === 'string' ? decodeXtext(value) : undefined;
        if (authAuthor === undefined) return replies.syntax('Syntax: AUTH=<mailbox> or AUTH=<>, as xtext');
        break;
      default:
        return replies.unknownParameter(key); // RFC 5321 §4.1.1.11: 555 for unrecognized parameters
    }
  }
  if (path?.utf8 && !smtputf8) return replies.utf8NotDeclared();
  return { declaredSize, body, smtputf8, authAuthor };
}

/**
 * RFC 3461 §4 xtext: printable ASCII but "+" and "=", and "+" with two hex digits for any other
 * octet. Undefined when the text is empty or not xtext. Lower-case hex digits are read too (the RFC asks
 * for upper case; Postfix's xtext_unquote reads either).
 */
export function decodeXtext(text: string): string | undefined {
  if (!/^(?:[!-*,-<>-~]|\+[0-9A-Fa-f]{2})+$/.test(text)) return undefined;
  if (!text.includes('+')) return text;
  const octets = text.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(octets, 'latin1').toString('utf8'); // RFC 6531 §3.3: a mailbox may be UTF-8
}
