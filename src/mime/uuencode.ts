/**
 * uuencode, the format that carried files in mail before MIME and that some mailers still write,
 * as POSIX.1-2017 (uuencode, "Historical Algorithm") describes it: a line `begin <mode> <name>`, lines
 * that each open with a character giving their length, four characters for three bytes, and a line
 * `end`. Readers show such a block as a file: Thunderbird splits it out of a text/plain body
 * (mimeunty.cpp) and decodes parts whose Content-Transfer-Encoding is x-uuencode (mimeenc.cpp), so
 * the attachment checks must see the file, its name and its bytes.
 *
 * Everything here is one pass over the lines with indexOf, no regular expression over the body.
 */

export interface UuFile {
  /** The name on the begin line, as written (the rest of the line after the mode). */
  name: string;
  content: Buffer;
}

/**
 * The transfer encodings readers decode as uuencode (Thunderbird's ENCODING_UUENCODE…4, nsMimeTypes.h):
 * RFC 2045 §6.4 registers none of them, so they are the "x-" names and two older spellings.
 */
const UUENCODINGS = new Set(['x-uuencode', 'x-uue', 'uuencode', 'uue']);

export function isUuencoding(encoding: string): boolean {
  return UUENCODINGS.has(encoding);
}

/** What the files of one message may still take: files, and decoded bytes (shared across its parts). */
export interface UuBudget {
  files: number;
  bytes: number;
}

const BEGIN = 'begin ';

/**
 * The uuencoded files in a text body, up to `maxFiles` and within `budget`, which they spend; a block
 * without its end line runs to the end of the text, as Thunderbird reads it. The text keeps the blocks.
 */
export function uuFiles(text: string, maxFiles: number, budget: UuBudget): UuFile[] {
  const files: UuFile[] = [];
  let from = 0;
  while (files.length < maxFiles && budget.files > 0) {
    const begin = findBegin(text, from);
    if (begin === undefined) break;
    const block = decodeBlock(text, begin.dataStart, budget.bytes);
    budget.files--;
    budget.bytes -= block.content.length;
    files.push({ name: begin.name, content: block.content });
    from = block.next;
  }
  return files;
}

/**
 * The file a body in an x-uuencode transfer encoding holds: the first block, lines before its begin
 * line skipped, as Thunderbird's decoder skips them; undefined when there is no begin line. Its bytes
 * are at most the body's length (a line may declare more bytes than it carries: see decodeBlock).
 */
export function uudecodeBody(body: Buffer): UuFile | undefined {
  const text = body.toString('latin1');
  const begin = findBegin(text, 0);
  if (begin === undefined) return undefined;
  return { name: nameOf(begin.name), content: decodeBlock(text, begin.dataStart, text.length).content };
}

/** The bytes of a name read one character a byte: UTF-8 when they are, else Latin-1 as they were read. */
function nameOf(latin1: string): string {
  if (/^[\x00-\x7f]*$/.test(latin1)) return latin1;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return latin1;
  }
}

/** The next begin line at or after `from`: its name and where the line after it starts. */
function findBegin(text: string, from: number): { name: string; dataStart: number } | undefined {
  for (let at = text.indexOf(BEGIN, from); at >= 0; at = text.indexOf(BEGIN, at + BEGIN.length)) {
    if (at > 0 && text.charCodeAt(at - 1) !== LF) continue; // at the start of a line only
    const lineEnd = endOfLine(text, at);
    const name = beginName(text, at + BEGIN.length, lineEnd);
    if (name !== undefined) return { name, dataStart: Math.min(lineEnd + 1, text.length) };
  }
  return undefined;
}

const LF = 0x0a;
const CR = 0x0d;

function endOfLine(text: string, at: number): number {
  const lineEnd = text.indexOf('\n', at);
  return lineEnd < 0 ? text.length : lineEnd;
}

/**
 * The name on a begin line, from past "begin ": the mode as 3 or 4 octal digits (POSIX writes it with
 * "%o"), a space, then the name, the rest of the line; undefined when the line is not one.
 */
function beginName(text: string, at: number, lineEnd: number): string | undefined {
  let i = at;
  while (i < lineEnd && text[i] === ' ') i++;
  const digits = i;
  while (i < lineEnd && text[i]! >= '0' && text[i]! <= '7') i++;
  if (i - digits < 3 || i - digits > 4 || text[i] !== ' ') return undefined;
  while (i < lineEnd && text[i] === ' ') i++;
  const end = text.charCodeAt(lineEnd - 1) === CR ? lineEnd - 1 : lineEnd;
  return i < end ? text.slice(i, end) : undefined;
}

/**
 * The bytes of the lines from `start` to the line `end` (or to the end of the text), and where the
 * text after the block starts. A line gives (first character − 32) mod 64 bytes; characters a line
 * lacks (encoders and mail relays drop trailing spaces, which encode zeros) read as zeros. At most
 * `limit` bytes, and never more than the block has characters: "M" alone declares 45 bytes, and a body
 * of such lines must not grow twenty-fold.
 */
function decodeBlock(text: string, start: number, limit: number): { content: Buffer; next: number } {
  // First pass: where the block ends, and how many bytes its lines declare.
  let declared = 0;
  let stop = text.length;
  let next = text.length;
  for (let line = start; line < text.length; ) {
    const lineEnd = endOfLine(text, line);
    if (isEndLine(text, line, lineEnd)) {
      stop = line;
      next = Math.min(lineEnd + 1, text.length);
      break;
    }
    if (lineEnd > line && text.charCodeAt(line) !== CR) declared += (text.charCodeAt(line) - 32) & 63;
    line = lineEnd + 1;
  }
  const out = Buffer.alloc(Math.max(0, Math.min(declared, stop - start, limit)));
  let o = 0;
  for (let line = start; line < stop && o < out.length; ) {
    let lineEnd = endOfLine(text, line);
    const next = lineEnd + 1;
    if (text.charCodeAt(lineEnd - 1) === CR) lineEnd--;
    if (lineEnd > line) {
      const count = (text.charCodeAt(line) - 32) & 63;
      for (let n = 0, p = line + 1; n < count && o < out.length; n += 3, p += 4) {
        const c0 = p < lineEnd ? (text.charCodeAt(p) - 32) & 63 : 0;
        const c1 = p + 1 < lineEnd ? (text.charCodeAt(p + 1) - 32) & 63 : 0;
        const c2 = p + 2 < lineEnd ? (text.charCodeAt(p + 2) - 32) & 63 : 0;
        const c3 = p + 3 < lineEnd ? (text.charCodeAt(p + 3) - 32) & 63 : 0;
        out[o++] = (c0 << 2) | (c1 >> 4);
        if (n + 1 < count && o < out.length) out[o++] = ((c1 & 15) << 4) | (c2 >> 2);
        if (n + 2 < count && o < out.length) out[o++] = ((c2 & 3) << 6) | c3;
      }
    }
    line = next;
  }
  return { content: out.subarray(0, o), next };
}

/** "end", trailing white space allowed (a relay may pad, a CR may stay). */
function isEndLine(text: string, line: number, lineEnd: number): boolean {
  if (!text.startsWith('end', line)) return false;
  for (let i = line + 3; i < lineEnd; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}
