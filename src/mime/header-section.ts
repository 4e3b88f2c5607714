/**
 * The header section of an Internet message (RFC 5322 §2.1): the fields before the first empty
 * line, unfolded. Tolerant by design: bare LF line ends, 8-bit bytes (decoded as UTF-8 with
 * replacement characters) and lines that are not fields are accepted or skipped, never fatal.
 * Does not decode encoded-words (encoded-word.ts) or parse field bodies.
 */

/** Headers past this size are ignored: a message without an empty line must not be read whole. */
export const MAX_HEADER_BYTES = 256 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** Where the header section ends: at the first empty line (CRLF CRLF, or LF LF from bare-LF senders). */
export function headerSectionLength(content: Uint8Array, limit = MAX_HEADER_BYTES): number {
  const end = Math.min(content.byteLength, limit);
  if (isEmptyLine(content, 0)) return 0; // no header fields at all
  for (let i = indexOfByte(content, LF, 0); i >= 0 && i < end; i = indexOfByte(content, LF, i + 1)) {
    if (content[i + 1] === LF) return i + 1;
    if (content[i + 1] === CR && content[i + 2] === LF) return i + 1;
  }
  return end;
}

/**
 * What an inbound message's header section may hold: 1,000 fields and 256 KiB (the limit Microsoft's
 * Exchange Online sets on a header). Every stage reads the header whole, DKIM, DMARC's From, the
 * filters and the store's listing, at a few microseconds a field: 100,000 one-line fields in 1 MB held
 * the server, every session included, for 0.7 s, where a 1 MB ordinary message takes 0.02 s. Real mail
 * carries a few dozen fields. `hops`: RFC 5321 §6.3 detects a mail loop by counting Received fields,
 * with a threshold of "at least 100".
 */
export const HEADER_LIMITS = { fields: 1000, bytes: MAX_HEADER_BYTES, hops: 100 } as const;

export type HeaderExcess = { limit: 'fields' | 'bytes' | 'hops'; value: number };

/**
 * Why the header section is past HEADER_LIMITS, or undefined when it is not. Reads at most
 * `limits.bytes` + 2 octets: a section without an empty line before then is too large.
 */
export function headerSectionExcess(
  content: Uint8Array,
  limits: { fields: number; bytes: number; hops: number } = HEADER_LIMITS,
): HeaderExcess | undefined {
  if (isEmptyLine(content, 0)) return undefined;
  const end = Math.min(content.byteLength, limits.bytes + 2);
  let fields = 1;
  let hops = isReceived(content, 0) ? 1 : 0;
  let ended = false; // by the empty line, or by the end of a message without a body
  for (let i = indexOfByte(content, LF, 0); i >= 0 && i < end; i = indexOfByte(content, LF, i + 1)) {
    const next = content[i + 1];
    ended = next === undefined || next === LF || (next === CR && content[i + 2] === LF);
    if (ended) break;
    if (next === SP || next === HTAB) continue; // a folded line of the same field
    if (++fields > limits.fields) return { limit: 'fields', value: fields };
    if (isReceived(content, i + 1)) hops++;
  }
  if (hops >= limits.hops) return { limit: 'hops', value: hops };
  return !ended && content.byteLength > limits.bytes ? { limit: 'bytes', value: limits.bytes } : undefined;
}

const RECEIVED = new TextEncoder().encode('received');

/** Whether the field at `start` is a Received field (its name case-insensitive, WSP before the colon allowed). */
function isReceived(content: Uint8Array, start: number): boolean {
  for (let k = 0; k < RECEIVED.length; k++) {
    if (!sameAsciiFolded(content[start + k] ?? 0, RECEIVED[k] as number)) return false;
  }
  let at = start + RECEIVED.length;
  while (content[at] === SP || content[at] === HTAB) at++;
  return content[at] === COLON;
}

/** Whether the line at `start` is empty: LF, or CR LF. */
function isEmptyLine(content: Uint8Array, start: number): boolean {
  return content[start] === LF || (content[start] === CR && content[start + 1] === LF);
}

/**
 * A plain loop: a header line is a few dozen bytes, and both TypedArray#indexOf and Buffer#indexOf
 * cross into C++ for each line, which costs more than the loop.
 */
function indexOfByte(content: Uint8Array, byte: number, from: number): number {
  for (let i = from; i < content.length; i++) if (content[i] === byte) return i;
  return -1;
}

/**
 * The first value of each of `names` (lower-case), without making strings of the other fields: a
 * mailbox listing wants four fields of the twenty or so a message carries, and every stored message
 * pays for the reading. RFC 5322 §2.2: a field-name is printable US-ASCII but ":", compared
 * case-insensitively; §4.5 allows white space before the colon. §2.2.3: lines starting with WSP
 * continue the field, and unfolding removes only the line break. The value is decoded as UTF-8
 * (replacement characters for bad bytes) and trimmed of SP and HTAB; lines that are not fields
 * are skipped. test/support/header-fields.ts holds the same reading written plainly, which the tests
 * compare this one with.
 */
export function readFirstFields(
  content: Uint8Array,
  names: readonly string[],
  limit = MAX_HEADER_BYTES,
): Map<string, string> {
  const found = new Map<string, string>();
  // One pass: the section ends at the first empty line (as headerSectionLength finds it) or at the
  // limit, and a reading that has found every name stops before either, so the end is not sought first.
  const end = Math.min(content.byteLength, limit);
  if (isEmptyLine(content, 0)) return found;
  // A byte order mark before the first field is not part of its name.
  let line = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? 3 : 0;
  while (line < end && found.size < names.length) {
    if (line > 0 && content[line - 1] === LF && isEmptyLine(content, line)) break;
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
    found.set(name.name, trimWsp(parts.join('')));
  }
  return found;
}

const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** Only SP and HTAB are white space around a field (RFC 5322 §2.2); String#trim takes U+00A0 etc. too. */
export function trimWsp(text: string): string {
  let from = 0;
  let to = text.length;
  while (from < to && (text.charCodeAt(from) === SP || text.charCodeAt(from) === HTAB)) from++;
  while (to > from && (text.charCodeAt(to - 1) === SP || text.charCodeAt(to - 1) === HTAB)) to--;
  return text.slice(from, to);
}

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
