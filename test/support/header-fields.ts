/**
 * The header section read the plain way (RFC 5322 §2.1, §2.2): every field, unfolded and trimmed.
 * src/mime/header-section.ts readFirstFields() reads only the fields it is asked for, faster; the
 * tests compare the two, and read what the filter's actions write with this one.
 */
import { headerSectionLength, MAX_HEADER_BYTES } from '../../src/mime/header-section.ts';

export interface HeaderField {
  name: string; // as written, without trailing whitespace; compare case-insensitively
  value: string; // unfolded, surrounding whitespace removed
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

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
