/**
 * The summary a mailbox listing shows, read from the header section only (RFC 5322 §2.1): From,
 * Subject, Date and Message-ID, with RFC 2047 encoded-words decoded. It never throws: garbage in
 * gives empty strings and nulls out.
 */

import { parseDateTime } from './date.ts';
import { decodeEncodedWords } from './encoded-word.ts';
import { readFirstFields } from './header-section.ts';

/** RFC 5322 §2.1.1's line limit, reused as a cap: a listing needs no more, and rows stay small. */
const MAX_TEXT = 998;

const SUMMARY_FIELDS = ['from', 'subject', 'date', 'message-id'];

/** The header facts a mailbox listing shows; the stores keep them beside the content. */
export interface MessageSummary {
  from: string;
  subject: string;
  date: Date | null; // the Date: header; null when absent or unparsable
  messageId: string | null;
}

export function summarize(content: Uint8Array): MessageSummary {
  try {
    const fields = readFirstFields(content, SUMMARY_FIELDS);
    const date = fields.get('date');
    return {
      // RFC 2047 §5: encoded-words may stand in Subject (unstructured text) and in the display
      // name of From, never in an address (decodedFrom).
      from: displayText(decodedFrom(fields.get('from') ?? '')),
      subject: displayText(decodeEncodedWords(fields.get('subject') ?? '')),
      date: date === undefined ? null : parseDateTime(date),
      messageId: messageIdOf(fields.get('message-id')),
    };
  } catch {
    return { from: '', subject: '', date: null, messageId: null }; // a bug must not lose the message
  }
}

/**
 * RFC 2047 §5 (3): an encoded-word never stands in an addr-spec. So only what precedes the last
 * angle-addr is decoded, and a bare address is left as written: `=?utf-8?Q?ceo=40bank.example?=@evil.example`
 * must not read as ceo@bank.example@evil.example.
 */
function decodedFrom(value: string): string {
  const angle = value.lastIndexOf('<');
  return angle < 0 ? value : decodeEncodedWords(value.slice(0, angle)) + value.slice(angle);
}

/**
 * Decoded text may hold anything, even CR LF from "=0D=0A": control characters become spaces so
 * nothing downstream can mistake them for a line break or a header.
 */
function displayText(text: string): string {
  // C1 controls too: U+009B and U+009D act as CSI and OSC on many terminals (ECMA-48 §5.3).
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, ' ').trim();
  return clean.length > MAX_TEXT ? Array.from(clean).slice(0, MAX_TEXT).join('') : clean;
}

/** RFC 5322 §3.6.4 msg-id = "<" id-left "@" id-right ">"; brackets kept, as IMAP ENVELOPE shows it. */
function messageIdOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const bracketed = /<[^<>\s]+>/.exec(value)?.[0];
  const id = displayText(bracketed ?? value.split(/\s/)[0] ?? '');
  return id === '' ? null : id;
}
