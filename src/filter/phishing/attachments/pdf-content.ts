/**
 * What a PDF attachment says and where it links (ISO 32000-1), for the phishing detector: the text
 * its pages show with the text operators (§9.4.3 Tj, TJ, ' and "), and the targets of its URI
 * actions (§12.6.4.7). A phishing PDF is mostly one page with a lure and a link; this reads those
 * without rendering anything.
 *
 * Read: uncompressed streams and FlateDecode ones (§7.4.4), object streams first (§7.5.7, where
 * annotations and actions often sit, so that a long page cannot spend the budget before them) and the
 * objects inside them looked up by number like any other, literal and hex strings (§7.3.4), decoded with the font's ToUnicode map
 * (§9.10.3, pdf-fonts.ts) where it has one: composite fonts' two-byte codes, as cairo, browsers and
 * office suites write any text beyond Latin-1, read only that way. Not read: other filters (images,
 * LZW, ASCII85), encrypted files, and codes of a composite font without a map: such text comes out
 * as nothing, never as a guess.
 *
 * Bounded: the first 10 MB of the file, 1 MB of stream data read as text in all (inflated or not,
 * and 2 MB for all the PDFs of a message, pdfBudget()), 500 streams, 100,000 characters of text, 50
 * links; image streams are skipped. A stream that fails to inflate spends the file's budget. Never throws; a file
 * it cannot read yields whatever it read before.
 */
import { inflateSync, constants as zlibConstants } from 'node:zlib';
import { decodeShown, type ToUnicode } from './pdf-cmap.ts';
import { FLATE_ONLY, type FontMap, PdfFonts } from './pdf-fonts.ts';

export interface PdfContent {
  text: string;
  links: string[];
  /** The file asks its reader to run something on opening or on a click: a program (§12.6.4.5) or JavaScript (§12.6.4.16). */
  active?: 'launch' | 'javascript';
}

/** What readPdf found in each file it read, so that the attachment checks need not read it again. */
const read = new WeakMap<Uint8Array, PdfContent>();

/**
 * Whether a PDF launches a program or runs JavaScript: from readPdf's earlier reading of the same
 * bytes, or read now within `shared` (a PDF the message's own reading did not see, as one in an
 * attached message).
 */
export function pdfActive(bytes: Uint8Array, shared: { bytes: number }): PdfContent['active'] {
  return (read.get(bytes) ?? readPdf(bytes, shared)).active;
}

const LIMITS = { fileBytes: 10_000_000, streamBytes: 1_000_000, streams: 500, textChars: 100_000, links: 50 };

/**
 * The stream data one message's PDFs may read in all: pass the same object for each of its
 * attachments (a hundred PDFs must not each get the whole budget). Each file reads at most 1 MB of it.
 */
export function pdfBudget(): { bytes: number } {
  return { bytes: 2 * LIMITS.streamBytes };
}

export function readPdf(bytes: Uint8Array, shared: { bytes: number } = pdfBudget()): PdfContent {
  const granted = Math.max(0, Math.min(LIMITS.streamBytes, shared.bytes));
  const budget = { bytes: granted };
  try {
    const content = readWithin(bytes, budget);
    read.set(bytes, content);
    return content;
  } finally {
    shared.bytes -= granted - Math.max(budget.bytes, 0);
  }
}

function readWithin(bytes: Uint8Array, budget: { bytes: number }): PdfContent {
  const out: PdfContent = { text: '', links: [] };
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, LIMITS.fileBytes));
  if (file.toString('latin1', 0, 5) !== '%PDF-') return out;
  const source = file.toString('latin1');
  const packed = objectStreams(source, file, budget);
  const objects = lazyObjects(source, packed);
  collectLinks(source, out, objects); // link annotations sit in plain objects, or in object streams
  for (const { data } of packed) collectLinks(data, out, objects);
  const unpacked = new Set(packed.map((p) => p.start));
  const texts: string[] = [];
  let textChars = 0;
  // Fonts are looked up only in a file that has ToUnicode maps: without one, codes read as bytes.
  const fonts = source.includes('/ToUnicode') ? new PdfFonts(source, file, budget) : undefined;
  let streams = 0;
  for (const stream of streamsOf(source)) {
    if (++streams > LIMITS.streams || budget.bytes <= 0) break;
    if (unpacked.has(stream.start) || /\/Subtype\s*\/Image\b/.test(stream.dictionary)) continue;
    const filtered = /\/Filter\b/.test(stream.dictionary);
    let data: string;
    if (!filtered) {
      data = source.slice(stream.start, Math.min(stream.end, stream.start + budget.bytes));
    } else if (FLATE_ONLY.test(stream.dictionary)) {
      const inflated = inflateWithin(file, stream, budget);
      if (inflated === undefined) continue;
      data = inflated;
      collectLinks(data, out, objects);
    } else continue; // another filter, or a chain of them
    budget.bytes -= data.length;
    if (textChars >= LIMITS.textChars || !data.includes('BT')) continue;
    const shown = pageText(data, fonts?.fontsFor(stream.at, stream.dictionary));
    if (shown === '') continue;
    texts.push(shown);
    textChars += shown.length;
  }
  out.text = texts.join('\n').slice(0, LIMITS.textChars);
  return out;
}

interface Stream {
  dictionary: string;
  at: number;
  start: number;
  end: number;
}

/** §7.3.8: `<< dictionary >> stream EOL data EOL endstream`; the data's bounds without trusting /Length. */
function* streamsOf(source: string): Generator<Stream> {
  const keyword = /stream\r?\n/g;
  for (let match = keyword.exec(source); match; match = keyword.exec(source)) {
    if (source.slice(match.index - 3, match.index) === 'end') continue;
    const stream = streamAt(source, match.index, match[0].length);
    if (stream === undefined) return;
    yield stream;
    keyword.lastIndex = stream.end + 9;
  }
}

/**
 * The stream whose keyword is at `keyword`, and its dictionary: from its object's `N G obj` header
 * (§7.3.10), so that a dictionary nested in it (`/DecodeParms << … >>`) does not stand for the whole
 * one, else from the last `<<`. Looked for in the 4 KB before the keyword only, so that a file of
 * stream keywords without dictionaries costs a pass, not a pass per keyword.
 */
function streamAt(source: string, keyword: number, length: number): Stream | undefined {
  const start = keyword + length;
  const end = source.indexOf('endstream', start);
  if (end < 0) return undefined;
  const from = Math.max(0, keyword - 4096);
  const before = source.slice(from, keyword);
  let header = -1;
  // Bounded repetitions: a 4 KB run of digits must not cost a backtrack per digit.
  for (const m of before.matchAll(/(?<![0-9])\d{1,10}\s{1,8}\d{1,5}\s{1,8}obj\b/g)) header = m.index + m[0].length;
  const open = before.indexOf('<<', Math.max(header, 0));
  const last = before.lastIndexOf('<<');
  const at = header >= 0 && open >= 0 ? open : last;
  const dictionary = at < 0 ? '' : before.slice(at);
  return { dictionary, at: at < 0 ? keyword : from + at, start, end };
}

/**
 * A FlateDecode stream's data within the budget, which the caller charges; undefined when it fails.
 * A stream cut short gives what it inflated (Z_SYNC_FLUSH).
 */
function inflateWithin(file: Buffer, stream: Stream, budget: { bytes: number }): string | undefined {
  try {
    return inflateSync(file.subarray(stream.start, stream.end), {
      maxOutputLength: budget.bytes,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
    }).toString('latin1');
  } catch {
    // Over the budget, or corrupt after inflating who knows how much: the budget is spent, so a
    // file of many such streams costs one budget, not one per stream.
    budget.bytes = 0;
    return undefined;
  }
}

/** An object stream's data (§7.5.7): N pairs of (object number, offset), the objects from /First on. */
interface Packed {
  start: number;
  data: string;
  dictionary: string;
}

/**
 * The object streams (§7.5.7, `/Type /ObjStm`), found by their type and read before any other
 * stream, within the same budget: the annotations, actions and strings inside them are what a link
 * or an /OpenAction points at. At most LIMITS.streams of them.
 */
function objectStreams(source: string, file: Buffer, budget: { bytes: number }): Packed[] {
  const packed: Packed[] = [];
  const type = /\/Type\s{0,8}\/ObjStm\b/g;
  // Each look costs at most 4 KB: a file of "/Type /ObjStm" decoys costs a bounded number of them.
  for (let looks = 0; looks < 10 * LIMITS.streams && packed.length < LIMITS.streams && budget.bytes > 0; looks++) {
    const m = type.exec(source);
    if (!m) break;
    // Its own stream: the first keyword after the type, within the dictionary's reach.
    const found = /(?:end)?stream\r?\n/.exec(source.slice(m.index, m.index + 4096));
    if (!found || found[0].startsWith('end')) continue;
    const stream = streamAt(source, m.index + found.index, found[0].length);
    if (stream === undefined) break; // no "endstream" after here: none after any later type either
    type.lastIndex = stream.end; // a type inside the stream's data is data
    let data: string | undefined;
    if (!/\/Filter\b/.test(stream.dictionary))
      data = source.slice(stream.start, Math.min(stream.end, stream.start + budget.bytes));
    else if (FLATE_ONLY.test(stream.dictionary)) data = inflateWithin(file, stream, budget);
    if (data === undefined) continue;
    budget.bytes -= data.length;
    packed.push({ start: stream.start, data, dictionary: stream.dictionary });
  }
  return packed;
}

/**
 * Indirect objects looked up by number (§7.3.10), indexed on the first lookup: those in the file, in
 * one pass over it, and those in its object streams (§7.5.7, N pairs of object number and offset,
 * the objects from /First on), up to MAX_INDEXED numbers. The first MAX_CANDIDATES objects of a
 * number are given, in the file first: which one a reader takes depends on the cross-reference data,
 * which is not read, so a decoy of the same number does not hide the one that is used.
 */
type Objects = (number: number) => string[];

const MAX_INDEXED = 50_000;
const MAX_CANDIDATES = 4;

function lazyObjects(source: string, packed: readonly Packed[]): Objects {
  let index: Map<number, { text: string; at: number }[]> | undefined;
  const build = (): Map<number, { text: string; at: number }[]> => {
    const built = new Map<number, { text: string; at: number }[]>();
    const add = (number: number, text: string, at: number) => {
      const had = built.get(number);
      if (had) {
        if (had.length < MAX_CANDIDATES) had.push({ text, at });
      } else if (built.size < MAX_INDEXED) built.set(number, [{ text, at }]);
    };
    for (const m of source.matchAll(/(?<![0-9])(\d{1,10})\s+\d{1,5}\s+obj\b/g))
      add(Number(m[1]), source, m.index + m[0].length);
    for (const { data, dictionary } of packed) {
      const count = Number(/\/N\s+(\d{1,10})/.exec(dictionary)?.[1]);
      const first = Number(/\/First\s+(\d{1,10})/.exec(dictionary)?.[1]);
      if (!Number.isSafeInteger(count) || !Number.isSafeInteger(first) || first > data.length) continue;
      const pairs = data
        .slice(0, first)
        .trim()
        .split(/\s+/, 2 * Math.min(count, MAX_INDEXED))
        .map(Number);
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const [number, offset] = [pairs[i]!, pairs[i + 1]!];
        if (Number.isSafeInteger(number) && Number.isSafeInteger(offset)) add(number, data, first + offset);
      }
    }
    return built;
  };
  return (number) => {
    index ??= build();
    return (index.get(number) ?? []).map(({ text, at }) => text.slice(at, at + 4096));
  };
}

/** §7.3.5: a name's `#xx` escapes written out, so `/U#52I` reads as `/URI`; other text as it is. */
function plainNames(chunk: string): string {
  if (!chunk.includes('#')) return chunk;
  return chunk.replace(/\/[^\s/<>[\]()%{}]*#[0-9A-Fa-f]{2}[^\s/<>[\]()%{}]*/g, (name) =>
    name.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
  );
}

/**
 * §12.6.4.7 `/URI (target)`, `/URI <hex>` or `/URI 4 0 R` (the string in an object of its own): the
 * targets of the file's link actions, and the URLs its JavaScript opens with app.launchURL (Acrobat
 * JavaScript API). Notes a Launch action (§12.6.4.5) or JavaScript (§12.6.4.16, a /JS entry or a
 * JavaScript name tree) in `out.active`.
 */
function collectLinks(raw: string, out: PdfContent, objects: Objects): void {
  const chunk = plainNames(raw);
  const links = out.links;
  const add = (value: string | undefined) => {
    const target = value?.trim() ?? '';
    if (links.length < LIMITS.links && /^[\x21-\x7e]+$/.test(target) && !links.includes(target)) links.push(target);
  };
  const uri = /\/URI\s*(?:([(<])|(\d{1,10})\s+\d{1,5}\s+R\b)/g;
  let indirect = 0;
  for (let match = uri.exec(chunk); match && links.length < LIMITS.links; match = uri.exec(chunk)) {
    if (match[2] !== undefined) {
      // Bounded: each lookup reads 4 KB of an object, and a file gets as many as it has links.
      if (++indirect > LIMITS.links) continue;
      for (const candidate of objects(Number(match[2]))) {
        const object = candidate.trimStart();
        const value = object.startsWith('(')
          ? literalString(object, 1)
          : object.startsWith('<')
            ? hexString(object, 1)
            : undefined;
        add(value?.value);
      }
      continue;
    }
    const read =
      match[1] === '(' ? literalString(chunk, match.index + match[0].length) : hexString(chunk, uri.lastIndex);
    if (!read) break; // unterminated to the end: reading on would cost a pass per /URI left
    add(read.value);
    uri.lastIndex = read.next;
  }
  if (/\/S\s*\/Launch\b|\/Launch\s*<</.test(chunk)) out.active = 'launch';
  else if (out.active === undefined && activeScript(chunk, objects)) out.active = 'javascript';
  // In a literal string a script's parentheses may be escaped (§7.3.4.2): app.launchURL\("…"\).
  for (const m of chunk.matchAll(/app\.launchURL\s*\\?\(\s*(["'])([\x21-\x7e]{1,2000}?)\1/g)) {
    if (links.length >= LIMITS.links) break;
    add(m[2]);
  }
}

/**
 * The JavaScript of a chunk that counts as active: any script (§12.6.4.16) but one that only calls
 * Acrobat's built-in field formatting functions, which a fillable form's text fields carry in their
 * additional actions (§12.6.3 Table 196 /K /F /V /C: `AFNumber_Format(2, 0, 0, 0, "", true);`)
 * and which do nothing but format, check or sum the form's own fields. A document-level script (the
 * JavaScript name tree, §7.7.4 Table 31) or one run on opening (/OpenAction, §12.3.2 Table 28)
 * counts whatever it calls, as does a script kept in a stream, which is not read.
 */
function activeScript(chunk: string, objects: Objects): boolean {
  if (/\/JavaScript\s*(?:<<|\d)/.test(chunk)) return true; // the name tree
  if (/\/OpenAction\s*<<(?:[^>]|>(?!>)){0,400}?\/(?:S\s*\/JavaScript\b|JS\b)/.test(chunk)) return true;
  let lookups = 0;
  for (const m of chunk.matchAll(/\/OpenAction\s*(\d{1,10})\s+\d{1,5}\s+R\b/g)) {
    if (++lookups > LIMITS.links) return true; // more than a file has: not read, so not taken as inert
    if (objects(Number(m[1])).some((o) => /\/S\s*\/JavaScript\b|\/JS\s*[(<\d]/.test(plainNames(o)))) return true;
  }
  const js = /\/JS(?![\w.+-])\s*(?:(\()|<(?!<)|(\d{1,10})\s+\d{1,5}\s+R\b)?/g;
  let scripts = 0;
  for (let match = js.exec(chunk); match; match = js.exec(chunk)) {
    scripts++;
    let read: { value: string | undefined; next: number } | undefined;
    if (match[1] !== undefined) read = literalString(chunk, js.lastIndex);
    else if (match[2] !== undefined) {
      if (++lookups > LIMITS.links) return true;
      const object = objects(Number(match[2]))[0]?.trimStart() ?? '';
      // A string object of its own (§7.3.10); a stream's script is not read: active.
      read = object.startsWith('(')
        ? literalString(object, 1)
        : /^<(?!<)/.test(object)
          ? hexString(object, 1)
          : undefined;
      if (!inertScript(read?.value)) return true;
      continue;
    } else if (match[0].endsWith('<')) read = hexString(chunk, js.lastIndex);
    if (!inertScript(read?.value)) return true;
    js.lastIndex = read!.next;
  }
  // An action of type JavaScript whose script was not found (written otherwise than we read it).
  return scripts === 0 && /\/S\s*\/JavaScript\b/.test(chunk);
}

/** Acrobat's form functions (AForm.js in the Acrobat SDK's JavaScript for Acrobat API Reference) that only format, check or sum fields. */
const AF_FUNCTION =
  'AF(?:(?:Number|Percent|Date|Time|Special)_(?:Format|Keystroke)(?:Ex)?|Simple_Calculate|Range_Validate)';
const AF_LITERAL = String.raw`(?:-?(?:\d+(?:\.\d*)?|\.\d+)|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|true|false|null)`;
const AF_LIST = String.raw`(?:\s*${AF_LITERAL}\s*(?:,\s*${AF_LITERAL}\s*)*)?`;
const AF_ARGUMENT = String.raw`(?:${AF_LITERAL}|new\s+Array\s*\(${AF_LIST}\)|\[${AF_LIST}\])`;
const AF_CALL = String.raw`${AF_FUNCTION}\s*\(\s*(?:${AF_ARGUMENT}\s*(?:,\s*${AF_ARGUMENT}\s*)*)?\)`;
/** Nothing but calls of those functions with literal arguments: `AFSimple_Calculate("SUM", new Array("a", "b"));`. */
const AF_ONLY = new RegExp(String.raw`^\s*(?:${AF_CALL}\s*(?:;\s*)?)+$`);
/** Acrobat's own form scripts are a line or two; a longer script is not taken as one (and bounds the match). */
const AF_MAX_LENGTH = 2000;

/** A script of only Acrobat's form functions; a text string in UTF-16BE (§7.9.2.2, its byte order mark) is decoded first. */
function inertScript(script: string | undefined): boolean {
  if (script === undefined) return false;
  let text = script;
  if (text.startsWith('\xfe\xff')) {
    const bytes = Buffer.from(text.slice(2), 'latin1');
    if (bytes.length % 2 === 1) return false;
    text = bytes.swap16().toString('utf16le');
  }
  return text.length <= AF_MAX_LENGTH && AF_ONLY.test(text);
}

/**
 * §9.4.3: the strings shown by Tj, ' and " and the string parts of TJ arrays, a line per text line
 * (T*, Td, TD, Tm, ' and " start one; ET ends the object). Other operators drop their operands.
 * `/Name size Tf` (§9.3.1) selects the font whose ToUnicode map, if `fonts` has one, reads the codes.
 */
function pageText(chunk: string, fonts: FontMap | undefined): string {
  const lines: string[] = [];
  let line = '';
  let operands: string[] = [];
  let name = '';
  let numbers: number[] = [];
  let font: ToUnicode | undefined;
  let inArray = false;
  const show = (value: string) => (font ? decodeShown(font, value).replace(/[\x00-\x1f]/g, ' ') : readable(value));
  const newLine = () => {
    if (line.trim() !== '') lines.push(line.trim().replace(/ {2,}/g, ' '));
    line = '';
  };
  for (let i = 0; i < chunk.length; ) {
    const c = chunk[i] as string;
    if (c === '(') {
      const read = literalString(chunk, i + 1);
      if (!read) break;
      operands.push(read.value);
      i = read.next;
    } else if (c === '<') {
      if (chunk[i + 1] === '<') {
        i += 2; // a dictionary, as in marked content (/P <</MCID 0>> BDC) or an inline image
        continue;
      }
      const read = hexString(chunk, i + 1);
      if (!read) break;
      if (read.value !== undefined) operands.push(read.value);
      i = read.next;
    } else if (c === '[') {
      inArray = true;
      i++;
    } else if (c === ']') {
      inArray = false;
      i++;
    } else if (c === '%') {
      const eol = chunk.indexOf('\n', i);
      i = eol < 0 ? chunk.length : eol + 1; // §7.2.3 comment
    } else if (/[0-9+\-.]/.test(c)) {
      // §7.3.3 a number: kept for Td, whose vertical move tells a new line from a gap in one
      let j = i + 1;
      while (j < chunk.length && /[0-9.]/.test(chunk[j] as string)) j++;
      numbers.push(Number(chunk.slice(i, j)));
      i = j;
    } else if (c === '/') {
      // §7.3.5 a name, up to white space or a delimiter; not an operator
      let j = i + 1;
      while (j < chunk.length && !/[\s/<>[\]()%{}]/.test(chunk[j] as string)) j++;
      name = chunk.slice(i + 1, j);
      i = j;
    } else if (isOperatorStart(chunk.charCodeAt(i))) {
      let j = i + 1;
      while (j < chunk.length && isOperatorPart(chunk.charCodeAt(j))) j++;
      const operator = chunk.slice(i, j);
      i = j;
      if (inArray) continue; // names inside an array are not operators
      if (operator === 'Td' || operator === 'TD') {
        // A move along the line (writers place words one by one this way) is a space, not a line.
        if (numbers.length >= 2 && numbers.at(-1) === 0) line += line.endsWith(' ') ? '' : ' ';
        else newLine();
      }
      if (operator === "'" || operator === '"' || operator === 'T*' || operator === 'Tm' || operator === 'ET')
        newLine();
      if (operator === 'Tf') font = fonts?.get(name);
      else if (operator === 'Tj' || operator === "'" || operator === '"') line += show(operands.at(-1) ?? '');
      else if (operator === 'TJ') line += operands.map(show).join('');
      operands = [];
      numbers = [];
    } else i++;
  }
  newLine();
  return lines.join('\n');
}

const isLetter = (code: number) => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
const isOperatorPart = (code: number) => isLetter(code) || code === 0x2a; // "*" as in T*
const isOperatorStart = (code: number) => isOperatorPart(code) || code === 0x27 || code === 0x22; // ' and "

/** A shown string as text: one byte per character (the simple fonts' encodings are ASCII-compatible); not one of two-byte codes. */
function readable(value: string): string {
  let controls = 0;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) controls++;
  return controls > value.length / 4 ? '' : value.replace(/[\x00-\x1f]/g, ' ');
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '(': '(', ')': ')', '\\': '\\' };

/** §7.3.4.2: a literal string from after its "(": balanced parentheses, escapes, octal codes. */
function literalString(chunk: string, from: number): { value: string; next: number } | undefined {
  let depth = 1;
  let value = '';
  for (let i = from; i < chunk.length; i++) {
    const c = chunk[i] as string;
    if (c === '\\') {
      const e = chunk[i + 1] ?? '';
      if (e in ESCAPES) {
        value += ESCAPES[e];
        i++;
      } else if (/[0-7]/.test(e)) {
        const octal = /^[0-7]{1,3}/.exec(chunk.slice(i + 1, i + 4))?.[0] ?? '';
        value += String.fromCharCode(Number.parseInt(octal, 8) & 0xff);
        i += octal.length;
      } else if (e === '\r' || e === '\n') {
        i += e === '\r' && chunk[i + 2] === '\n' ? 2 : 1; // a line continuation
      }
      // Otherwise an unknown escape: the backslash is ignored and the character read as it is (§7.3.4.2).
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return { value, next: i + 1 };
    value += c;
  }
  return undefined;
}

/**
 * §7.3.4.3: a hex string from after its "<": pairs of hex digits, white space ignored, a lone last
 * digit padded with 0. Undefined when no ">" follows; `value` undefined when what it encloses is not hex.
 */
function hexString(chunk: string, from: number): { value: string | undefined; next: number } | undefined {
  const end = chunk.indexOf('>', from);
  if (end < 0) return undefined;
  const digits = chunk.slice(from, end).replace(/\s+/g, '');
  if (!/^[0-9A-Fa-f]*$/.test(digits)) return { value: undefined, next: end + 1 };
  const padded = digits.length % 2 === 1 ? `${digits}0` : digits;
  return { value: Buffer.from(padded, 'hex').toString('latin1'), next: end + 1 };
}
