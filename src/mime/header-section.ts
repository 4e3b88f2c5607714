/**
 * The header section of an Internet message (RFC 5322 §2.1): the fields before the first empty
 * line, unfolded. Tolerant by design: bare LF line ends, 8-bit bytes (decoded as UTF-8 with
 * replacement characters) and lines that are not fields are accepted or skipped, never fatal.
 * Does not decode encoded-words (encoded-word.ts) or parse field bodies.
 */

export interface HeaderField {
  name: string; // as written, without trailing whitespace; compare case-insensitively
  value: string; // unfolded, surrounding whitespace removed
}

/** Headers past this size are ignored: a message without an empty line must not be read whole. */
export const MAX_HEADER_BYTES = 256 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Where the header section ends: at the first empty line (CRLF CRLF, or LF LF from bare-LF senders). */
export function headerSectionLength(content: Uint8Array, limit = MAX_HEADER_BYTES): number {
  const end = Math.min(content.byteLength, limit);
  if (content[0] === LF || (content[0] === CR && content[1] === LF)) return 0; // no header fields at all
  for (let i = 0; i < end; i++) {
    if (content[i] !== LF) continue;
    if (content[i + 1] === LF) return i + 1;
    if (content[i + 1] === CR && content[i + 2] === LF) return i + 1;
  }
  return end;
}

export function readHeaderFields(content: Uint8Array, limit = MAX_HEADER_BYTES): HeaderField[] {
  const text = utf8.decode(content.subarray(0, headerSectionLength(content, limit)));
  const fields: HeaderField[] = [];
  let current: { name: string; value: string } | undefined;
  for (const line of text.split(/\r?\n/)) {
    // RFC 5322 §2.2.3: a line starting with WSP continues the field above; unfolding removes only
    // the line break, so the WSP stays.
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current) current.value += line;
      continue;
    }
    if (current) fields.push(finish(current));
    current = startField(line);
  }
  if (current) fields.push(finish(current));
  return fields;
}

// RFC 5322 §2.2: field-name is printable US-ASCII except ":"; §4.5 (obsolete syntax) allows
// whitespace before the colon.
const FIELD_START = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/s;

function startField(line: string): { name: string; value: string } | undefined {
  const match = FIELD_START.exec(line);
  if (!match) return undefined; // not a field (an mbox "From " line, garbage): skipped
  return { name: match[1] ?? '', value: match[2] ?? '' };
}

function finish(field: { name: string; value: string }): HeaderField {
  return { name: field.name, value: field.value.replace(/^[ \t]+|[ \t]+$/g, '') };
}

/** The first field with this name (RFC 5322 §3.6 allows From, Subject, Date, Message-ID once). */
export function firstField(fields: readonly HeaderField[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  return fields.find((field) => field.name.toLowerCase() === wanted)?.value;
}
