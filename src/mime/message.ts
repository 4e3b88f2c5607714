/**
 * A whole message parsed for content inspection: decoded headers, the text and HTML bodies and
 * the attachments. The protocol engines only ever need the header section (header-section.ts);
 * the filters (src/filter) need MIME decoding, charsets and nested parts.
 *
 * Our own parser over byte ranges (entity.ts), because it runs on every inbound message. Warm,
 * on 600 SpamAssassin messages padded to 10 KB: postal-mime 4 took 1.9 ms a message (60 % of it
 * in Node's Blob, which it uses to join each part's lines; 2.4 ms behind our former wrapper),
 * mailparser about 1 ms, this about 0.07 ms. postal-mime's address parser is fast and correct, so
 * we keep using it; encoded-words are decoded by encoded-word.ts, as the mailbox listing decodes them.
 * Never throws: malformed input gives a best-effort result.
 */

import { type Address, addressParser, decodeWords } from 'postal-mime';
import { decodeEncodedWords } from './encoded-word.ts';
import {
  bodyParts,
  decodeCharset,
  decodeTransferEncoding,
  entityHeader,
  type HeaderField,
  type HeaderValue,
  parseHeaderValue,
  readFields,
  startsField,
  transferEncodingOf,
} from './entity.ts';
import { isUuencoding, type UuBudget, uudecodeBody, uuFiles } from './uuencode.ts';

export interface MessageAddress {
  /** The display name, decoded (RFC 2047); '' when there is none. */
  name: string;
  /** The addr-spec; '' when the header held only a name. */
  address: string;
}

export interface MessageAttachment {
  /** The file name from Content-Disposition or Content-Type, decoded; '' when none is given. */
  filename: string;
  /**
   * Every distinct name the part's header gives, `filename` first, when it gives more than one: readers
   * differ in the one they show and save, so a sender can show one and have another saved.
   */
  names?: string[];
  /** An inline text part with a name: the reader shows it as the message's text, and it is in `text` or `html` too. */
  alsoText?: boolean;
  /** Lower case, without parameters, e.g. `application/zip`. */
  contentType: string;
  disposition: 'attachment' | 'inline' | '';
  content: Uint8Array;
}

export interface ParsedMessage {
  /** Every header field of the top level, in order: lower-case name and the unfolded, decoded value. */
  headers: { name: string; value: string }[];
  /** The From addresses (RFC 5322 §3.6.2 allows several); empty when the header is missing. */
  from: MessageAddress[];
  /** The raw From field value (undecoded), for checks that must see what the client sent. */
  fromHeader: string;
  replyTo: MessageAddress[];
  to: MessageAddress[];
  cc: MessageAddress[];
  subject: string;
  /** The text/plain body (parts joined); '' when the message has only HTML. */
  text: string;
  /** The text/html body (parts joined); '' when there is none. */
  html: string;
  attachments: MessageAttachment[];
}

/** Multiparts and messages nested deeper than this are not unpacked (mail bombs); their files are found (filesPastLimit). */
const MAX_NESTING = 32;
/** Parts past this many are ignored: a small message can declare thousands of empty parts. */
const MAX_PARTS = 1000;
/** uuencoded files taken from one text part, and from one message (its attached messages included). */
const MAX_UU_FILES_PER_PART = 4;
const MAX_UU_FILES = 16;
/** Later Content-Type and Content-Disposition fields of one entity kept (ContentFields.later), of each. */
const MAX_LATER_FIELDS = 4;
/** Entities of one message also read as the multipart a later Content-Type makes them (walk()). */
const MAX_ALTERNATE_READINGS = 4;

/** Kept async so that callers need not change; the work is synchronous. */
export async function parseMessage(content: Uint8Array): Promise<ParsedMessage> {
  return parseMessageSync(content);
}

export function parseMessageSync(content: Uint8Array): ParsedMessage {
  const message = Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.length);
  // The fields up to the empty line, lines that are not fields skipped, as the listing reads them (so
  // both read one From); within HEADER_LIMITS, which an attached message has not been held to.
  const fields = readFields(message, 0, entityHeader(message, 0, message.length).fieldsEnd);
  const body: Body = {
    text: [],
    html: [],
    attachments: [],
    parts: 0,
    // The files uudecoded from text take no more bytes than the message has (a line may declare more).
    uu: { files: MAX_UU_FILES, bytes: message.length },
    alternates: MAX_ALTERNATE_READINGS,
  };
  try {
    collect(message, 0, message.length, 0, body);
  } catch {
    // Best effort: what was collected before the surprise is still worth inspecting.
  }
  const first = (name: string) => fields.find((f) => f.name === name)?.value;
  return {
    headers: fields.map((f) => ({ name: f.name, value: decoded(f.value) })),
    from: addresses(fields, 'from', true),
    fromHeader: first('from') ?? '',
    replyTo: addresses(fields, 'reply-to', false),
    to: addresses(fields, 'to', false),
    cc: addresses(fields, 'cc', false),
    subject: decoded(first('subject') ?? ''),
    text: body.text.join('\n'),
    html: body.html.join('\n'),
    attachments: body.attachments,
  };
}

/** The first value of a header field, by lower-case name. */
export function headerValue(message: ParsedMessage, name: string): string | undefined {
  return message.headers.find((h) => h.name === name)?.value;
}

/**
 * RFC 2047 encoded-words, read by the listing's decoder, leniently: postal-mime's, which read them
 * here before, turned a character split across two words into U+FFFD when the labels differed in case
 * ("UTF-8", "utf-8") or another word held an invalid byte, left ISO-2022-JP split mid-sequence as
 * escape codes and UTF-16 as mojibake, so a word the reader shows whole reached the filters broken.
 */
function decoded(value: string): string {
  return value.includes('=?') ? decodeEncodedWords(value, LENIENT) : value;
}

const LENIENT = { lenient: true } as const;

/** Groups flattened, addresses lower-cased; From from its first field only, the others from all. */
function addresses(fields: HeaderField[], name: string, firstOnly: boolean): MessageAddress[] {
  const out: MessageAddress[] = [];
  for (const field of fields) {
    if (field.name !== name) continue;
    for (const m of parseAddresses(field.value)) out.push({ name: m.name, address: m.address.toLowerCase() });
    if (firstOnly) break;
  }
  return out;
}

/**
 * Stands for "=?" in the second parse, where no encoded-word may be recognised: a lone low surrogate,
 * which a field read as UTF-8 (readFields) cannot hold, so a sender cannot write it to mix the two up.
 */
const NOT_A_WORD = '\udc00';

/**
 * postal-mime's parse, whose display names its own decoder decoded (see decoded()), with those names
 * decoded again by ours. The names as written come from a second parse of the field with every "=?"
 * masked, which splits the field the same way (the mask is text to the parser, as "=?" is) but decodes
 * nothing. A name is replaced only where postal-mime's decoder gives, on the name as written, the name
 * the first parse has: where the two parses differ (an encoded-word that was the address, or held one
 * the parser went on to read) the first parse's name stays.
 */
function parseAddresses(value: string): MessageAddress[] {
  const parsed = mailboxes(value);
  if (!value.includes('=?')) return parsed;
  const asWritten = mailboxes(value.replaceAll('=?', NOT_A_WORD));
  if (asWritten.length !== parsed.length) return parsed;
  return parsed.map((m, i) => {
    const written = (asWritten[i] as MessageAddress).name.replaceAll(NOT_A_WORD, '=?');
    return m.name === decodeWords(written) ? { ...m, name: decoded(written) } : m;
  });
}

/** The mailboxes, groups flattened. */
function mailboxes(value: string): MessageAddress[] {
  let parsed: Address[];
  try {
    parsed = addressParser(value);
  } catch {
    return [];
  }
  const out: MessageAddress[] = [];
  for (const a of parsed) for (const m of a.group ?? [a]) out.push({ name: m.name ?? '', address: m.address ?? '' });
  return out;
}

interface Body {
  text: string[];
  html: string[];
  attachments: MessageAttachment[];
  /** Entities seen so far, against MAX_PARTS. */
  parts: number;
  /** What uuencoded files in the text may still take. */
  uu: UuBudget;
  /** Multipart readings from a later Content-Type still allowed (MAX_ALTERNATE_READINGS). */
  alternates: number;
}

interface Leaf {
  message: Buffer;
  bodyStart: number;
  end: number;
  type: HeaderValue;
  disposition: HeaderValue;
  encoding: string;
  /** The Content-Name field's value, as written. */
  contentName: string | undefined;
  /** The later Content-Type and Content-Disposition fields, when the entity has more than one. */
  later?: { types: HeaderValue[]; dispositions: HeaderValue[] };
}

/** The leaves of one message (its nested messages are collected when their turn comes). */
function collect(message: Buffer, start: number, end: number, depth: number, body: Body): void {
  const leaves: Leaf[] = [];
  walk(message, start, end, 'text/plain', depth, body, leaves);
  // A delivery status or feedback report (RFC 3464, RFC 5965) carries the returned message as
  // evidence, not as content: it stays an attachment, as postal-mime does.
  const report = leaves.some(
    (l) => l.type.value === 'message/delivery-status' || l.type.value === 'message/feedback-report',
  );
  for (const leaf of leaves) {
    const { type, disposition } = leaf;
    const attached = disposition.value === 'attachment';
    if (type.value === 'message/rfc822' && !attached && !report) {
      const content = bytesOf(leaf);
      if (depth + 1 < MAX_NESTING) collect(content, 0, content.length, depth + 1, body);
      else {
        // Too deep: read, not unpacked, but its files are still found.
        pushText(textOf(rawTextLeaf(content, 0, content.length)), body);
        for (const file of filesPastLimit(content, 0, content.length, true, body))
          body.attachments.push(attachmentOf(file));
      }
    } else if (isText(leaf)) {
      if (type.value === 'text/plain') pushText(textOf(leaf), body);
      else body.html.push(textOf(leaf));
      // Shown as text, but a name makes it a file too: a reader offers to save it, and a program
      // ("setup.exe", Content-Disposition inline) runs once saved. RFC 2183 §2.1 leaves inline parts
      // to the reader; the attachment checks must see what it may save. So does a later Content-Type
      // or Content-Disposition that makes it a file, for a reader that takes that one, and a uuencoded
      // body, which names its file on its begin line.
      const types = laterTypes(leaf).filter((t) => t !== 'text/plain' && t !== 'text/html');
      const saved = leaf.later?.dispositions.some((d) => d.value === 'attachment') === true;
      if (fileNames(leaf).length > 0 || types.length > 0 || saved || isUuencoding(leaf.encoding)) {
        const file: MessageAttachment = { ...attachmentOf(leaf), alsoText: true };
        body.attachments.push(file, ...types.map((contentType) => ({ ...file, contentType })));
      }
    } else {
      const file = attachmentOf(leaf);
      body.attachments.push(file, ...laterTypes(leaf).map((contentType) => ({ ...file, contentType })));
    }
  }
}

/**
 * Text a reader shows, and the files uuencoded in it: Thunderbird (mimeunty.cpp), Outlook and others
 * show a `begin 644 invoice.exe` … `end` block in a plain-text body as an attachment. The text keeps the
 * block, as a reader without uudecode shows it.
 */
function pushText(text: string, body: Body): void {
  body.text.push(text);
  if (!text.includes('begin ')) return;
  for (const file of uuFiles(text, MAX_UU_FILES_PER_PART, body.uu))
    body.attachments.push({
      filename: file.name,
      contentType: 'application/octet-stream',
      disposition: 'attachment',
      content: new Uint8Array(file.content.buffer, file.content.byteOffset, file.content.byteLength),
    });
}

/**
 * The types later Content-Type fields give, distinct, other than the first's: RFC 2045 §5 describes one
 * field an entity, and readers that meet more differ in the one they take (Python's email and
 * postal-mime the first, others the last), so the part is judged as each. A multipart is read as one
 * instead (walk()).
 */
function laterTypes(leaf: Leaf): string[] {
  const out: string[] = [];
  for (const t of leaf.later?.types ?? [])
    if (
      t.value !== leaf.type.value &&
      t.value.includes('/') &&
      !t.value.startsWith('multipart/') &&
      !out.includes(t.value)
    )
      out.push(t.value);
  return out;
}

/** A text part the reader shows as the message's text, not as a file. */
function isText(leaf: Leaf): boolean {
  const { type, disposition } = leaf;
  return (
    (type.value === 'text/plain' || type.value === 'text/html') && disposition.value !== 'attachment' && !hasName(leaf)
  );
}

function attachmentOf(leaf: Leaf): MessageAttachment {
  const { type, disposition } = leaf;
  const names = fileNames(leaf);
  // The name on a uuencoded body's begin line, which uudecode saves it as, is one more name it has.
  const uu = isUuencoding(leaf.encoding) ? uudecodeBody(rawOf(leaf)) : undefined;
  if (uu?.name && !names.includes(uu.name)) names.push(uu.name);
  return {
    filename: names[0] ?? '',
    ...(names.length > 1 && { names }),
    contentType: type.value,
    disposition: disposition.value === 'attachment' || disposition.value === 'inline' ? disposition.value : '',
    content: uu ? new Uint8Array(uu.content.buffer, uu.content.byteOffset, uu.content.byteLength) : contentOf(leaf),
  };
}

/**
 * The file names a reader may take, distinct, the one most take first: Content-Disposition's filename
 * (RFC 2183 §2.3), Content-Type's name (RFC 2045 §7.1 leaves it to RFC 1341, which deprecated it),
 * then the same parameters on the other field and a Content-Name field, which some readers take when
 * the others are missing. RFC 2047 words are decoded, as readers do, but not in a parameter libmime read
 * in RFC 2231 form: that one is decoded already, and decoding again turned
 * "100%3D%3Futf-8%3FQ%3F%3D25%3F%3D.txt" (100=?utf-8?Q?=25?=.txt) into "100%.txt".
 */
function fileNames(leaf: Leaf): string[] {
  const names: string[] = [];
  const add = (header: HeaderValue, name: 'name' | 'filename') => {
    const value = header.params[name];
    if (!value) return;
    const text = header.decodedParams.includes(name) ? value : decoded(value);
    if (!names.includes(text)) names.push(text);
  };
  add(leaf.disposition, 'filename');
  add(leaf.type, 'name');
  add(leaf.disposition, 'name');
  add(leaf.type, 'filename');
  // A later Content-Disposition or Content-Type (RFC 2183 §2 and RFC 2045 §5 describe one of each): a
  // reader that takes the last one saves the file under its name ("invoice.pdf" first, "evil.exe" after).
  for (const header of leaf.later?.dispositions ?? []) {
    add(header, 'filename');
    add(header, 'name');
  }
  for (const header of leaf.later?.types ?? []) {
    add(header, 'name');
    add(header, 'filename');
  }
  const field = leaf.contentName?.replace(/^"(.*)"$/s, '$1');
  if (field) {
    const text = decoded(field);
    if (!names.includes(text)) names.push(text);
  }
  return names;
}

/** A text part with a file name is a file the sender attached, unless marked inline (RFC 2183 §2.1). */
function hasName(leaf: Leaf): boolean {
  return leaf.disposition.value !== 'inline' && Boolean(leaf.disposition.params.filename || leaf.type.params.name);
}

function walk(
  message: Buffer,
  start: number,
  end: number,
  defaultType: string,
  depth: number,
  body: Body,
  leaves: Leaf[],
): void {
  if (body.parts >= MAX_PARTS) {
    leaves.push(rawTextLeaf(message, start, end));
    return;
  }
  body.parts++;
  const header = entityHeader(message, start, end);
  let reading: Reading;
  let bodyStart = header.bodyStart;
  // Where the reading's fields end, to read them again as bytes (delimiterOf); undefined when they were
  // read one character a byte already (scanContentFields).
  let fieldsEnd: number | undefined = header.fieldsEnd;
  if (header.firstNonField === undefined) {
    if (header.excess) {
      // Past HEADER_LIMITS the field list is not built (that was the cost), but padding must hide no
      // attachment either: the Content-* fields and the empty line are found in one pass, and the
      // values read coarsely when long (parseHeaderValue).
      const scanned = scanContentFields(message, start, end);
      reading = readingOf(scanned.fields, defaultType);
      bodyStart = scanned.bodyStart;
      fieldsEnd = undefined;
    } else {
      reading = readingOf(contentFields(message, start, header.fieldsEnd), defaultType);
    }
  } else {
    // A line that is neither a field nor a continuation (RFC 5322 §2.2), before the empty line or with
    // none to come: Python's email starts the body there; Thunderbird and postal-mime skip the line
    // and read fields up to the empty line. A filter that took one reading would miss what the other
    // shows (the HTML of a part whose sender left out the empty line; a Content-Type after a stray
    // line), so both are read: the lines from there to the empty line as the body the fields above
    // describe, then the entity as the other reading has it. A multipart is read from that line on
    // only: its parts take in the other reading's, and later fields cannot change its Content-Type.
    const aboveFields = contentFields(message, start, header.firstNonField);
    const above = readingOf(aboveFields, defaultType);
    const belowFields = header.excess ? aboveFields : contentFields(message, start, header.fieldsEnd);
    const same = sameFields(aboveFields, belowFields);
    if (header.excess || above.type.value.startsWith('multipart/') || (same && header.fieldsEnd >= end)) {
      reading = above;
      bodyStart = header.firstNonField;
      fieldsEnd = header.firstNonField;
    } else {
      leaves.push(leafOf(message, header.firstNonField, header.fieldsEnd, above));
      reading = same ? above : readingOf(belowFields, defaultType, above);
    }
  }
  const { type } = reading;
  if (type.value.startsWith('multipart/')) {
    walkMultipart(message, start, fieldsEnd, Math.min(bodyStart, end), end, type, depth, body, leaves);
    return;
  }
  leaves.push(leafOf(message, bodyStart, end, reading));
  // RFC 2045 §5 allows one Content-Type; a reader that takes a later "multipart/mixed" shows the parts
  // (an attachment among them) that this reading takes as text, so the body is read as both. Not
  // the other way round: a first multipart is read as one, whose parts hold the text. A few such
  // readings a message, each one more pass over its body.
  if (reading.fields.later === undefined || body.alternates <= 0) return;
  for (const value of reading.fields.later.types) {
    const later = readingOf({ ...reading.fields, type: value }, defaultType);
    if (!later.type.value.startsWith('multipart/')) continue;
    body.alternates--;
    walkMultipart(message, start, undefined, Math.min(bodyStart, end), end, later.type, depth, body, leaves);
    return;
  }
}

/**
 * A multipart's parts, walked. `fieldsEnd`: where its fields end, to read the boundary as bytes again
 * (delimiterOf); undefined to take it as read.
 */
function walkMultipart(
  message: Buffer,
  start: number,
  fieldsEnd: number | undefined,
  contentStart: number,
  end: number,
  type: HeaderValue,
  depth: number,
  body: Body,
  leaves: Leaf[],
): void {
  // Past the nesting or part limits the rest is read as one text part, not dropped: a limit that
  // hid what follows it would let phishing pass behind 32 levels or a thousand empty parts.
  if (depth + 1 >= MAX_NESTING) {
    leaves.push(rawTextLeaf(message, contentStart, end), ...filesPastLimit(message, contentStart, end, false, body));
    return;
  }
  // RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message/rfc822.
  const partType = type.value === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
  const delimiter = delimiterOf(message, start, fieldsEnd, type);
  const parts = bodyParts(message, contentStart, end, delimiter, MAX_PARTS + 1);
  // RFC 2046 §5.1.1: the parts lie between delimiter lines. With none, the body is no parts, as with
  // no boundary at all, and is read as text for the same reason (Python's StartBoundaryNotFoundDefect).
  if (parts.length === 0) leaves.push(rawTextLeaf(message, contentStart, end));
  for (const [partStart, partEnd] of parts) {
    if (body.parts >= MAX_PARTS) {
      leaves.push(rawTextLeaf(message, partStart, end));
      return;
    }
    walk(message, partStart, partEnd, partType, depth + 1, body, leaves);
  }
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The boundary's bytes. RFC 2046 §5.1.1 allows only US-ASCII in it, but readers look for what the
 * header carried, byte for byte; the fields are read as UTF-8 (readFields), so a boundary with an 8-bit
 * byte is read again from the bytes: Latin-1 bytes read as UTF-8 are U+FFFD, and a boundary re-encoded
 * one character a byte ("Sé" as 53 E9, not the 53 C3 A9 written) found no delimiter, so the parts
 * (an attachment among them) were read as the text of a message without any.
 */
function delimiterOf(message: Buffer, start: number, fieldsEnd: number | undefined, type: HeaderValue): Buffer {
  const boundary = type.params.boundary as string;
  if (fieldsEnd === undefined || ASCII.test(boundary)) return Buffer.from(boundary, 'latin1');
  // RFC 2231 §4: an encoded value names its charset and is decoded already; its text is all there is.
  if (type.decodedParams.includes('boundary')) return Buffer.from(boundary, 'utf8');
  const written = contentFields(message, start, fieldsEnd, 'latin1').type;
  const again = written === undefined ? undefined : parseHeaderValue(written).params.boundary;
  return again === undefined ? Buffer.from(boundary, 'utf8') : Buffer.from(again, 'latin1');
}

/** A header section filesPastLimit() reads: far more than a part's, a small share of a message's. */
const PAST_LIMIT_HEADER = { lines: 200, bytes: 32 * 1024 };
/** A line that starts with "--", as every delimiter line does (RFC 2046 §5.1.1). */
const DASHES_LINE = Buffer.from('\n--');

/**
 * The files in what lies past MAX_NESTING, which is read as text, not unpacked: following the
 * structure there searched each level's boundary in turn (a bomb costs depth × size), but a reader
 * that goes deeper shows what is there (postal-mime an attachment under 40 levels), and the filters
 * must see it. One pass: an entity starts after any line that starts with "--" (whichever boundary
 * it is) or at `start` when `headerAtStart` (a message), if a field starts it; a file's body runs
 * to the next such line. A multipart's parts are found after their delimiters, a message's entity
 * after its header; text the reader shows is in the text already. Each entity counts against
 * MAX_PARTS and its header is read within PAST_LIMIT_HEADER, so the pass is linear whatever it holds.
 */
function filesPastLimit(message: Buffer, start: number, end: number, headerAtStart: boolean, body: Body): Leaf[] {
  const files: Leaf[] = [];
  const within = message.subarray(0, end);
  let file: { bodyStart: number; reading: Reading } | undefined;
  let entity = headerAtStart ? start : -1;
  let line = start; // always at the start of a line
  while (line < end) {
    if (entity >= 0 && body.parts < MAX_PARTS) {
      const at = entity;
      const header = headerPastLimit(message, within, at);
      entity = -1;
      if (header !== undefined) {
        body.parts++;
        const reading = readingOf(contentFields(message, at, header.fieldsEnd), 'text/plain');
        const type = reading.type.value;
        if (type.startsWith('message/')) entity = header.bodyStart;
        else if (!type.startsWith('multipart/') && !isText(leafOf(message, header.bodyStart, end, reading))) {
          file = { bodyStart: header.bodyStart, reading };
        }
        line = header.bodyStart;
        continue;
      }
    }
    const found = message[line] === 0x2d && message[line + 1] === 0x2d ? line - 1 : within.indexOf(DASHES_LINE, line);
    if (found < 0) break;
    const dashes = found + 1;
    if (file) {
      // RFC 2046 §5.1.1: the line end before a delimiter belongs to the delimiter.
      const stop = message[dashes - 2] === 0x0d ? dashes - 2 : dashes - 1;
      files.push(leafOf(message, file.bodyStart, Math.max(file.bodyStart, stop), file.reading));
      file = undefined;
    }
    const lineEnd = within.indexOf(0x0a, dashes);
    line = lineEnd < 0 ? end : lineEnd + 1;
    entity = line;
  }
  if (file) files.push(leafOf(message, file.bodyStart, end, file.reading));
  return files;
}

/**
 * An entity's header section for filesPastLimit(): from `at`, which must start a field, to the empty
 * line, or to the first line that is neither field nor continuation (it may be the next delimiter);
 * undefined when `at` starts no field or the section runs past PAST_LIMIT_HEADER.
 */
function headerPastLimit(
  message: Buffer,
  within: Buffer,
  at: number,
): { fieldsEnd: number; bodyStart: number } | undefined {
  const end = within.length;
  if (!startsField(message, at, end)) return undefined; // most lines: a delimiter, not a field
  let lines = 0;
  for (let line = at; line < end; ) {
    if (message[line] === 0x0a) return { fieldsEnd: line, bodyStart: line + 1 };
    if (message[line] === 0x0d && message[line + 1] === 0x0a) return { fieldsEnd: line, bodyStart: line + 2 };
    const lineEnd = within.indexOf(0x0a, line);
    const next = lineEnd < 0 ? end : lineEnd + 1;
    if (next - at > PAST_LIMIT_HEADER.bytes || ++lines > PAST_LIMIT_HEADER.lines) return undefined;
    // RFC 5322 §2.2.3: a line starting with WSP continues the field above.
    const continues = line > at && (message[line] === 0x20 || message[line] === 0x09);
    if (!continues && !startsField(message, line, next)) return { fieldsEnd: line, bodyStart: line };
    line = next;
  }
  return { fieldsEnd: end, bodyStart: end };
}

/** The fields a reader takes from an entity, as written; the first of each counts. */
interface ContentFields {
  type: string | undefined;
  disposition: string | undefined;
  encoding: string | undefined;
  /** Content-Name, a file name some mail programs write and some readers take (fileNames()). */
  name: string | undefined;
  /** Content-Type and Content-Disposition fields after the first, up to MAX_LATER_FIELDS of each. */
  later?: { types: string[]; dispositions: string[] };
}

/** A later Content-Type or Content-Disposition value kept, within MAX_LATER_FIELDS. */
function keepLater(fields: ContentFields, kind: 'types' | 'dispositions', value: string): void {
  fields.later ??= { types: [], dispositions: [] };
  const list = fields.later[kind];
  if (list.length < MAX_LATER_FIELDS) list.push(value);
}

function contentFields(
  message: Buffer,
  start: number,
  fieldsEnd: number,
  encoding: 'utf8' | 'latin1' = 'utf8',
): ContentFields {
  const fields: ContentFields = { type: undefined, disposition: undefined, encoding: undefined, name: undefined };
  // The first of each field counts, so that a scanner and a reader cannot be shown different ones; the
  // later Content-Type and Content-Disposition fields are kept, since some readers take the last.
  for (const field of readFields(message, start, fieldsEnd, encoding)) {
    if (field.name === 'content-type') {
      if (fields.type === undefined) fields.type = field.value;
      else keepLater(fields, 'types', field.value);
    } else if (field.name === 'content-disposition') {
      if (fields.disposition === undefined) fields.disposition = field.value;
      else keepLater(fields, 'dispositions', field.value);
    } else if (field.name === 'content-transfer-encoding') fields.encoding ??= field.value;
    else if (field.name === 'content-name') fields.name ??= field.value;
  }
  return fields;
}

/** The longest Content-* value scanContentFields() keeps: past it the rest is not what names the part. */
const SCANNED_VALUE_LIMIT = 64 * 1024;

/**
 * The first Content-Type, Content-Disposition, Content-Transfer-Encoding and Content-Name of a header section too
 * big for readFields(), and where its body starts (past the empty line; `end` without one): one pass
 * over the lines, each value cut at SCANNED_VALUE_LIMIT, so the cost is the section's length.
 */
function scanContentFields(message: Buffer, start: number, end: number): { fields: ContentFields; bodyStart: number } {
  const fields: ContentFields = { type: undefined, disposition: undefined, encoding: undefined, name: undefined };
  const within = message.subarray(0, end);
  let current: Exclude<keyof ContentFields, 'later'> | 'types' | 'dispositions' | undefined;
  let value = '';
  const close = () => {
    if (current === 'types' || current === 'dispositions') keepLater(fields, current, value.trim());
    else if (current !== undefined) fields[current] ??= value.trim();
    current = undefined;
  };
  for (let line = start; line < end; ) {
    const lineEnd = within.indexOf(0x0a, line);
    const next = lineEnd < 0 ? end : lineEnd + 1;
    const text = message.toString('latin1', line, Math.min(next, line + SCANNED_VALUE_LIMIT)).replace(/\r?\n$/, '');
    if (text === '') {
      close();
      return { fields, bodyStart: next };
    }
    if (text.startsWith(' ') || text.startsWith('\t')) {
      // RFC 5322 §2.2.3: unfolded into the field it continues, within the limit.
      if (current !== undefined && value.length < SCANNED_VALUE_LIMIT)
        value += text.slice(0, SCANNED_VALUE_LIMIT - value.length);
    } else {
      close();
      const match = /^content-(type|disposition|transfer-encoding|name)[ \t]*:/i.exec(text);
      const name = match?.[1]?.toLowerCase();
      const key = name === 'transfer-encoding' ? 'encoding' : (name as 'type' | 'disposition' | 'name' | undefined);
      if (key !== undefined && fields[key] === undefined) current = key;
      else if (key === 'type') current = 'types';
      else if (key === 'disposition') current = 'dispositions';
      if (current !== undefined) value = text.slice((match as RegExpExecArray)[0].length);
    }
    line = next;
  }
  close();
  return { fields, bodyStart: end };
}

function sameFields(a: ContentFields, b: ContentFields): boolean {
  return (
    a.type === b.type &&
    a.disposition === b.disposition &&
    a.encoding === b.encoding &&
    a.name === b.name &&
    sameList(a.later?.types, b.later?.types) &&
    sameList(a.later?.dispositions, b.later?.dispositions)
  );
}

function sameList(a: string[] | undefined, b: string[] | undefined): boolean {
  return (a ?? []).length === (b ?? []).length && (a ?? []).every((v, i) => v === b?.[i]);
}

/** An entity's fields read: its type at once, its disposition when a leaf needs it (and only once). */
interface Reading {
  fields: ContentFields;
  type: HeaderValue;
  disposition?: HeaderValue;
}

/** `other`: a reading of the same entity, whose Content-Type, if the same, is not parsed again. */
function readingOf(fields: ContentFields, defaultType: string, other?: Reading): Reading {
  if (other && other.fields.type === fields.type) return { fields, type: other.type };
  // RFC 2045 §5.2: a missing or unreadable Content-Type is the default.
  let type = parseHeaderValue(fields.type || defaultType);
  if (!type.value.includes('/')) type = { ...type, value: defaultType };
  // RFC 2046 §5.1.1: a multipart needs its boundary; without one its body is unreadable as parts, and
  // RFC 2045 §5.2 reads an unusable Content-Type as text/plain. The words must still reach the filters.
  if (type.value.startsWith('multipart/') && !type.params.boundary) type = PLAIN_TEXT;
  return { fields, type };
}

function leafOf(message: Buffer, bodyStart: number, end: number, reading: Reading): Leaf {
  reading.disposition ??= parseHeaderValue(reading.fields.disposition ?? '');
  return {
    message,
    bodyStart: Math.min(bodyStart, end),
    end,
    type: reading.type,
    disposition: reading.disposition,
    encoding: transferEncodingOf(reading.fields.encoding),
    contentName: reading.fields.name,
    ...(reading.fields.later && {
      later: {
        types: reading.fields.later.types.map(parseHeaderValue),
        dispositions: reading.fields.later.dispositions.map(parseHeaderValue),
      },
    }),
  };
}

const PLAIN_TEXT: HeaderValue = { value: 'text/plain', params: {}, decodedParams: [] };
const NO_DISPOSITION: HeaderValue = { value: '', params: {}, decodedParams: [] };

/** Bytes past a limit, as they are: text/plain in no declared charset, so its words and links are read. */
function rawTextLeaf(message: Buffer, start: number, end: number): Leaf {
  return {
    message,
    bodyStart: start,
    end,
    type: PLAIN_TEXT,
    disposition: NO_DISPOSITION,
    encoding: '8bit',
    contentName: undefined,
  };
}

function rawOf(leaf: Leaf): Buffer {
  return leaf.message.subarray(leaf.bodyStart, leaf.end);
}

/**
 * The decoded bytes; an unknown transfer encoding is taken as is, as readers do. The x-uuencode
 * family (uuencode.ts) is not in RFC 2045 §6 but readers decode it as they do base64; a body without a
 * begin line holds no file for them, and is taken as is.
 */
function bytesOf(leaf: Leaf): Buffer {
  const raw = rawOf(leaf);
  if (isUuencoding(leaf.encoding)) return uudecodeBody(raw)?.content ?? raw;
  return decodeTransferEncoding(raw, leaf.encoding) ?? raw;
}

/** The decoded bytes in memory of their own, not a view into the caller's message. */
function contentOf(leaf: Leaf): Uint8Array {
  const bytes = bytesOf(leaf);
  // Always a plain Uint8Array: whether a decoded Buffer came from Node's shared pool (as the message
  // may have) is chance, and the type an attachment has must not depend on it.
  return bytes.buffer === leaf.message.buffer
    ? new Uint8Array(bytes)
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The text with LF line ends, as postal-mime gave it (the filters and their tests were written
 * against that): every line of a quoted-printable or unencoded body ends in "\n", the line end
 * before a delimiter included (RFC 2046 §5.1.1 gives it to the delimiter, but a reader shows the
 * last line as a line). Base64 text keeps the line ends it carries.
 */
function textOf(leaf: Leaf): string {
  const { message, bodyStart, encoding } = leaf;
  const charset = leaf.type.params.charset;
  if (encoding === 'base64' || isUuencoding(encoding)) return decodeCharset(bytesOf(leaf), charset);
  let end = leaf.end;
  if (message[end] === 0x0d && message[end + 1] === 0x0a) end += 2;
  else if (message[end] === 0x0a) end += 1;
  const raw = message.subarray(bodyStart, end);
  const decoded = decodeTransferEncoding(raw, encoding) ?? raw;
  // CR LF to LF on the bytes where the charset keeps CR and LF as single ASCII bytes: a string
  // replace of ten million line ends (20 MB of empty lines) spent a second, mostly collecting garbage.
  const wide = charset !== undefined && /^(utf-?16|utf-?32|ucs-?2|ucs-?4)/i.test(charset);
  let text = decodeCharset(wide ? decoded : withoutCrBeforeLf(decoded), charset);
  if (wide && text.includes('\r')) text = text.replace(/\r+\n/g, '\n');
  if (text !== '' && !text.endsWith('\n')) text += '\n';
  const { format, delsp } = leaf.type.params;
  if (format?.toLowerCase() === 'flowed') text = unflow(text, delsp?.toLowerCase() === 'yes');
  return text;
}

/** The bytes without the CRs right before each LF (`/\r+\n/` → `\n`); the same bytes when there is no CR. */
function withoutCrBeforeLf(bytes: Uint8Array): Uint8Array {
  let i = bytes.indexOf(0x0d);
  if (i < 0) return bytes;
  const out = new Uint8Array(bytes.length);
  out.set(bytes.subarray(0, i));
  let o = i;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b !== 0x0d) {
      out[o++] = b;
      i++;
      continue;
    }
    let j = i;
    while (bytes[j] === 0x0d) j++;
    if (bytes[j] !== 0x0a) for (; i < j; i++) out[o++] = 0x0d; // CRs not before an LF stay
    i = j;
  }
  return out.subarray(0, o);
}

/**
 * RFC 3676 §4.2: a line ending in a space continues on the next (with DelSp=yes the space goes,
 * §4.3); a leading space is stuffing (§4.4); the signature separator "-- " is not flowed (§4.3).
 */
function unflow(text: string, delSp: boolean): string {
  if (!text.includes(' \n')) return text;
  const lines = text.split('\n');
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    if (line.startsWith(' ')) line = line.slice(1);
    const flowed = line.endsWith(' ') && line !== '-- ' && i < lines.length - 1;
    out += flowed ? (delSp ? line.slice(0, -1) : line) : i < lines.length - 1 ? `${line}\n` : line;
  }
  return out;
}
