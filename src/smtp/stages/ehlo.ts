/** The EHLO and HELO replies (RFC 5321 §4.1.1.1): our name, then the extensions we implement. */
import type { Reply } from '../replies.ts';

export function ehloReply(hostname: string, maxMessageSize: number): Reply {
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
    ],
  };
}

export function heloReply(hostname: string): Reply {
  return { code: 250, lines: [hostname] };
}
