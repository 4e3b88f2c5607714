/**
 * The body text parts of a raw message (RFC 2045, RFC 2046) and their rewriting, for the actions
 * that change what the user reads (the warning banner). Works on byte offsets into the message so
 * that everything not rewritten — other headers, other parts, boundaries, preamble and epilogue —
 * stays byte-identical. Only finds and re-encodes parts; what goes into them is the caller's.
 * Not a general MIME parser: content inspection uses src/mime/message.ts.
 */

import { randomBytes } from 'node:crypto';
import libqp from 'libqp';
import {
  bodyParts,
  byteOrderLabel,
  charsetDecoder,
  charsetLabel,
  decodeTransferEncoding,
  lineEndOf,
  parseHeaderValue,
  type RawField,
  readRawFields,
  splitEntity,
  transferEncodingOf,
} from '../../mime/entity.ts';

// The generic entity code lives in src/mime/entity.ts; the other actions import it from here.
export { bodyParts, lineEndOf, type RawField, readRawFields, splitEntity };

export interface TextPart {
  subtype: 'plain' | 'html';
  /** Where the part's header fields start and end; bodyStart is past the empty line. */
  headerStart: number;
  fieldsEnd: number;
  bodyStart: number;
  bodyEnd: number;
  fields: RawField[];
  /** Undefined when the Content-Type names none, or names it with an empty or blank value. */
  charset: string | undefined;
  /** Content-Transfer-Encoding, lower case; '7bit' when absent (RFC 2045 §6.1). */
  encoding: string;
  /** The message's own header section, not a body part. */
  topLevel: boolean;
}

/** Deeper nesting is left alone (mail bombs of nested multiparts). */
const MAX_DEPTH = 32;
const LF = 0x0a;
const CR = 0x0d;

interface Entity {
  headerStart: number;
  fieldsEnd: number;
  bodyStart: number;
  end: number;
  fields: RawField[];
  type: string;
  params: Record<string, string>;
  attachment: boolean;
}

function readEntity(message: Buffer, start: number, end: number, defaultType = 'text/plain'): Entity {
  const { fieldsEnd, bodyStart } = splitEntity(message, start, end);
  const fields = readRawFields(message, start, fieldsEnd);
  const contentType = fields.find((f) => f.name === 'content-type')?.value;
  const parsed = parseHeaderValue(contentType ?? defaultType); // RFC 2045 §5.2
  const disposition = fields.find((f) => f.name === 'content-disposition')?.value ?? '';
  return {
    headerStart: start,
    fieldsEnd,
    bodyStart: Math.min(bodyStart, end),
    end,
    fields,
    type: (parsed.value || defaultType).toLowerCase(),
    params: parsed.params,
    attachment: /^\s*attachment\b/i.test(disposition),
  };
}

export interface BodyTextParts {
  parts: TextPart[];
  /**
   * Why the body could not be reached, when a multipart on the way to it was signed or encrypted
   * (RFC 1847: changing it would break the signature) or nested past MAX_DEPTH.
   */
  sealed?: string;
}

/**
 * The text parts a reader shows as the message body, in order. In multipart/alternative every
 * alternative is a body; in multipart/mixed only the first part that holds one, since later inline
 * text parts (list footers, text after an inline image) are shown below it (RFC 2046 §5.1.3); in
 * multipart/related the root (RFC 2387 §3.2). Attachments and embedded messages (message/rfc822)
 * are the sender's content, not the body. Signed and encrypted multiparts are not entered (`sealed`),
 * nor an alternative shown in place of our text parts (`sealed` too: the message is wrapped).
 */
export function findBodyTextParts(message: Buffer): BodyTextParts {
  const found: BodyTextParts = { parts: [] };
  collect(message, readEntity(message, 0, message.length), 0, found);
  return found;
}

function collect(message: Buffer, entity: Entity, depth: number, found: BodyTextParts): boolean {
  if (entity.attachment) return false;
  if (entity.type === 'text/plain' || entity.type === 'text/html') {
    found.parts.push({
      subtype: entity.type === 'text/plain' ? 'plain' : 'html',
      headerStart: entity.headerStart,
      fieldsEnd: entity.fieldsEnd,
      bodyStart: entity.bodyStart,
      bodyEnd: entity.end,
      fields: entity.fields,
      // `charset=""` names no charset (charsetLabel): its 8-bit text is kept as it is, not read as UTF-8.
      charset: charsetLabel(entity.params.charset),
      // RFC 2045 §6.1 with what readers take: a comment, trailing junk, an empty value (7bit).
      encoding: transferEncodingOf(entity.fields.find((f) => f.name === 'content-transfer-encoding')?.value),
      topLevel: depth === 0,
    });
    return true;
  }
  const boundary = entity.params.boundary;
  if (!entity.type.startsWith('multipart/') || !boundary) return false;
  if (entity.type === 'multipart/signed' || entity.type === 'multipart/encrypted' || depth >= MAX_DEPTH) {
    found.sealed ??= depth >= MAX_DEPTH ? `multiparts nested deeper than ${MAX_DEPTH}` : entity.type;
    return false;
  }
  // RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message/rfc822.
  const defaultType = entity.type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
  const parts = bodyParts(message, entity.bodyStart, entity.end, boundary);
  if (entity.type === 'multipart/alternative') return collectAlternatives(message, parts, depth, found);
  const start = entity.type === 'multipart/related' ? contentId(entity.params.start ?? '') : '';
  if (start !== '') {
    let root: Entity | undefined;
    for (const [from, to] of parts) {
      const part = readEntity(message, from, to, defaultType);
      if (contentId(fieldValue(part, 'content-id')) === start) {
        root = part;
        break;
      }
    }
    if (root !== undefined) {
      const shown = collect(message, root, depth + 1, found);
      // A reader that does not follow `start` shows the first part: that one gets the banner too.
      const [from, to] = parts[0]!;
      if (from === root.headerStart) return shown;
      return collect(message, readEntity(message, from, to, defaultType), depth + 1, found) || shown;
    }
  }
  // Read one at a time: a multipart of many parts is mostly past the first that holds text.
  for (const [from, to] of parts) {
    if (collect(message, readEntity(message, from, to, defaultType), depth + 1, found)) return true;
  }
  return false;
}

function fieldValue(entity: Entity, name: string): string {
  return entity.fields.find((f) => f.name === name)?.value ?? '';
}

/**
 * A Content-ID (RFC 2045 §7, a msg-id of RFC 5322 §3.6.4) as compared with a `start` parameter,
 * which RFC 2387 §3.2 makes the root's Content-ID: angle brackets and whitespace off, as readers
 * take it written without them too. No `start`, or none naming a part: the root is the first part
 * (RFC 2387 §3.2), here the first that holds text.
 */
function contentId(value: string): string {
  // Sliced, not matched: `^<\s*(.*?)\s*>$` rescanned a run of folded spaces once per position.
  const id = value.trim();
  return id.startsWith('<') && id.endsWith('>') && id.length >= 2 ? id.slice(1, -1).trim() : id;
}

/**
 * RFC 2046 §5.1.4: a reader shows one alternative, the last it can display. The last plain and the
 * last HTML text carry the banner, read from the end: one for each of 120,000 empty alternatives
 * had made a 1 MB message hundreds of megabytes, and reading each one's header took long too. An
 * alternative after them that holds neither (text/enriched, text/calendar, an image) may be the one
 * shown, without the banner: `sealed` says so, and the message is wrapped instead.
 */
function collectAlternatives(message: Buffer, parts: [number, number][], depth: number, found: BodyTextParts): boolean {
  const kept: TextPart[] = [];
  for (let i = parts.length - 1; i >= 0 && kept.length < 2; i--) {
    const [start, end] = parts[i]!;
    const alternative = readEntity(message, start, end);
    const held: BodyTextParts = { parts: [] };
    collect(message, alternative, depth + 1, held);
    if (held.sealed !== undefined) found.sealed ??= held.sealed;
    if (kept.length === 0 && held.parts.length === 0 && held.sealed === undefined) {
      found.sealed ??= `a ${alternative.type} alternative after the text, which readers show in its place`;
      return false;
    }
    for (const part of held.parts.reverse()) {
      if (!kept.some((k) => k.subtype === part.subtype)) kept.unshift(part);
    }
  }
  kept.sort((a, b) => a.headerStart - b.headerStart);
  found.parts.push(...kept);
  return kept.length > 0;
}

/**
 * A part's text as the banner code edits it. `opaque`: the charset is one we cannot read and the
 * bytes are not UTF-8, so the text holds the octets one char each (latin1) and may only gain ASCII.
 */
export interface PartText {
  text: string;
  opaque: boolean;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Charsets whose ASCII-looking bytes do not mean ASCII, which TextDecoder cannot read: UTF-7's "+"
 * starts base64 (RFC 2152), ISO-2022-KR/CN (RFC 1557, RFC 1922) and HZ (RFC 1843) switch to
 * double-byte text with escapes, UTF-32 and UCS-4 hold NUL bytes. Neither re-encoding them as UTF-8
 * nor adding ASCII to their bytes keeps the text readable. (ISO-2022-JP TextDecoder reads.)
 */
const ASCII_UNSAFE_CHARSET =
  /^(?:(?:x-)?(?:unicode-1-1-)?utf-?7(?:-imap)?|utf-?32(?:be|le)?|ucs-?4|iso-10646-ucs-4|iso-2022-(?:kr|cn(?:-ext)?)|csiso2022kr|hz-gb-2312)$/i;

/**
 * The part's text, or undefined when it cannot be edited without changing what it says: a transfer
 * encoding or charset we cannot read and whose bytes are no ASCII-compatible text.
 */
export function decodeTextPart(message: Buffer, part: TextPart): PartText | undefined {
  const bytes = decodeTransferEncoding(message.subarray(part.bodyStart, part.bodyEnd), part.encoding);
  if (bytes === undefined) return undefined;
  // No charset in Content-Type: RFC 2046 §4.1.2 says US-ASCII, but 8-bit text without one is common (a
  // reader shows it in its own fallback charset). HTML may name it in a <meta> (HTML 5 §4.2.5.4).
  // Otherwise only text that is valid UTF-8 is read as such; other bytes are kept as they are (opaque),
  // never turned into U+FFFD.
  const declared = declaredCharset(part, bytes);
  if (declared === undefined) return utf8OrOpaque(bytes);
  if (ASCII_UNSAFE_CHARSET.test(declared.trim())) return undefined;
  const decoder = charsetDecoder(byteOrderLabel(declared, bytes));
  // WHATWG Encoding §14.5: x-user-defined is no charset but "whatever the font has": its upper half
  // decodes to private-use characters (U+F780-U+F7FF) that re-encoded mean nothing. Its lower half
  // is ASCII, so the bytes are kept as they are, as for a charset we do not know.
  if (decoder?.encoding === 'x-user-defined') return { text: Buffer.from(bytes).toString('latin1'), opaque: true };
  // Not fatal: an invalid sequence shows as U+FFFD in every reader anyway, and refusing it would
  // let one bad byte keep the warning out of a phishing message.
  if (decoder !== undefined) return { text: decoder.decode(bytes), opaque: false };
  // An unknown label over NUL bytes (UTF-16 or UTF-32 under another name) or ESC sequences (another
  // ISO 2022 charset) is no ASCII-compatible text either.
  if (bytes.includes(0) || bytes.includes(0x1b)) return undefined;
  // A charset label we do not know (aliases such as cp1251 are mapped by charsetDecoder) must not
  // keep the warning out either: text that is valid UTF-8, ASCII included, is read as UTF-8; other
  // bytes are kept as they are, and the banner added to them is ASCII, which the ASCII-compatible
  // charsets of mail (ISO 8859, KOI8, Windows, EUC, Shift_JIS, GB …) all read.
  return utf8OrOpaque(bytes);
}

function utf8OrOpaque(bytes: Uint8Array): PartText {
  try {
    return { text: strictUtf8.decode(bytes), opaque: false };
  } catch {
    return { text: Buffer.from(bytes).toString('latin1'), opaque: true };
  }
}

/** The charset the part's text is in: Content-Type's, or for HTML the one a <meta> near its start names. */
function declaredCharset(part: TextPart, bytes: Uint8Array | string): string | undefined {
  if (part.charset !== undefined || part.subtype !== 'html') return part.charset;
  const head =
    typeof bytes === 'string'
      ? bytes.slice(0, META_SEARCH)
      : Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, META_SEARCH)).toString('latin1');
  return /<meta\b[^<>]*?\bcharset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
}

const META_SEARCH = 4096;

/**
 * The single-byte encodings of the WHATWG Encoding Standard (§9): one character a byte, so that text
 * read in one is written back in it byte for byte, and a banner in the characters it has (Cyrillic in
 * KOI8-R and windows-1251) costs no more than its length.
 */
const SINGLE_BYTE = new Set([
  'ibm866',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-8-i',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'iso-8859-16',
  'koi8-r',
  'koi8-u',
  'macintosh',
  'windows-874',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'x-mac-cyrillic',
]);

/**
 * US-ASCII and its names (RFC 2046 §4.1.2, the IANA charset registry), which the WHATWG standard
 * reads as windows-1252: a banner character that windows-1252 has would be 8-bit text labelled ASCII.
 */
const ASCII_LABEL =
  /^(?:us-?ascii|ascii|ansi_x3\.4-19(?:68|86)|iso646-us|iso_646\.irv:1991|iso-ir-6|cp367|ibm367|csascii|us)$/i;

/**
 * Labels that the WHATWG Encoding Standard (§4.2, its table of labels) reads as a larger charset than they
 * name: ISO-8859-1 as windows-1252, ISO-8859-9 as windows-1254, ISO-8859-11 and TIS-620 as windows-874,
 * KOI8-U as KOI8-RU. A reader that takes the label at its word (RFC 2046 §4.1.2: the charset says what the
 * octets mean) shows some bytes as other characters: the ISO 8859 charsets hold the C1 controls of ISO 6429
 * at 0x80-0x9F (RFC 1345 §4; 0x85 is NEL, a line break), TIS-620 nothing there, and KOI8-U box drawing at
 * 0xAE and 0xBE (RFC 2319, its table), not ў and Ў. Text that would hold such a byte, a banner's “ ” — … among it,
 * is written as UTF-8, which every reader reads alike. The Windows names (windows-1252, cp1252, …) and
 * KOI8-RU name the larger charset itself.
 */
const NARROWER_LABELS: { encoding: string; ownName: RegExp; ambiguous: (byte: number) => boolean }[] = [
  { encoding: 'windows-1252', ownName: /^(?:windows-?|x-cp|cp|win-?)1252$/, ambiguous: isC1 },
  { encoding: 'windows-1254', ownName: /^(?:windows-?|x-cp|cp|win-?)1254$/, ambiguous: isC1 },
  { encoding: 'windows-874', ownName: /^(?:windows|dos)-874$/, ambiguous: isC1 },
  { encoding: 'koi8-u', ownName: /^koi8-ru$/, ambiguous: (byte) => byte === 0xae || byte === 0xbe },
];

function isC1(byte: number): boolean {
  return byte >= 0x80 && byte <= 0x9f;
}

/** The bytes `label` may not hold to mean what the WHATWG `encoding` reads them as; undefined when all may. */
function ambiguousBytes(label: string, encoding: string): ((byte: number) => boolean) | undefined {
  const narrower = NARROWER_LABELS.find((n) => n.encoding === encoding);
  return narrower === undefined || narrower.ownName.test(label.toLowerCase()) ? undefined : narrower.ambiguous;
}

/** For each UTF-16 code unit, the byte an encoding writes for it; -1 for none. Built from its decoder. */
const byteTables = new Map<string, Int16Array>();

function byteTable(encoding: string): Int16Array {
  let table = byteTables.get(encoding);
  if (table === undefined) {
    table = new Int16Array(0x10000).fill(-1);
    const chars = new TextDecoder(encoding).decode(Uint8Array.from({ length: 256 }, (_, i) => i));
    for (let byte = 0; byte < 256; byte++) {
      const char = chars.charCodeAt(byte);
      if (char !== 0xfffd && table[char] === -1) table[char] = byte;
    }
    byteTables.set(encoding, table);
  }
  return table;
}

/**
 * The text in the part's own charset when that is a single-byte one that has every character of it;
 * else undefined (the text is written as UTF-8). Opaque text is not asked: it is its octets already.
 */
export function inOwnCharset(part: TextPart, text: string): Buffer | undefined {
  return ownCharset(part, text)?.bytes;
}

/** inOwnCharset, with the charset's name as the part gives it. */
function ownCharset(part: TextPart, text: string): { bytes: Buffer; charset: string } | undefined {
  const charset = declaredCharset(part, text)?.trim();
  if (charset === undefined || ASCII_LABEL.test(charset)) return undefined;
  const encoding = charsetDecoder(charset)?.encoding;
  if (encoding === undefined || !SINGLE_BYTE.has(encoding)) return undefined;
  const table = byteTable(encoding);
  const ambiguous = ambiguousBytes(charset, encoding);
  const bytes = Buffer.allocUnsafe(text.length);
  for (let i = 0; i < text.length; i++) {
    const byte = table[text.charCodeAt(i)]!;
    if (byte < 0) return undefined; // U+FFFD for a byte the charset lacks, or a banner character
    if (ambiguous?.(byte)) return undefined; // “ in "iso-8859-1" text: a control character to some readers
    bytes[i] = byte;
  }
  return { bytes, charset };
}

/**
 * New bytes for the part from headerStart to bodyEnd: the text in its own charset when it can be
 * (inOwnCharset; opaque text: its own octets), else as UTF-8 with Content-Type's charset updated;
 * Content-Transfer-Encoding as transferEncodingFor chooses; every other field as it was. Line ends
 * in text that is not base64 become the message's own.
 */
export function encodeTextPart(message: Buffer, part: TextPart, { text, opaque }: PartText): Buffer {
  const eol = lineEndOf(message);
  const base64 = part.encoding === 'base64';
  const lined = base64 ? text : withLineEnds(text, eol);
  const own = opaque ? undefined : ownCharset(part, lined);
  const kept = opaque || own !== undefined;
  const bytes = opaque ? Buffer.from(lined, 'latin1') : (own?.bytes ?? Buffer.from(lined, 'utf8'));
  // Text kept in its own octets keeps the charset that names them; one only a <meta> named (HTML 5
  // §4.2.5.4) is now named in Content-Type too, for readers that do not look inside.
  const contentType = (raw: string) => {
    if (opaque) return raw;
    if (own === undefined) return withCharset(raw, 'utf-8', part.subtype);
    return part.charset === undefined ? withCharset(raw, own.charset, part.subtype) : raw;
  };
  // Lines that were lines of the part: no bare CR or LF became a line end, which could start one
  // with a boundary delimiter of the multipart around it (RFC 2046 §5.1.1).
  const encoding = transferEncodingFor(bytes, part.encoding, lined === text);
  const encodingField = `Content-Transfer-Encoding: ${encoding}`;
  const fields: string[] = [];
  let sawType = false;
  let sawEncoding = false;
  let sawVersion = false;
  for (const field of part.fields) {
    if (field.name === 'content-type') {
      fields.push(contentType(field.raw) + eol);
      sawType = true;
    } else if (field.name === 'content-transfer-encoding') {
      if (!sawEncoding) fields.push(encodingField + eol);
      sawEncoding = true;
    } else {
      const written = message.toString('latin1', field.start, field.end);
      fields.push(written.endsWith('\n') ? written : written + eol); // the last line of a body-less message
      sawVersion ||= field.name === 'mime-version';
    }
  }
  // RFC 2045 §4: a reader needs MIME-Version at the top to honour the encoding we now declare.
  if (part.topLevel && !sawVersion) fields.push(`MIME-Version: 1.0${eol}`);
  // RFC 2045 §5.2: no Content-Type is text/plain; a charset only for octets that are in it.
  if (!sawType) fields.push(`Content-Type: text/${part.subtype}${kept ? '' : '; charset=utf-8'}${eol}`);
  if (!sawEncoding) fields.push(encodingField + eol);
  let body: Buffer;
  if (encoding === '8bit') body = bytes;
  else if (encoding === 'quoted-printable') body = Buffer.from(quotedPrintable(bytes, eol), 'latin1');
  else body = Buffer.from(base64Lines(bytes, eol) + trailingLineEnds(message, part), 'latin1');
  return Buffer.concat([
    Buffer.from(fields.join(''), 'latin1'),
    // The empty line as it was; a message of header fields only gets one.
    part.bodyStart > part.fieldsEnd ? message.subarray(part.fieldsEnd, part.bodyStart) : Buffer.from(eol),
    body,
  ]);
}

/** RFC 5322 §2.1.1 and RFC 2045 §2.8: the longest line 8bit data may have, without its CRLF. */
const MAX_8BIT_LINE = 998;

/** 1 for each octet quoted-printable writes as it is (RFC 2045 §6.7 rules 2 and 4, as libqp does). */
const QP_LITERAL = Uint8Array.from({ length: 256 }, (_, i) =>
  i === 0x09 || i === LF || i === CR || (i >= 0x20 && i <= 0x7e && i !== 0x3d) ? 1 : 0,
);

/**
 * The transfer encoding for the new bytes, by what they hold. Base64 stays base64. 8bit stays 8bit
 * (and binary becomes it) while its lines allow: the message came so, over a path that took 8-bit
 * data (RFC 6152), and written as it is the text costs nothing more. Otherwise quoted-printable
 * while at most one octet in six needs escaping, base64 past that: an escape is three octets, and
 * quoted-printable then outgrows base64's four for three (RFC 2045 §6.7, §6.8). Quoted-printable of
 * Cyrillic or CJK text had made a 25 MB part 150 MB.
 */
function transferEncodingFor(bytes: Buffer, was: string, linesKept: boolean): 'base64' | '8bit' | 'quoted-printable' {
  if (was === 'base64') return 'base64';
  let escaped = 0;
  let longest = 0;
  let line = 0;
  let nul = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === LF) {
      if (line > longest) longest = line;
      line = 0;
      continue;
    }
    if (byte !== CR) line++;
    if (QP_LITERAL[byte] === 0) escaped++;
    if (byte === 0) nul = true;
  }
  if (line > longest) longest = line;
  if ((was === '8bit' || was === 'binary') && linesKept && !nul && longest <= MAX_8BIT_LINE) return '8bit';
  return escaped * 6 > bytes.length ? 'base64' : 'quoted-printable';
}

/** Every line end as the message's own; a test first, since most text needs no change. */
function withLineEnds(text: string, eol: string): string {
  const stray = eol === '\r\n' ? /\r(?!\n)|(?<!\r)\n/ : /\r/;
  return stray.test(text) ? text.replace(/\r\n|\r|\n/g, eol) : text;
}

/**
 * The Content-Type field as written with its charset parameter's value replaced by this one, or the
 * parameter added after the type: the type, comments, folding and every other parameter as they were.
 * Read with the grammar of RFC 2045 §5.1 (tokens, quoted-strings, and the comments and folding whitespace
 * RFC 822 §3.1.4 allows between them), since a regex over the value had taken a comment before the type,
 * a folded value or a ";" inside a quoted file name for the end of what it replaced. Other charset
 * parameters (a second one, the RFC 2231 §3/§4 forms charset*= and charset*0*=) go, so that no reader
 * takes one of them for the charset of the new bytes.
 */
function withCharset(raw: string, charset: string, subtype: TextPart['subtype']): string {
  const colon = raw.indexOf(':');
  if (colon < 0) return raw;
  // RFC 2045 §5.1: a value with tspecials or spaces must be a quoted-string (a <meta> name may hold ":").
  const value = /^[^\x00-\x20\x7f()<>@,;:\\"/[\]?=]+$/.test(charset)
    ? charset
    : `"${charset.replace(/["\\]/g, '\\$&')}"`;
  const semicolons = topLevelSemicolons(raw, colon + 1);
  const edits: { start: number; end: number; text: string }[] = [];
  let replaced = false;
  for (const [i, at] of semicolons.entries()) {
    const parameter = readParameter(raw, at, semicolons[i + 1] ?? raw.length);
    if (parameter === undefined || !/^charset(?:\*\d*\*?)?$/i.test(parameter.name)) continue;
    if (!replaced && parameter.name.toLowerCase() === 'charset') {
      edits.push({ start: parameter.valueStart, end: parameter.valueEnd, text: value });
      replaced = true;
    } else {
      edits.push({ start: at, end: parameter.valueEnd, text: '' });
    }
  }
  if (!replaced) {
    // After the type and any comment on it, before the whitespace (and folding) that ends it.
    let end = semicolons[0] ?? raw.length;
    while (end > colon + 1 && /[ \t\r\n]/.test(raw[end - 1]!)) end--;
    // RFC 2045 §5.2: a Content-Type without a type is text/plain; the part's own subtype is written.
    const typeless = skipCommentsAndSpace(raw, colon + 1) >= end;
    const type = typeless ? `${raw[end - 1] === ' ' || raw[end - 1] === '\t' ? '' : ' '}text/${subtype}` : '';
    edits.push({ start: end, end, text: `${type}; charset=${value}` });
  }
  let out = raw;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

/** Where each ";" that separates parameters is: those inside quoted-strings and comments are text. */
function topLevelSemicolons(raw: string, from: number): number[] {
  const found: number[] = [];
  for (let i = from; i < raw.length; ) {
    const c = raw[i];
    if (c === '"') i = quotedStringEnd(raw, i);
    else if (c === '(') i = commentEnd(raw, i);
    else {
      if (c === ';') found.push(i);
      i++;
    }
  }
  return found;
}

/**
 * The parameter after the ";" at `at`, up to `end` (the next ";"): `attribute = value` (RFC 2045 §5.1)
 * with comments and folding whitespace around either; undefined when the text there is no parameter.
 */
function readParameter(
  raw: string,
  at: number,
  end: number,
): { name: string; valueStart: number; valueEnd: number } | undefined {
  const nameStart = skipCommentsAndSpace(raw, at + 1);
  let nameEnd = nameStart;
  while (nameEnd < end && !/[\x00-\x20\x7f()<>@,;:\\"/[\]?=]/.test(raw[nameEnd]!)) nameEnd++;
  if (nameEnd === nameStart) return undefined;
  const equals = skipCommentsAndSpace(raw, nameEnd);
  if (raw[equals] !== '=') return undefined;
  const valueStart = Math.min(skipCommentsAndSpace(raw, equals + 1), end);
  let valueEnd = valueStart;
  if (raw[valueStart] === '"') valueEnd = Math.min(quotedStringEnd(raw, valueStart), end);
  // A token; readers take what a sender wrote up to the next space, comment or ";" (the type's "/" too).
  else while (valueEnd < end && !/[ \t\r\n(;"]/.test(raw[valueEnd]!)) valueEnd++;
  return { name: raw.slice(nameStart, nameEnd), valueStart, valueEnd };
}

/** Past spaces, tabs, line ends of folding (RFC 5322 §2.2.3) and comments. */
function skipCommentsAndSpace(raw: string, from: number): number {
  let i = from;
  while (i < raw.length) {
    const c = raw[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '(') i = commentEnd(raw, i);
    else break;
  }
  return i;
}

/** Past the quoted-string starting at `at` (RFC 822 §3.4.4, a "\" quotes the next character); unclosed: the end. */
function quotedStringEnd(raw: string, at: number): number {
  for (let i = at + 1; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '"') return i + 1;
  }
  return raw.length;
}

/** Past the comment starting at `at`: comments nest, and a "\" quotes the next character (RFC 822 §3.4.3). */
function commentEnd(raw: string, at: number): number {
  let depth = 0;
  for (let i = at; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return raw.length;
}

/** RFC 2045 §6.7: lines of at most 76 characters, soft line breaks as "=" at the end. */
function quotedPrintable(bytes: Buffer, eol: string): string {
  const wrapped = libqp.wrap(libqp.encode(bytes), 76);
  return eol === '\r\n' ? wrapped : wrapped.replaceAll('=\r\n', '=\n');
}

/** RFC 2045 §6.8: lines of at most 76 characters. */
function base64Lines(bytes: Buffer, eol: string): string {
  const encoded = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += 76) lines.push(encoded.slice(i, i + 76));
  return lines.join(eol);
}

/** A base64 body's own trailing line ends are not content; they are kept as they were. */
function trailingLineEnds(message: Buffer, part: TextPart): string {
  let at = part.bodyEnd;
  while (at > part.bodyStart && (message[at - 1] === LF || message[at - 1] === CR)) at--;
  return message.toString('latin1', at, part.bodyEnd);
}

/** The message with each range replaced; ranges must not overlap. */
export function replaceRanges(message: Buffer, changes: { start: number; end: number; bytes: Buffer }[]): Buffer {
  if (changes.length === 0) return message;
  const sorted = [...changes].sort((a, b) => a.start - b.start);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const change of sorted) {
    pieces.push(message.subarray(at, change.start), change.bytes);
    at = change.end;
  }
  pieces.push(message.subarray(at));
  return Buffer.concat(pieces);
}

/**
 * The message as a multipart/mixed (RFC 2046 §5.1.3) whose first part is `text` (text/plain, UTF-8)
 * and whose second is the message's own content, byte for byte: its Content-* fields and its body.
 * For a body that cannot be edited in place (signed, encrypted, in a charset we cannot write, nested
 * too deep, or no text at all): a reader shows the parts one after another, and a signature inside
 * stays valid. The other header fields stay at the top as they were; MIME-Version is written anew.
 */
export function wrapWithTextPart(message: Buffer, text: string): Buffer {
  const eol = lineEndOf(message);
  const { fieldsEnd, bodyStart } = splitEntity(message, 0, message.length);
  const fields = readRawFields(message, 0, fieldsEnd);
  const written = (field: RawField) => {
    const bytes = message.subarray(field.start, field.end);
    return bytes.at(-1) === LF ? bytes : Buffer.concat([bytes, Buffer.from(eol)]);
  };
  const content = (field: RawField) => field.name.startsWith('content-');
  const body = message.subarray(Math.min(bodyStart, message.length));
  let boundary: string;
  do boundary = `=_postern_${randomBytes(12).toString('hex')}`;
  while (body.includes(boundary));
  const banner = quotedPrintable(Buffer.from(withLineEnds(text, eol), 'utf8'), eol);
  return Buffer.concat([
    ...fields.filter((field) => !content(field) && field.name !== 'mime-version').map(written),
    Buffer.from(
      `MIME-Version: 1.0${eol}Content-Type: multipart/mixed; boundary="${boundary}"${eol}${eol}` +
        `--${boundary}${eol}Content-Type: text/plain; charset=utf-8${eol}` +
        `Content-Transfer-Encoding: quoted-printable${eol}${eol}${banner}${eol}--${boundary}${eol}`,
      'latin1',
    ),
    ...fields.filter(content).map(written),
    Buffer.from(eol),
    body,
    // RFC 2046 §5.1.1: the line end before a delimiter belongs to it, so the body keeps its own.
    Buffer.from(`${eol}--${boundary}--${eol}`),
  ]);
}
