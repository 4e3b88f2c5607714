/**
 * How a password is prepared before it is hashed or checked, one rule for every mechanism: SASLprep
 * (RFC 4013), which RFC 4616 §2 asks of PLAIN servers and RFC 5802 §2.2 of SCRAM clients and servers.
 * A SCRAM client derives its proof from the prepared password, so the stored secrets must come from
 * the same form, and PLAIN (and LOGIN) must then accept what SCRAM accepts: "ﬁ" and "fi", a no-break
 * space and a space, a soft hyphen or none, are one password whatever the client logs in with.
 *
 * @mongodb-js/saslprep (MIT) carries the RFC 3454 tables; unassigned code points are allowed, as for
 * stored strings in practice. A password SASLprep prohibits (a control character) is normalized
 * (NFKC, the heart of SASLprep) rather than refused, so no existing password stops working.
 */

import { createRequire } from 'node:module';
import { parseAddress } from './address.ts';

type SaslPrep = (input: string, options?: { allowUnassigned?: boolean }) => string;
let saslprep: SaslPrep | undefined;

/**
 * A login name as every mechanism reads it: SASLprep, as for passwords (RFC 4616 §2 asks it of PLAIN's
 * authcid, RFC 5802 §5.1 of SCRAM's username), then the normal form of address.ts, the one accounts are
 * stored under and RCPT TO and MAIL FROM look them up by: lower case, the domain in A-labels, and
 * "alice"@example.com read as alice@example.com. One rule, so a name that logs in by SCRAM logs in by
 * PLAIN, and one account is one key for the failed-login count however its name is written: quoting it
 * anew must not buy a guesser a fresh count. A name that is no address names no account: lower case only.
 */
export function prepareLoginName(name: string): string {
  const prepared = preparePassword(name);
  // RFC 5321 §4.1.2: a quoted local part whose content a dot-string can carry is that dot-string.
  const address = parseAddress(prepared);
  return address.ok ? address.address : prepared.toLowerCase();
}

/**
 * Why SASLprep refuses the password (RFC 4013 §2.3 prohibited output, §2.4 bidi), or undefined: for a
 * new password, which a strict SCRAM client (RFC 5802 §2.2) would refuse to prepare and so never log in
 * with, however PLAIN fares.
 */
export function saslPrepRefusal(password: string): string | undefined {
  if (/^[\x20-\x7e]*$/.test(password)) return undefined;
  saslprep ??= createRequire(import.meta.url)('@mongodb-js/saslprep') as SaslPrep;
  const prep = saslprep;
  const throws = (text: string) => {
    try {
      prep(text, { allowUnassigned: true });
      return false;
    } catch {
      return true;
    }
  };
  // The library also throws for a text that maps to nothing (a soft hyphen alone), which RFC 4013
  // §2.1 maps away and does not prohibit: it was blamed for a password's private-use character. A
  // letter before it keeps the text from emptying.
  const refused = (text: string) => throws(text) && throws(`a${text}`);
  if (!refused(password)) return undefined;
  for (const char of password) {
    if (refused(char)) {
      const code = `U+${char.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`;
      return `it holds ${code}, a character SASLprep prohibits (RFC 4013 §2.3)`;
    }
  }
  return 'right-to-left letters must begin and end it, with no left-to-right letter (RFC 4013 §2.4, RFC 3454 §6)';
}

export function preparePassword(password: string): string {
  // Printable ASCII is its own SASLprep (no mapping, NFKC or prohibition touches it): most passwords
  // never load the tables, which cost the server about 9 MB of memory.
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  saslprep ??= createRequire(import.meta.url)('@mongodb-js/saslprep') as SaslPrep;
  try {
    return saslprep(password, { allowUnassigned: true });
  } catch {
    return password.normalize('NFKC');
  }
}
