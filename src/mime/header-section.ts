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
  for (let i = indexOfByte(content, LF, 0); i >= 0 && i < end; i = indexOfByte(content, LF, i + 1)) {
    if (content[i + 1] === LF) return i + 1;
    if (content[i + 1] === CR && content[i + 2] === LF) return i + 1;
  }
  return end;
}

/**
 * TypedArray's own indexOf, also for a Buffer: Buffer#indexOf goes through a C++ binding that costs
 * more than it saves on lines of a few dozen bytes.
 */
const typedIndexOf = Uint8Array.prototype.indexOf;
function indexOfByte(content: Uint8Array, byte: number, from: number): number {
  return typedIndexOf.call(content, byte, from);
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

/**
 * The first value of each of `names` (lower-case), read as readHeaderFields() + firstField() would
 * read it, without making strings of the other fields: a mailbox listing wants four fields of the
 * twenty or so a message carries, and every stored message pays for the reading.
 */
export function readFirstFields(
  content: Uint8Array,
  names: readonly string[],
  limit = MAX_HEADER_BYTES,
): Map<string, string> {
  const found = new Map<string, string>();
  const end = headerSectionLength(content, limit);
  // readHeaderFields decodes the section in one piece, which drops a leading byte order mark.
  let line = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? 3 : 0;
  while (line < end && found.size < names.length) {
    const next = lineEnd(content, line, end);
    const name = fieldNameAt(content, line, next, names, found);
    if (name === undefined) {
      line = next + 1;
      continue;
    }
    // RFC 5322 §2.2.3: the field goes on while lines start with WSP; unfolding drops only CRLF.
    let valueEnd = next;
    const parts = [decodeLine(content, name.valueStart, next, end)];
    for (line = next + 1; line < end && (content[line] === SP || content[line] === HTAB); line = valueEnd + 1) {
      valueEnd = lineEnd(content, line, end);
      parts.push(decodeLine(content, line, valueEnd, end));
    }
    found.set(name.name, parts.join('').replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return found;
}

const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** The index of the LF ending the line at `start`, or `end` when the section stops first. */
function lineEnd(content: Uint8Array, start: number, end: number): number {
  const at = indexOfByte(content, LF, start);
  return at < 0 || at >= end ? end : at;
}

/** Pieces of one text: a byte order mark inside it is a character, not a mark to drop. */
const utf8Piece = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The line's text without its line break (`stop` is its LF, or `end`): split(/\r?\n/) drops a CR before the LF. */
function decodeLine(content: Uint8Array, start: number, stop: number, end: number): string {
  const last = stop < end && stop > start && content[stop - 1] === CR ? stop - 1 : stop;
  return utf8Piece.decode(content.subarray(start, last));
}

/** Which of `names` (not yet found) the line at `start` opens, per FIELD_START, and where its value begins. */
function fieldNameAt(
  content: Uint8Array,
  start: number,
  lf: number,
  names: readonly string[],
  found: ReadonlyMap<string, string>,
): { name: string; valueStart: number } | undefined {
  const first = (content[start] as number) | 0x20; // ASCII letters only: other octets never match
  for (const name of names) {
    if (name.charCodeAt(0) !== first || found.has(name) || start + name.length >= lf) continue;
    let i = 0;
    while (i < name.length && sameAsciiFolded(content[start + i] as number, name.charCodeAt(i))) i++;
    if (i < name.length) continue;
    let at = start + i;
    while (at < lf && (content[at] === SP || content[at] === HTAB)) at++;
    if (content[at] === COLON && at < lf) return { name, valueStart: at + 1 };
  }
  return undefined;
}

/** `octet` is `lower` (a lower-case name's char) or, for a letter, its capital. */
function sameAsciiFolded(octet: number, lower: number): boolean {
  return octet === lower || (lower >= 0x61 && lower <= 0x7a && octet === lower - 0x20);
}

/** The first field with this name (RFC 5322 §3.6 allows From, Subject, Date, Message-ID once). */
export function firstField(fields: readonly HeaderField[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  return fields.find((field) => field.name.toLowerCase() === wanted)?.value;
}
