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

type SaslPrep = (input: string, options?: { allowUnassigned?: boolean }) => string;
let saslprep: SaslPrep | undefined;

/**
 * A login name as every mechanism reads it: SASLprep, as for passwords (RFC 4616 §2 asks it of PLAIN's
 * authcid, RFC 5802 §5.1 of SCRAM's username), then lower case: accounts are addresses, compared
 * case-insensitively (address.ts). One rule, so a name that logs in by SCRAM logs in by PLAIN.
 */
export function prepareLoginName(name: string): string {
  return preparePassword(name).toLowerCase();
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
