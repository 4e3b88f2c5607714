/** The EHLO and HELO replies (RFC 5321 §4.1.1.1): our name, then the extensions we implement. */
import type { Reply } from '../replies.ts';

export interface Offers {
  /** RFC 3207: offered on a plaintext connection of a listener with a certificate. */
  starttls: boolean;
  /** RFC 4954: the SASL mechanisms, only over TLS on submission; empty offers none. */
  auth: readonly string[];
}

export function ehloReply(
  hostname: string,
  maxMessageSize: number,
  offers: Offers = { starttls: false, auth: [] },
): Reply {
  return {
    code: 250,
    lines: [
      hostname,
      'PIPELINING', // RFC 2920
      `SIZE ${maxMessageSize}`, // RFC 1870
      '8BITMIME', // RFC 6152
      'SMTPUTF8', // RFC 6531
      'ENHANCEDSTATUSCODES', // RFC 2034
      'CHUNKING', // RFC 3030
      ...(offers.starttls ? ['STARTTLS'] : []),
      ...(offers.auth.length > 0 ? [`AUTH ${offers.auth.join(' ')}`] : []),
    ],
  };
}

export function heloReply(hostname: string): Reply {
  return { code: 250, lines: [hostname] };
}
