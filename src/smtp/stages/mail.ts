/** MAIL parameters (RFC 5321 §4.1.1.2) for the extensions we offer: SIZE, BODY, SMTPUTF8. */
import type { Params, Path } from '../path.ts';
import { type Reply, replies } from '../replies.ts';

export interface MailParameters {
  declaredSize: number | undefined;
  body: '7BIT' | '8BITMIME';
  smtputf8: boolean;
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
  for (const [key, value] of params) {
    switch (key) {
      case 'SIZE': // RFC 1870 §6
        if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return replies.syntax('Syntax: SIZE=<octets>');
        declaredSize = Number(value);
        if (declaredSize > maxSize) return replies.tooBigDeclared(maxSize);
        break;
      case 'BODY': {
        // RFC 6152 §2; BINARYMIME (RFC 3030 §3) is not offered.
        const kind = typeof value === 'string' ? value.toUpperCase() : '';
        if (kind !== '7BIT' && kind !== '8BITMIME') return replies.syntax('Syntax: BODY=7BIT or BODY=8BITMIME');
        body = kind;
        break;
      }
      case 'SMTPUTF8': // RFC 6531 §3.4: no value
        if (value !== true) return replies.syntax('Syntax: SMTPUTF8 takes no value');
        smtputf8 = true;
        break;
      case 'AUTH':
        // RFC 4954 §5: the original submitter, which a submission server may ignore; we keep the login's.
        if (!authOffered) return replies.unknownParameter(key);
        if (typeof value !== 'string') return replies.syntax('Syntax: AUTH=<mailbox> or AUTH=<>');
        break;
      default:
        return replies.unknownParameter(key); // RFC 5321 §4.1.1.11: 555 for unrecognized parameters
    }
  }
  if (path?.utf8 && !smtputf8) return replies.utf8NotDeclared();
  return { declaredSize, body, smtputf8 };
}
