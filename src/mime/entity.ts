/**
 * MIME entities on byte offsets (RFC 2045, RFC 2046): where an entity's header fields end and its
 * body starts, its fields, the parts of a multipart body, and the decoding of a body (transfer
 * encoding, then charset). Everything works on ranges of one buffer and copies only what it
 * decodes, which is what makes parseMessage (message.ts) fast; the banner rewriting
 * (src/filter/actions/mime-parts.ts) relies on the same ranges to keep unchanged bytes as they were.
 */

import { TextDecoder } from 'node:util';
import libmime from 'libmime';
import { DecoderCache } from './decoder-cache.ts';
import { HEADER_LIMITS, trimWsp } from './header-section.ts';

/** One header field as written: byte range (final line end included) and its unfolded value. */
export interface RawField {
  /** Lower case. */
  name: string;
  start: number;
  end: number;
  /** The field as written (latin1, one char per byte), without its final line end. */
  raw: string;
  /** After the colon, unfolded (RFC 5322 §2.2.3), surrounding whitespace removed. */
  value: string;
}

/** A header field as text: lower-case name and unfolded value. */
export interface HeaderField {
  name: string;
  value: string;
}

/** A structured field value (Content-Type, Content-Disposition) split into value and parameters. */
export interface HeaderValue {
  /** Lower case, e.g. `text/plain`. */
  value: string;
  /** Parameter names in lower case; RFC 2231 continuations joined and charsets decoded. */
  params: Record<string, string>;
  /** The parameters given in RFC 2231 form, already decoded: RFC 2047 decoding them again changes them. */
  decodedParams: readonly string[];
}

const LF = 0x0a;
const CR = 0x0d;
const EQUALS = 0x3d;
const COLON = 0x3a;

/** The line end the message uses, from its first line: CRLF, or LF from bare-LF senders. */
export function lineEndOf(message: Buffer): '\r\n' | '\n' {
  const lf = message.indexOf(LF);
  return lf > 0 && message[lf - 1] === CR ? '\r\n' : '\n';
}

/** Where an entity's fields end and its body starts: at the first empty line (RFC 5322 §2.1). */
export function splitEntity(message: Buffer, start: number, end: number): { fieldsEnd: number; bodyStart: number } {
  if (message[start] === LF) return { fieldsEnd: start, bodyStart: start + 1 }; // no fields at all
  if (message[start] === CR && message[start + 1] === LF) return { fieldsEnd: start, bodyStart: start + 2 };
  for (let i = message.indexOf(LF, start); i >= 0 && i < end; i = message.indexOf(LF, i + 1)) {
    if (message[i + 1] === LF && i + 1 < end) return { fieldsEnd: i + 1, bodyStart: i + 2 };
    if (message[i + 1] === CR && message[i + 2] === LF && i + 2 < end) return { fieldsEnd: i + 1, bodyStart: i + 3 };
  }
  return { fieldsEnd: end, bodyStart: end };
}

/** Where an entity's header section ends for reading its content (parseMessage), per entityHeader. */
export interface EntityHeader {
  /** Where the fields end: at the empty line, at `end` without one, or where the reading stopped. */
  fieldsEnd: number;
  /** Past the empty line; `end` without one. */
  bodyStart: number;
  /** The first line before fieldsEnd that is neither a field nor a continuation; undefined when none is. */
  firstNonField: number | undefined;
  /** The section is past the limits: fieldsEnd is where the reading stopped, within them. */
  excess: boolean;
}

/**
 * The header section of an entity, for reading (splitEntity is for rewriting, and the SMTP side's).
 * HEADER_LIMITS bound every entity, not only the top level: a part's header read whole made a 25 MB
 * header one synchronous parse. Lines that are not fields are noted (`firstNonField`) rather than
 * ending the section: readers differ on them (Python's email starts the body there, with a
 * MissingHeaderBodySeparatorDefect; Thunderbird and postal-mime skip them), and the caller reads both.
 */
export function entityHeader(
  message: Buffer,
  start: number,
  end: number,
  limits: { fields: number; bytes: number } = HEADER_LIMITS,
): EntityHeader {
  const within = message.subarray(0, end); // Buffer#indexOf would look past the entity for a line end
  let firstNonField: number | undefined;
  let fields = 0;
  for (let line = start; line < end; ) {
    if (message[line] === LF) return { fieldsEnd: line, bodyStart: line + 1, firstNonField, excess: false };
    if (message[line] === CR && message[line + 1] === LF) {
      return { fieldsEnd: line, bodyStart: line + 2, firstNonField, excess: false };
    }
    const lineEnd = within.indexOf(LF, line);
    const next = lineEnd < 0 ? end : lineEnd + 1;
    if (next - start > limits.bytes || (!isContinuation(message[line]) && ++fields > limits.fields)) {
      return { fieldsEnd: line, bodyStart: line, firstNonField, excess: true };
    }
    const fieldStart = line === start && hasByteOrderMark(message, line) ? line + 3 : line;
    if (firstNonField === undefined && !isContinuation(message[line]) && !startsField(message, fieldStart, next)) {
      firstNonField = line;
    }
    line = next;
  }
  return { fieldsEnd: end, bodyStart: end, firstNonField, excess: false };
}

/** RFC 5322 §2.2.3: a line starting with WSP continues the field above. */
function isContinuation(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
}

function hasByteOrderMark(message: Buffer, at: number): boolean {
  return message[at] === 0xef && message[at + 1] === 0xbb && message[at + 2] === 0xbf;
}

/**
 * RFC 5322 §2.2: a field starts with its name, printable US-ASCII but ":", then the colon; §4.5.3 allows
 * WSP before it. Python's email also takes an mbox "From " line for a header line, so an .eml saved
 * from an mbox keeps its header.
 */
export function startsField(message: Buffer, at: number, stop: number): boolean {
  let i = at;
  while (i < stop && (message[i] as number) >= 0x21 && (message[i] as number) <= 0x7e && message[i] !== COLON) i++;
  if (i === at) return false;
  if (i - at === 4 && message[i] === 0x20 && message.toString('latin1', at, i) === 'From') return true;
  while (i < stop && (message[i] === 0x20 || message[i] === 0x09)) i++;
  return i < stop && message[i] === COLON;
}

/** The fields with their byte ranges, for rewriting a header section in place. */
export function readRawFields(message: Buffer, start: number, end: number): RawField[] {
  const fields: RawField[] = [];
  let at = start;
  while (at < end) {
    let lineEnd = message.indexOf(LF, at);
    lineEnd = lineEnd < 0 || lineEnd >= end ? end : lineEnd + 1;
    const first = message[at];
    const last = fields.at(-1);
    // RFC 5322 §2.2.3: a line that starts with WSP continues the field above.
    if ((first === 0x20 || first === 0x09) && last) last.end = lineEnd;
    else fields.push({ name: '', start: at, end: lineEnd, raw: '', value: '' });
    at = lineEnd;
  }
  for (const field of fields) {
    field.raw = message.toString('latin1', field.start, field.end).replace(/\r?\n$/, '');
    const colon = field.raw.indexOf(':');
    field.name = colon < 0 ? '' : field.raw.slice(0, colon).trim().toLowerCase(); // §4.5.3: WSP before ":"
    field.value =
      colon < 0
        ? ''
        : field.raw
            .slice(colon + 1)
            .replace(/\r?\n/g, '')
            .trim();
  }
  return fields;
}

/**
 * The fields as text, for reading. Raw 8-bit header text is read as UTF-8 (RFC 6532 §3.2), as
 * readers do; invalid sequences become U+FFFD. Lines without a colon are skipped. `latin1` reads one
 * character a byte instead, for a value whose bytes must be had back (a multipart's boundary).
 */
export function readFields(
  message: Buffer,
  start: number,
  end: number,
  encoding: 'utf8' | 'latin1' = 'utf8',
): HeaderField[] {
  const fields: HeaderField[] = [];
  if (end <= start) return fields;
  // A byte order mark before the first field is not part of its name (as readFirstFields reads it).
  const section = message.toString(encoding, hasByteOrderMark(message, start) ? start + 3 : start, end);
  const lines = section.split('\n');
  let name = '';
  let value = '';
  for (const line of lines) {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    const first = text.charCodeAt(0);
    // RFC 5322 §2.2.3: unfolding removes the line break and keeps the whitespace after it. A line
    // starting with WSP continues a field and never starts one: with no field open it is skipped,
    // as the listing's reader (readFirstFields) skips it, so the filters and the listing read one From.
    if (first === 0x20 || first === 0x09) {
      if (name) value += text;
      continue;
    }
    if (name) fields.push({ name, value: trimWsp(value) });
    const colon = text.indexOf(':');
    name = colon > 0 ? trimWsp(text.slice(0, colon)).toLowerCase() : '';
    value = colon > 0 ? text.slice(colon + 1) : '';
  }
  if (name) fields.push({ name, value: trimWsp(value) });
  return fields;
}

/**
 * Content-Type and Content-Disposition values longer than this, or with more parameters, are read
 * without their parameters. Real ones stay far below (a 255-character file name in RFC 2231 form:
 * under 3 KB in some 30 segments). libmime's reading grows faster than the value (a part whose 25 MB
 * Content-Type held RFC 2231 parameters held the event loop for 16 seconds) and costs some 0.2 ms a
 * KB even so; a message has at most 1,000 parts, so bounding each value bounds the message.
 */
export const STRUCTURED_VALUE_LIMITS = { length: 8 * 1024, parameters: 100 } as const;

/**
 * Content-Type or Content-Disposition (RFC 2045 §5.1, RFC 2183 §2) with RFC 2231 parameter
 * continuations and charsets; libmime does all of that. RFC 2045 §5.1 allows comments in these
 * structured fields (RFC 822 §3.4.3): they are removed, so that `multipart/mixed; (c) boundary=b`
 * names its boundary and `charset=koi8-r (Cyrillic)` its charset.
 */
export function parseHeaderValue(value: string): HeaderValue {
  if (value.length > STRUCTURED_VALUE_LIMITS.length || parameterCount(value) > STRUCTURED_VALUE_LIMITS.parameters) {
    // Not libmime's reading, but not none either: padding a value past the limit must not hide a
    // multipart's boundary or an attachment's file name from the filters, as mail programs read both.
    return coarseHeaderValue(value);
  }
  // RFC 2231 §4: in an extended value "%" starts an escape only before two hex digits; libmime would
  // turn a stray one ("%ZZ") into "=ZZ". Escaped first, it comes out as the "%" that was written.
  const escaped = value.includes('%')
    ? value.replace(
        // `; name*=` or `; name*0*=` and its unquoted value (an ext-value is never a quoted-string).
        /(;\s*[^\s=;"]+\*=)([^;"]*)/g,
        (_, sign: string, text: string) => sign + text.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'),
      )
    : value;
  const parsed = libmime.parseHeaderValue(escaped, { stripComments: true });
  return {
    value: (parsed.value ?? '').toLowerCase(),
    params: parsed.params ?? {},
    decodedParams: parsed.decodedParams ?? [],
  };
}

/** The parameters coarseHeaderValue() reads from an over-long value: what parts and attachments are named by. */
const COARSE_PARAMETERS = new Set(['boundary', 'charset', 'name', 'filename']);
/**
 * Continuation segments joined per parameter (RFC 2231 §3): the first and the highest-numbered ones.
 * The end of a file name is its extension, what its type is judged by: keeping the first 100 made
 * `filename*0="a"; …; filename*120=".exe"` a name of 100 a's, and the program went unjudged.
 */
const MAX_SEGMENTS = 100;

/**
 * An over-long Content-Type or Content-Disposition read in one linear pass: the type, and boundary,
 * charset, name and filename, quoted (RFC 2045 §5.1) or not, with RFC 2231 continuations (§3) joined
 * and extended values (§4) decoded. Comments and other parameters are skipped.
 */
function coarseHeaderValue(value: string): HeaderValue {
  const type = /^[ \t]*([^\s;(]+)/.exec(value.slice(0, 256));
  const segments = new Map<string, Map<number, Segment>>();
  const parameter =
    /;[ \t]*(?:\([^()]{0,256}\)[ \t]*)?([A-Za-z0-9_.-]{1,64})(?:\*(\d{1,9}))?(\*)?[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^;\s"]*)/g;
  for (let match = parameter.exec(value); match !== null; match = parameter.exec(value)) {
    const name = (match[1] as string).toLowerCase();
    if (!COARSE_PARAMETERS.has(name)) continue;
    const raw = match[4] as string;
    const text = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    const parts = segments.get(name) ?? new Map<number, Segment>();
    segments.set(name, parts);
    const index = match[2] === undefined ? 0 : Number(match[2]);
    // RFC 2231 §3 numbers each segment once: of a repeated number the first counts.
    if (!parts.has(index)) parts.set(index, { text, extended: match[3] !== undefined });
  }
  const params: Record<string, string> = {};
  const decodedParams: string[] = [];
  for (const [name, parts] of segments) {
    const all = [...parts.entries()].sort(([a], [b]) => a - b).map(([, part]) => part);
    // The first segment names the charset (RFC 2231 §4); the last ones hold the extension.
    const ordered = all.length > MAX_SEGMENTS ? [all[0] as Segment, ...all.slice(1 - MAX_SEGMENTS)] : all;
    const first = ordered[0];
    if (!first?.extended) {
      params[name] = ordered.map((part) => part.text).join('');
      continue;
    }
    // RFC 2231 §4: charset'language'percent-encoded octets in the first segment, octets after it.
    const quote = first.text.indexOf("'");
    const second = quote < 0 ? -1 : first.text.indexOf("'", quote + 1);
    const charset = second < 0 ? 'utf-8' : first.text.slice(0, quote) || 'utf-8';
    const octets = ordered.map((part, i) => (i === 0 && second >= 0 ? part.text.slice(second + 1) : part.text));
    const bytes = Buffer.from(
      octets
        .map((text, i) => (ordered[i]?.extended ? text : encodeURIComponent(text)))
        .join('')
        .replace(/%(?![0-9A-Fa-f]{2})/g, '%25'),
      'latin1',
    );
    params[name] = (charsetDecoder(charset) ?? new TextDecoder()).decode(percentDecoded(bytes));
    decodedParams.push(name);
  }
  return { value: (type?.[1] ?? '').toLowerCase(), params, decodedParams };
}

interface Segment {
  text: string;
  /** Written `name*n*=`: percent-encoded octets (RFC 2231 §4). */
  extended: boolean;
}

/** "%XX" escapes as octets; the rest as it is. */
function percentDecoded(text: Buffer): Buffer {
  const out = Buffer.alloc(text.length);
  let written = 0;
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === 0x25 ? text.toString('latin1', i + 1, i + 3) : '';
    if (hex.length === 2 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[written++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      out[written++] = text[i] as number;
    }
  }
  return out.subarray(0, written);
}

/** At most: a ";" inside a quoted string is counted too. */
function parameterCount(value: string): number {
  let count = 0;
  for (let at = value.indexOf(';'); at >= 0; at = value.indexOf(';', at + 1)) count++;
  return count;
}

/** Content-Transfer-Encoding's mechanism, lower case; '7bit' when absent (RFC 2045 §6.1). */
export function transferEncodingOf(value: string | undefined): string {
  if (!value) return '7bit';
  // The first token outside comments (RFC 5322 §3.2.2: they nest, and a quoted-pair escapes a
  // parenthesis), in one pass: `\([^)]*\)` rescanned the rest of the value for every "(" left open, and
  // this runs for every part (200 KB of them took 40 s).
  let depth = 0;
  let token = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '(') {
      if (token !== '') break;
      depth = 1;
    } else if (/[\w-]/.test(c)) token += c;
    else if (token !== '') break;
  }
  return token ? token.toLowerCase() : '7bit';
}

const DASHES = Buffer.from('--');

/**
 * Byte ranges of the parts between the delimiter lines, RFC 2046 §5.1.1. Text before the first
 * delimiter (preamble) and after the close delimiter (epilogue) is not a part; without a close
 * delimiter the last part runs to the end. At most maxParts ranges are returned.
 */
export function bodyParts(
  message: Buffer,
  start: number,
  end: number,
  boundary: string | Uint8Array,
  maxParts = Number.POSITIVE_INFINITY,
): [number, number][] {
  // A string is one character a byte, as readRawFields reads the header; bytes are taken as they are.
  const delimiter =
    typeof boundary === 'string' ? Buffer.from(`--${boundary}`, 'latin1') : Buffer.concat([DASHES, boundary]);
  // §5.1.1: the delimiters of a multipart lie inside it. Searching the whole message instead made a
  // message of many small multiparts before a large part cost (multiparts × size): seconds a message.
  const within = message.subarray(0, end);
  const parts: [number, number][] = [];
  let partStart = -1;
  for (let at = within.indexOf(delimiter, start); at >= 0; at = within.indexOf(delimiter, at + 1)) {
    if (at !== start && message[at - 1] !== LF) continue; // §5.1.1: a delimiter starts a line
    let after = at + delimiter.length;
    // Only the range's own octets are read: §5.1.1 gives the line end before a delimiter to that
    // delimiter, so past `end` lie the line end and delimiter of the multipart around this one.
    const close = after + 2 <= end && message[after] === 0x2d && message[after + 1] === 0x2d;
    if (close) after += 2;
    // §5.1.1: a delimiter, and a close delimiter too, is followed only by transport padding (LWSP)
    // and the line end. Taking "--b--x" for the close hid every part after it from the filters.
    while (after < end && (message[after] === 0x20 || message[after] === 0x09)) after++;
    let lineEnd = true;
    if (after + 1 < end && message[after] === CR && message[after + 1] === LF) after += 2;
    else if (after < end && message[after] === LF) after += 1;
    else if (after < end)
      continue; // a longer line that starts with the boundary
    else lineEnd = false;
    // §5.1.1: the line end before a delimiter belongs to the delimiter, not to the part.
    if (partStart >= 0) parts.push([partStart, Math.max(partStart, at - (message[at - 2] === CR ? 2 : 1))]);
    // §5.1.1: a body part begins after a delimiter line's CRLF. A delimiter at the very end of the range,
    // with none after it (an inner multipart never closed, "--i" right before the outer "\r\n--o"),
    // opens no part: it ends the multipart as a close delimiter does. The empty part it had opened got
    // the banner's header fields written straight after "--i", on the delimiter line.
    if (close || !lineEnd || parts.length >= maxParts) return parts;
    partStart = Math.min(after, end);
  }
  if (partStart >= 0) parts.push([partStart, end]); // no close delimiter: the part runs to the end
  return parts;
}

/** The body's bytes with its transfer encoding undone; undefined for an encoding we do not know. */
export function decodeTransferEncoding(body: Buffer, encoding: string): Buffer | undefined {
  switch (encoding) {
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return decodeBase64(body);
    default:
      return undefined;
  }
}

/**
 * RFC 2045 §6.7. Tolerant as readers are: an "=" not followed by two hex digits or a line end is
 * kept as written (§6.7 note 1 allows that), and hex digits may be lower case.
 */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  let at = body.indexOf(EQUALS);
  if (at < 0) return body;
  const out = Buffer.allocUnsafe(body.length);
  let written = body.copy(out, 0, 0, at);
  const end = body.length;
  while (at < end) {
    const byte = body[at] as number;
    if (byte !== EQUALS) {
      out[written++] = byte;
      at++;
      continue;
    }
    const high = hexValue(body[at + 1]);
    const low = high < 0 ? -1 : hexValue(body[at + 2]);
    if (low >= 0) {
      out[written++] = (high << 4) | low;
      at += 3;
      continue;
    }
    // §6.7 rule 5: "=" at the end of a line (trailing whitespace allowed, rule 3) is a soft break.
    let next = at + 1;
    while (body[next] === 0x20 || body[next] === 0x09) next++;
    if (body[next] === CR && body[next + 1] === LF) at = next + 2;
    else if (body[next] === LF) at = next + 1;
    else if (next >= end) at = end;
    else {
      out[written++] = byte;
      at++;
    }
  }
  return out.subarray(0, written);
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * RFC 2045 §6.8: characters outside the alphabet are ignored. Padding in the middle (senders that
 * encode each line on its own) ends a unit, and decoding goes on after it rather than stopping.
 */
export function decodeBase64(body: Buffer): Buffer {
  let text = body.toString('latin1');
  // Node also reads base64url's "-" and "_", which here are junk (a list footer, a delimiter).
  if (text.includes('-') || text.includes('_')) text = text.replace(/[-_]+/g, '');
  const pad = text.indexOf('=');
  if (pad < 0 || !/[A-Za-z0-9+/]/.test(text.slice(pad))) return Buffer.from(text, 'base64');
  return decodeBase64Units(body);
}

const BASE64_VALUES = (() => {
  const values = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/**
 * Base64 whose padding comes in the middle: each "=" run ends a unit, whose last partial quantum gives
 * what whole bytes it holds, and other characters are skipped, as Node decodes each unit. One pass:
 * decoding every unit apart cost 120 ms a megabyte when "=" followed every quartet.
 */
export function decodeBase64Units(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((body.length * 3) / 4));
  let written = 0;
  let bits = 0;
  let count = 0; // characters in the quantum under way
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    const value = BASE64_VALUES[byte] as number;
    if (value >= 0) {
      bits = (bits << 6) | value;
      if (++count === 4) {
        out[written++] = (bits >> 16) & 0xff;
        out[written++] = (bits >> 8) & 0xff;
        out[written++] = bits & 0xff;
        bits = 0;
        count = 0;
      }
    } else if (byte === 0x3d && count > 0) {
      // RFC 4648 §4: "=" completes the quantum; 2 characters hold one byte, 3 hold two.
      if (count === 2) out[written++] = (bits >> 4) & 0xff;
      else if (count === 3) {
        out[written++] = (bits >> 10) & 0xff;
        out[written++] = (bits >> 2) & 0xff;
      }
      bits = 0;
      count = 0;
    }
  }
  if (count === 2) out[written++] = (bits >> 4) & 0xff;
  else if (count === 3) {
    out[written++] = (bits >> 10) & 0xff;
    out[written++] = (bits >> 2) & 0xff;
  }
  return out.subarray(0, written);
}

export const bodyDecoders = new DecoderCache();

/**
 * The charset a Content-Type's `charset` parameter names, without surrounding whitespace; undefined for
 * none, and for an empty or blank value (`charset=""`), which names no charset either (RFC 2045 §5.1
 * allows the empty quoted-string, RFC 2046 §4.1.2 gives charsets no such name). Code that must know
 * whether a charset was named (the banner's, src/filter/actions/mime-parts.ts) asks this first:
 * charsetDecoder reads both as UTF-8.
 */
export function charsetLabel(charset: string | undefined): string | undefined {
  const label = charset?.trim();
  return label === '' ? undefined : label;
}

/**
 * A decoder for the charset, or undefined when neither the label nor libmime's normalised name
 * for it (cp1251 → windows-1251, ks_c_5601-1987 → EUC-KR) is one TextDecoder knows. No charset, or a
 * blank label, is read as UTF-8, as readers do (decodeCharset).
 */
export function charsetDecoder(charset: string | undefined): TextDecoder | undefined {
  const label = (charsetLabel(charset) ?? 'utf-8').toLowerCase();
  return bodyDecoders.get(label, (known) => tryDecoder(known) ?? tryDecoder(libmime.normalizeCharset(known)));
}

/**
 * RFC 2781 §4.3: text labelled UTF-16 is in the order its byte order mark says, and big-endian
 * without one; the WHATWG label "utf-16" that TextDecoder follows means little-endian whatever the mark.
 */
export function byteOrderLabel(charset: string | undefined, bytes: Uint8Array): string | undefined {
  if (charset === undefined || !/^\s*utf-?16\s*$/i.test(charset)) return charset;
  return bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : 'utf-16be';
}

function tryDecoder(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label);
  } catch {
    return undefined;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const windows1252 = new TextDecoder('windows-1252');

/**
 * Text in the charset. Undeclared text is read as UTF-8, as readers do (RFC 2046 §4.1.2 says
 * US-ASCII, which UTF-8 contains), with U+FFFD for invalid sequences. Text in a charset we do not
 * know (unknown-8bit, DEFAULT_CHARSET, GB2312_CHARSET) is read as UTF-8 when it is valid UTF-8
 * and as windows-1252 otherwise, which maps every byte (postal-mime does the latter): a Latin
 * text then keeps its letters rather than becoming U+FFFD, and its ASCII words reach the filters
 * either way.
 */
export function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  const decoder = charsetDecoder(byteOrderLabel(charset, bytes));
  if (decoder) return decoder.decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return windows1252.decode(bytes);
  }
}
