/**
 * The message as DKIM reads it (RFC 6376 §3.4, §5.4): the header section split into fields with their raw
 * text, folds kept, and the body, from one Buffer in memory. Field texts are 'latin1' strings, one char per
 * octet, so canonicalization works on octets without decoding them.
 *
 * The field boundaries are read exactly as mailauth reads them (lib/tools.js parseHeaders), because ARC
 * (arc/, on mailauth) and DMARC compare against that reading: a line is a new field when it looks like one
 * (`name:`), anything else continues the field above (wider than the CRLF WSP fold of RFC 5322 §2.2.3).
 *
 * Line endings: mail reaches us with CRLF (the SMTP engine rejects or normalizes bare CR and LF). For any
 * other input a bare LF is read as CRLF, as mailauth's parser rewrites it, so the results stay the same.
 */

import { Buffer } from 'node:buffer';
import { trimWsp } from '../../mime/header-section.ts';

export interface HeaderField {
  /** Lower-case field name (RFC 5322 §3.6.8; ASCII letters only are folded); null for a line opening with ":". */
  key: string | null;
  /** The whole field, name to the end of its last line, folds kept as CRLF, no final CRLF. */
  line: string;
}

export interface Message {
  fields: HeaderField[];
  /** The body (after the empty line); a bare LF in it is not yet read as CRLF: see withCrlf(). */
  body: Buffer;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');

/** RFC 5322 §2.1: the header section ends at the first empty line; without one the message is all header. */
export function readMessage(bytes: Buffer): Message {
  if (bytes[0] === 0x0d && bytes[1] === 0x0a) return { fields: [], body: bytes.subarray(2) }; // empty header section
  const end = bytes.indexOf(CRLF_CRLF);
  const header = bytes.toString('latin1', 0, end < 0 ? bytes.length : end + 4);
  if (hasBareLf(header)) return readMessage(withCrlf(bytes)); // not from our SMTP engine: rare
  return { fields: parseFields(header), body: end < 0 ? bytes.subarray(bytes.length) : bytes.subarray(end + 4) };
}

/** The body with every bare LF read as CRLF (mailauth's ensureLinebreaks); mail off the wire has none. */
export function withCrlf(body: Buffer): Buffer {
  const text = body.toString('latin1');
  // the octet before the body is the header section's LF, so a leading LF is bare too
  return hasBareLf(text) ? Buffer.from(text.replace(BARE_LF, '\r\n'), 'latin1') : body;
}

const BARE_LF = /(?<!\r)\n/g;

function hasBareLf(text: string): boolean {
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) {
    if (at === 0 || text.charCodeAt(at - 1) !== 0x0d) return true;
  }
  return false;
}

/** RFC 5322 §3.6.8 field-name (printable ASCII but ":"), then optional white space or a fold, then ":". */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t\r\n]*:/;

/** The header section (CRLF line endings) as fields, bottom-up as mailauth merges continuation lines. */
function parseFields(header: string): HeaderField[] {
  let length = header.length;
  while (length > 0 && (header.charCodeAt(length - 1) === 0x0a || header.charCodeAt(length - 1) === 0x0d)) length--;
  const text = header.slice(0, length);
  if (text === '') return [];
  const lines = text.split('\r\n');
  const fields: HeaderField[] = [];
  let end = lines.length; // lines[i, end) is the field being gathered
  for (let i = lines.length - 1; i >= 0; i--) {
    if (i > 0 && !startsField(lines[i] as string, i + 1 < end ? lines[i + 1] : undefined)) continue;
    const line = end === i + 1 ? (lines[i] as string) : lines.slice(i, end).join('\r\n');
    fields.push({ key: fieldKey(line), line });
    end = i;
  }
  return fields.reverse();
}

/** Only the line and the one after it decide: a fold can put the colon no further than the next line. */
function startsField(line: string, next: string | undefined): boolean {
  // FIELD_START's first character, checked first: a folded line (SP or HTAB) fails both tests here,
  // without the joined string the second one would build.
  const first = line.charCodeAt(0);
  if (first < 0x21 || first > 0x7e || first === 0x3a) return false;
  return FIELD_START.test(line) || (next !== undefined && FIELD_START.test(`${line}\r\n${next}`));
}

function fieldKey(line: string): string | null {
  const colon = line.indexOf(':');
  if (colon === 0) return null;
  let name = colon < 0 ? line : line.slice(0, colon);
  if (name.includes('\n')) name = name.replace(/\r?\n/g, '');
  return lowerCaseAscii(trimWsp(name));
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * ASCII letters only: String#toLowerCase would also fold the latin1 chars 0xC0–0xDE (octets of UTF-8
 * sequences) and merge distinct names (RFC 6376 §3.4.2 lowercases the field name, an ASCII token).
 */
export function lowerCaseAscii(value: string): string {
  return NON_ASCII.test(value) ? value.replace(/[A-Z]/g, (c) => c.toLowerCase()) : value.toLowerCase();
}

/** A field's text as UTF-8 (RFC 6532), the way tag values and addresses are read; ASCII stays as it is. */
export function utf8(line: string): string {
  return NON_ASCII.test(line) ? Buffer.from(line, 'latin1').toString('utf8') : line;
}
